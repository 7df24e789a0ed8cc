//! The tamper kit, in the style of age's testkit: `tests/data/tamperkit/NAME.coco` are small
//! sealed files, each with its expected outcome in `tests/data/tamperkit/expect.txt`
//! (`NAME: success SHA256 | wrong key | tampered header | tampered chunk N | truncated |
//! extended | malformed FIELD | unsupported version | unsupported suite`). Every file is opened
//! and fully read with the kit key; the outcome must be exactly the expected one.
//!
//! The kit is fixed bytes: regenerating it (the ignored `regenerate_tamperkit`) is a deliberate
//! act, like the KAT file.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use coco_seal::{Dek, Metadata, SealError, SealOptions, SealedFile, UnsealOptions};
use common::*;

fn kit() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tamperkit")
}

fn kit_key() -> Dek {
    Dek::from_bytes(*b"coco tamper kit key, 32 bytes!!!")
}

fn outcome(bytes: Vec<u8>, key: &Dek) -> String {
    let r = SealedFile::open(bytes, key).and_then(|f| {
        let mut out = vec![0u8; f.plaintext_len() as usize];
        f.unseal_into(
            &mut out,
            &UnsealOptions {
                threads: 1,
                progress: None,
            },
        )?;
        Ok(out)
    });
    match r {
        Ok(p) => format!("success {}", coco_core::Sha256Digest::of(&p)),
        Err(SealError::WrongKey) => "wrong key".into(),
        Err(SealError::Tampered { chunk: None }) => "tampered header".into(),
        Err(SealError::Tampered { chunk: Some(i) }) => format!("tampered chunk {i}"),
        Err(SealError::Truncated { .. }) => "truncated".into(),
        Err(SealError::Extended { .. }) => "extended".into(),
        Err(SealError::Malformed { field, .. }) => format!("malformed {field}"),
        Err(SealError::UnsupportedVersion(_)) => "unsupported version".into(),
        Err(SealError::UnsupportedSuite(_)) => "unsupported suite".into(),
        Err(e) => format!("other: {e}"),
    }
}

fn expectations() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(kit().join("expect.txt")).expect("expect.txt is checked in");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(':').expect("NAME: outcome");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

#[test]
fn every_kit_file_has_exactly_its_expected_outcome() {
    let exp = expectations();
    assert!(exp.len() >= 15, "the kit has {} files", exp.len());
    let mut files: Vec<String> = std::fs::read_dir(kit())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".coco"))
        .map(|n| n.trim_end_matches(".coco").to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        exp.keys().cloned().collect::<Vec<_>>(),
        "files and expect.txt disagree"
    );
    for (name, want) in &exp {
        let bytes = std::fs::read(kit().join(format!("{name}.coco"))).unwrap();
        assert_eq!(&outcome(bytes, &kit_key()), want, "{name}");
    }
}

fn seal_kit(data: &[u8], salt: u8) -> Vec<u8> {
    let opts = SealOptions {
        chunk_log2: 16,
        key_id: "coco-tamperkit".into(),
        metadata: Metadata {
            model_id: Some("coco/tamperkit@1".into()),
            ..Metadata::default()
        },
        threads: 1,
        salt: Some([salt; 32]),
        ..SealOptions::default()
    };
    seal_with(&kit_key(), data, opts).0
}

/// Writes the kit. Run only on purpose: `cargo test -p coco-seal --test tamperkit -- --ignored`.
#[test]
#[ignore]
fn regenerate_tamperkit() {
    let dir = kit();
    let two = plaintext(C + 700, 1); // two chunks: 64 KiB and 700 bytes
    let base = seal_kit(&two, 1);
    let h = coco_seal::inspect(&base[..]).unwrap();
    let (t, d) = (
        h.layout.tag_table_offset as usize,
        h.layout.data_offset as usize,
    );
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    let mut kit: Vec<(&str, Vec<u8>)> = vec![
        ("success-empty", seal_kit(&[], 2)),
        ("success-one-byte", seal_kit(b"x", 3)),
        ("success-two-chunks", base.clone()),
        (
            "wrong-key",
            seal_with(
                &Dek::from_bytes([9; 32]),
                &two,
                SealOptions {
                    chunk_log2: 16,
                    threads: 1,
                    salt: Some([4; 32]),
                    ..SealOptions::default()
                },
            )
            .0,
        ),
        ("data-byte-flipped", edit(&|b| b[d + 10] ^= 1)),
        ("last-chunk-byte-flipped", edit(&|b| b[d + C + 5] ^= 1)),
        ("tag-flipped", edit(&|b| b[t + 3] ^= 0x40)),
        // The two chunks differ in length, so the tags alone are swapped.
        (
            "tags-swapped",
            edit(&|b| {
                let t0 = b[t..t + 16].to_vec();
                b.copy_within(t + 16..t + 32, t);
                b[t + 16..t + 32].copy_from_slice(&t0);
            }),
        ),
        ("truncated-at-chunk-boundary", base[..d + C].to_vec()),
        ("truncated-mid-chunk", base[..base.len() - 1].to_vec()),
        ("extended-one-byte", edit(&|b| b.push(0))),
        ("header-salt-edited", edit(&|b| b[40] ^= 1)),
        ("header-key-id-edited", edit(&|b| b[84] ^= 1)),
        ("header-commitment-edited", edit(&|b| b[t - 1] ^= 1)),
        ("header-version-2", edit(&|b| b[8] = 2)),
        ("header-suite-2", edit(&|b| b[10] = 2)),
        ("header-flags-set", edit(&|b| b[13] = 1)),
        ("header-chunk-log2-15", edit(&|b| b[12] = 15)),
        ("header-n-chunks-3", edit(&|b| b[24] = 3)),
        ("gap-non-zero", edit(&|b| b[d - 1] = 1)),
        ("not-sealed", b"safetensors are not sealed files".to_vec()),
    ];
    // A chunk and its tag spliced from another file sealed under the same key.
    let other = seal_kit(&two, 5);
    kit.push((
        "chunk-spliced-from-other-file",
        edit(&|b| {
            b[d..d + C].copy_from_slice(&other[d..d + C]);
            b[t..t + 16].copy_from_slice(&other[t..t + 16]);
        }),
    ));
    let mut expect =
        String::from("# NAME: expected outcome when opened and fully read with the kit key\n");
    for (name, bytes) in &kit {
        std::fs::write(dir.join(format!("{name}.coco")), bytes).unwrap();
        expect.push_str(&format!("{name}: {}\n", outcome(bytes.clone(), &kit_key())));
    }
    std::fs::write(dir.join("expect.txt"), expect).unwrap();
}
