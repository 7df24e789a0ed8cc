//! One test per attack listed in docs/FORMAT.md, each asserting its specific error.

mod common;

use coco_seal::{Header, SealError, SealedFile, UnsealOptions, inspect, unseal_file};
use common::*;

/// A 3-chunk sealed file and its plaintext.
fn sample() -> (coco_seal::Dek, Vec<u8>, Vec<u8>) {
    let dek = key(0x11);
    let data = plaintext(2 * C + 1000, 5);
    let sealed = seal(&dek, &data);
    (dek, data, sealed)
}

fn offsets(sealed: &[u8]) -> (u64, u64) {
    let i = inspect(sealed).unwrap();
    (i.layout.tag_table_offset, i.layout.data_offset)
}

fn open(sealed: Vec<u8>, dek: &coco_seal::Dek) -> Result<SealedFile<Vec<u8>>, SealError> {
    SealedFile::open(sealed, dek)
}

/// Opens, then reads everything: the first error either step reports.
fn read_all(sealed: Vec<u8>, dek: &coco_seal::Dek) -> Result<Vec<u8>, SealError> {
    let f = open(sealed, dek)?;
    let mut out = vec![0u8; f.plaintext_len() as usize];
    f.unseal_into(&mut out, &UnsealOptions::default())?;
    Ok(out)
}

#[test]
fn flipped_data_byte() {
    let (dek, data, mut s) = sample();
    let (_, d) = offsets(&s);
    s[d as usize + C + 17] ^= 0x01;
    let f = open(s, &dek).expect("only chunk 1 is damaged; open verifies the last chunk");
    let mut buf = vec![0u8; 100];
    assert_eq!(f.read_at(0, &mut buf).unwrap(), 100);
    assert_eq!(buf, data[..100]);
    let err = f.read_at(C as u64 + 10, &mut buf).unwrap_err();
    assert!(
        matches!(err, SealError::Tampered { chunk: Some(1) }),
        "{err}"
    );
    assert!(
        buf.iter().all(|&b| b == 0),
        "no partial plaintext on failure"
    );
    let mut all = vec![0u8; data.len()];
    let err = f
        .unseal_into(&mut all, &UnsealOptions::default())
        .unwrap_err();
    assert!(matches!(err, SealError::Tampered { chunk: Some(1) }));
    assert!(
        all.iter().all(|&b| b == 0),
        "no partial plaintext on failure"
    );
}

#[test]
fn flipped_tag() {
    let (dek, _, mut s) = sample();
    let (t, _) = offsets(&s);
    s[t as usize + 3] ^= 0x80; // tag of chunk 0
    assert!(matches!(
        read_all(s, &dek),
        Err(SealError::Tampered { chunk: Some(0) })
    ));
}

#[test]
fn flipped_final_tag_fails_on_open() {
    let (dek, _, mut s) = sample();
    let (t, _) = offsets(&s);
    s[t as usize + 16 * 2] ^= 1;
    assert!(matches!(
        open(s, &dek),
        Err(SealError::Tampered { chunk: Some(2) })
    ));
}

#[test]
fn empty_file_is_authenticated_too() {
    let dek = key(1);
    let mut s = seal(&dek, &[]);
    let (t, _) = offsets(&s);
    open(s.clone(), &dek).unwrap();
    s[t as usize] ^= 1;
    assert!(matches!(
        open(s, &dek),
        Err(SealError::Tampered { chunk: Some(0) })
    ));
}

#[test]
fn truncation_at_a_chunk_boundary() {
    let (dek, _, mut s) = sample();
    let (_, d) = offsets(&s);
    let full = s.len() as u64;
    s.truncate(d as usize + 2 * C);
    let err = open(s, &dek).unwrap_err();
    assert!(
        matches!(err, SealError::Truncated { expected, found } if expected == full && found == d + 2 * C as u64),
        "{err}"
    );
}

#[test]
fn truncation_inside_a_chunk() {
    let (dek, _, mut s) = sample();
    s.pop();
    assert!(matches!(open(s, &dek), Err(SealError::Truncated { .. })));
}

