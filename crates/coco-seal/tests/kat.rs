//! Known answers: the sealed format (checked-in file, fixed DEK and salt) and the AES-256-GCM-SIV
//! primitive (RFC 8452 Appendix C.2).

mod common;

use std::path::PathBuf;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use coco_seal::{Dek, Metadata, SealOptions, SealedFile, UnsealOptions};
use common::*;

fn kat_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/kat-v1.coco")
}

fn kat_dek() -> Dek {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    Dek::from_bytes(k)
}

fn kat_plaintext() -> Vec<u8> {
    // Two full 64 KiB chunks and a short one.
    (0..(2 * C + 1000)).map(|i| (i % 251) as u8).collect()
}

fn kat_options() -> SealOptions {
    SealOptions {
        chunk_log2: 16,
        key_id: "kbs:///coco/kat/dek-1".into(),
        metadata: Metadata {
            model_id: Some("coco/kat@1".into()),
            shard_name: Some("kat.bin".into()),
            shard_index: Some(0),
            content_type: Some("application/octet-stream".into()),
        },
        threads: 1,
        salt: Some([0x5A; 32]),
        ..SealOptions::default()
    }
}

#[test]
fn sealing_the_kat_input_reproduces_the_checked_in_file_byte_for_byte() {
    let expected = std::fs::read(kat_path()).expect("tests/data/kat-v1.coco is checked in");
    let (sealed, summary) = seal_with(&kat_dek(), &kat_plaintext(), kat_options());
    assert_eq!(sealed.len(), expected.len());
    assert!(
        sealed == expected,
        "the sealed format drifted from the known-answer file"
    );
    assert_eq!(
        summary.header_sha256.to_string(),
        coco_core::Sha256Digest::of(
            &expected[..summary.header.layout().unwrap().header_len as usize]
        )
        .to_string()
    );
}

#[test]
fn the_checked_in_file_opens_and_decrypts() {
    let f = SealedFile::open_path(&kat_path(), &kat_dek()).unwrap();
    assert_eq!(f.header().key_id(), "kbs:///coco/kat/dek-1");
    assert_eq!(
        f.header().metadata().model_id.as_deref(),
        Some("coco/kat@1")
    );
    assert_eq!(f.layout().data_offset, 4096);
    let mut out = vec![0u8; f.plaintext_len() as usize];
    f.unseal_into(&mut out, &UnsealOptions::default()).unwrap();
    assert_eq!(out, kat_plaintext());
}

/// Writes the known-answer file. Run only on a deliberate format change (a new version):
/// `cargo test -p coco-seal --test kat -- --ignored regenerate`.
#[test]
#[ignore]
fn regenerate() {
    let (sealed, _) = seal_with(&kat_dek(), &kat_plaintext(), kat_options());
    std::fs::write(kat_path(), sealed).unwrap();
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// RFC 8452 Appendix C.2 (AEAD_AES_256_GCM_SIV): key, nonce, AAD, plaintext, ciphertext || tag.
const RFC8452_C2: &[(&str, &str, &str, &str, &str)] = &[
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "030000000000000000000000",
        "",
        "",
        "07f5f4169bbf55a8400cd47ea6fd400f",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "030000000000000000000000",
        "",
        "0100000000000000",
        "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "030000000000000000000000",
        "",
        "01000000000000000000000000000000",
        "85a01b63025ba19b7fd3ddfc033b3e76c9eac6fa700942702e90862383c6c366",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "030000000000000000000000",
        "01",
        "0200000000000000",
        "1de22967237a813291213f267e3b452f02d01ae33e4ec854",
    ),
    (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "030000000000000000000000",
        "01",
        "020000000000000000000000",
        "163d6f9cc1b346cd453a2e4cc1a4a19ae800941ccdc57cc8413c277f",
    ),
];

#[test]
fn rfc8452_aes256_gcm_siv_vectors() {
    for (i, (k, n, aad, pt, ct)) in RFC8452_C2.iter().enumerate() {
        let aead = Aes256GcmSiv::new_from_slice(&unhex(k)).unwrap();
        let nonce = Nonce::try_from(&unhex(n)[..]).unwrap();
        let (aad, pt, ct) = (unhex(aad), unhex(pt), unhex(ct));
        let got = aead
            .encrypt(
                &nonce,
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(got, ct, "vector {i} encrypt");
        let back = aead
            .decrypt(
                &nonce,
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(back, pt, "vector {i} decrypt");
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(
            aead.decrypt(
                &nonce,
                Payload {
                    msg: &bad,
                    aad: &aad
                }
            )
            .is_err()
        );
    }
}