#[test]
fn truncation_inside_the_header_and_tag_table() {
    let (dek, _, s) = sample();
    let (t, _) = offsets(&s);
    for cut in [0usize, 5, 40, t as usize - 1, t as usize + 8] {
        let err = open(s[..cut].to_vec(), &dek).unwrap_err();
        assert!(
            matches!(err, SealError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn one_byte_appended() {
    let (dek, _, mut s) = sample();
    s.push(0);
    assert!(matches!(open(s, &dek), Err(SealError::Extended { .. })));
}

#[test]
fn chunks_swapped_with_their_tags() {
    let (dek, _, mut s) = sample();
    let (t, d) = offsets(&s);
    let (t, d) = (t as usize, d as usize);
    let (c0, c1) = (d..d + C, d + C..d + 2 * C);
    let chunk0 = s[c0.clone()].to_vec();
    s.copy_within(c1.clone(), c0.start);
    s[c1].copy_from_slice(&chunk0);
    let tag0 = s[t..t + 16].to_vec();
    s.copy_within(t + 16..t + 32, t);
    s[t + 16..t + 32].copy_from_slice(&tag0);
    assert!(matches!(
        read_all(s, &dek),
        Err(SealError::Tampered { chunk: Some(0) })
    ));
}

#[test]
fn chunk_and_tag_spliced_from_another_file_under_the_same_key() {
    let (dek, data, mut s) = sample();
    let other = seal(&dek, &data); // same key and plaintext, different salt
    let (t, d) = offsets(&s);
    let (t, d) = (t as usize, d as usize);
    s[d + C..d + 2 * C].copy_from_slice(&other[d + C..d + 2 * C]);
    s[t + 16..t + 32].copy_from_slice(&other[t + 16..t + 32]);
    assert!(matches!(
        read_all(s, &dek),
        Err(SealError::Tampered { chunk: Some(1) })
    ));
}

#[test]
fn wrong_key() {
    let (_, _, s) = sample();
    assert!(matches!(open(s, &key(0x12)), Err(SealError::WrongKey)));
}

#[test]
fn unseal_file_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (dek, _, mut s) = sample();
    let (_, d) = offsets(&s);
    s[d as usize + 5] ^= 1;
    let (sp, out) = (dir.path().join("s.coco"), dir.path().join("out"));
    std::fs::write(&sp, &s).unwrap();
    let err = unseal_file(&dek, &sp, &out, &UnsealOptions::default()).unwrap_err();
    assert!(matches!(err, SealError::Tampered { chunk: Some(0) }));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the input remains"
    );
    let err = unseal_file(&key(9), &sp, &out, &UnsealOptions::default()).unwrap_err();
    assert!(matches!(err, SealError::WrongKey));
    assert!(!out.exists());
}

fn edited(s: &[u8], offset: usize, bytes: &[u8]) -> Vec<u8> {
    let mut s = s.to_vec();
    s[offset..offset + bytes.len()].copy_from_slice(bytes);
    s
}

fn malformed_field(err: &SealError) -> &'static str {
    match err {
        SealError::Malformed { field, .. } => field,
        other => panic!("expected Malformed, got {other}"),
    }
}

#[test]
fn each_header_field_edited() {
    let (dek, _, s) = sample();
    let h = Header::parse(&s).unwrap();
    let (t, d) = offsets(&s);
    let k = h.key_id().len();
    let field = |o: usize, b: &[u8]| open(edited(&s, o, b), &dek).unwrap_err();

    assert_eq!(malformed_field(&field(0, b"X")), "magic");
    assert!(matches!(
        field(8, &2u16.to_le_bytes()),
        SealError::UnsupportedVersion(2)
    ));
    assert!(matches!(
        field(10, &2u16.to_le_bytes()),
        SealError::UnsupportedSuite(2)
    ));
    assert_eq!(malformed_field(&field(12, &[15])), "chunk_log2");
    assert_eq!(malformed_field(&field(12, &[25])), "chunk_log2");
    // A valid but different chunk size changes the chunk count.
    assert_eq!(malformed_field(&field(12, &[17])), "n_chunks");
    assert_eq!(malformed_field(&field(13, &[1])), "flags");
    assert_eq!(malformed_field(&field(14, &[0, 1])), "reserved");
    // plaintext_len: within the same chunk count the exact file size catches it ...
    let len = h.plaintext_len();
    assert!(matches!(
        field(16, &(len - 1).to_le_bytes()),
        SealError::Extended { .. }
    ));
    assert!(matches!(
        field(16, &(len + 1).to_le_bytes()),
        SealError::Truncated { .. }
    ));
    // ... across chunk counts the chunk count does.
    assert_eq!(
        malformed_field(&field(16, &(len + C as u64).to_le_bytes())),
        "n_chunks"
    );
    assert_eq!(malformed_field(&field(24, &4u64.to_le_bytes())), "n_chunks");
    assert!(
        matches!(
            field(32, &[s[32] ^ 0xFF]),
            SealError::Tampered { chunk: None }
        ),
        "salt"
    );
    // The key check names the key: editing it reads as a different key.
    assert!(
        matches!(field(64, &[s[64] ^ 0xFF]), SealError::WrongKey),
        "key_check"
    );
    assert_eq!(
        malformed_field(&field(80, &300u16.to_le_bytes())),
        "key_id_len"
    );
    assert_eq!(
        malformed_field(&field(82, &0u16.to_le_bytes())),
        "metadata_len"
    );
    // key_id_len 1 shorter: the metadata then starts one byte early and is not one CBOR map.
    assert_eq!(
        malformed_field(&field(80, &((k - 1) as u16).to_le_bytes())),
        "metadata"
    );
    assert!(
        matches!(field(84, b"X"), SealError::Tampered { chunk: None }),
        "key_id"
    );
    assert_eq!(malformed_field(&field(84 + 3, &[0xFF])), "key_id");
    // A metadata edit that stays valid CBOR: change one letter of a text value.
    let m = 84 + k;
    let pos = s[m..t as usize]
        .windows(5)
        .position(|w| w == b"model")
        .unwrap();
    assert!(
        matches!(field(m + pos, b"M"), SealError::Tampered { chunk: None }),
        "metadata"
    );
    let commit = t as usize - 32;
    assert!(matches!(
        field(commit, &[s[commit] ^ 1]),
        SealError::Tampered { chunk: None }
    ));
    // Padding between metadata and commitment (present for this key id).
    let meta_len = u16::from_le_bytes([s[82], s[83]]) as usize;
    let pad = 84 + k + meta_len;
    assert!(pad < commit, "the sample has header padding");
    assert_eq!(malformed_field(&field(pad, &[1])), "padding");
    // The gap between the tag table and the data.
    assert_eq!(malformed_field(&field(d as usize - 1, &[1])), "gap");
}

#[test]
fn not_a_sealed_file() {
    let dek = key(1);
    assert_eq!(
        malformed_field(&open(b"hello, world, not sealed".to_vec(), &dek).unwrap_err()),
        "magic"
    );
    assert!(matches!(
        open(b"COCO".to_vec(), &dek),
        Err(SealError::Truncated { .. })
    ));
}
