//! Model directories: nested files, signed manifests, and missing/extra/renamed/swapped shards.

mod common;

use std::fs;
use std::path::Path;

use coco_seal::manifest::{MANIFEST_FILE, StoredManifest, generate_signing_key};
use coco_seal::{DirSealOptions, DirUnsealOptions, ManifestError, SealError, seal_dir, unseal_dir};
use common::*;

fn model(dir: &Path) {
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    fs::write(
        dir.join("model-00001-of-00002.safetensors"),
        plaintext(C + 5, 1),
    )
    .unwrap();
    fs::write(
        dir.join("model-00002-of-00002.safetensors"),
        plaintext(2 * C, 2),
    )
    .unwrap();
    fs::write(dir.join("config.json"), b"{\"hidden_size\": 64}").unwrap();
    fs::write(dir.join("sub/deeper/tokenizer.bin"), plaintext(10, 3)).unwrap();
    fs::write(dir.join("sub/empty"), b"").unwrap();
}

fn options(sign: Option<p384::ecdsa::SigningKey>) -> DirSealOptions {
    DirSealOptions {
        seal: opts(),
        model_id: "test/model@1".into(),
        sign_key: sign,
    }
}

fn assert_same_tree(a: &Path, b: &Path) {
    let fa = coco_seal::model::list_files(a).unwrap();
    let fb = coco_seal::model::list_files(b).unwrap();
    assert_eq!(fa, fb);
    for f in fa {
        assert_eq!(
            fs::read(a.join(&f)).unwrap(),
            fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn nested_directory_round_trip_unsigned_and_signed() {
    let t = tempfile::tempdir().unwrap();
    let (src, sealed, out) = (t.path().join("m"), t.path().join("s"), t.path().join("u"));
    model(&src);
    let dek = key(1);
    let st = seal_dir(&dek, &src, &sealed, &options(None)).unwrap();
    assert_eq!(st.predicate.shards.len(), 5);
    assert!(sealed.join("sub/deeper/tokenizer.bin.coco").is_file());
    assert!(sealed.join(MANIFEST_FILE).is_file());
    unseal_dir(&dek, &sealed, &out, &DirUnsealOptions::default()).unwrap();
    assert_same_tree(&src, &out);

    let vendor = generate_signing_key().unwrap();
    let (sealed2, out2) = (t.path().join("s2"), t.path().join("u2"));
    seal_dir(&dek, &src, &sealed2, &options(Some(vendor.clone()))).unwrap();
    let stored = StoredManifest::parse(&fs::read(sealed2.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert!(stored.is_signed());
    let opts = DirUnsealOptions {
        vendor_key: Some(*vendor.verifying_key()),
        ..Default::default()
    };
    unseal_dir(&dek, &sealed2, &out2, &opts).unwrap();
    assert_same_tree(&src, &out2);

    // A vendor key is required to match; an unsigned manifest is refused when one is given.
    let other = generate_signing_key().unwrap();
    let wrong = DirUnsealOptions {
        vendor_key: Some(*other.verifying_key()),
        ..Default::default()
    };
    let err = unseal_dir(&dek, &sealed2, &t.path().join("u3"), &wrong).unwrap_err();
    assert!(
        matches!(err, SealError::Manifest(ManifestError::BadSignature)),
        "{err}"
    );
    let err = unseal_dir(&dek, &sealed, &t.path().join("u4"), &opts).unwrap_err();
    assert!(
        matches!(err, SealError::Manifest(ManifestError::Unsigned)),
        "{err}"
    );
    assert!(!t.path().join("u3").exists() && !t.path().join("u4").exists());
}

/// Seals the sample model and returns (tempdir, sealed dir, dek).
fn sealed_model() -> (tempfile::TempDir, std::path::PathBuf, coco_seal::Dek) {
    let t = tempfile::tempdir().unwrap();
    let (src, sealed) = (t.path().join("m"), t.path().join("s"));
    model(&src);
    let dek = key(2);
    seal_dir(&dek, &src, &sealed, &options(None)).unwrap();
    (t, sealed, dek)
}

fn unseal_err(sealed: &Path, dek: &coco_seal::Dek) -> SealError {
    let out = sealed.parent().unwrap().join("out");
    let err = unseal_dir(dek, sealed, &out, &DirUnsealOptions::default()).unwrap_err();
    assert!(!out.exists(), "no output on failure");
    let leftovers: Vec<_> = fs::read_dir(sealed.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".coco-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    err
}

#[test]
fn missing_shard() {
    let (_t, sealed, dek) = sealed_model();
    fs::remove_file(sealed.join("config.json.coco")).unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(err, SealError::Manifest(ManifestError::MissingShard(ref p)) if p == "config.json.coco"),
        "{err}"
    );
}

#[test]
fn extra_file() {
    let (_t, sealed, dek) = sealed_model();
    fs::write(sealed.join("sub/evil.coco"), b"x").unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(err, SealError::Manifest(ManifestError::ExtraFile(ref p)) if p == "sub/evil.coco"),
        "{err}"
    );
}

#[test]
fn renamed_shard() {
    let (_t, sealed, dek) = sealed_model();
    fs::rename(
        sealed.join("config.json.coco"),
        sealed.join("config2.json.coco"),
    )
    .unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(err, SealError::Manifest(ManifestError::MissingShard(_))),
        "{err}"
    );
}

#[test]
fn swapped_shards() {
    let (_t, sealed, dek) = sealed_model();
    let a = sealed.join("model-00001-of-00002.safetensors.coco");
    let b = sealed.join("model-00002-of-00002.safetensors.coco");
    let tmp = sealed.join("tmp");
    fs::rename(&a, &tmp).unwrap();
    fs::rename(&b, &a).unwrap();
    fs::rename(&tmp, &b).unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(
            err,
            SealError::Manifest(ManifestError::ShardMismatch {
                field: "header_sha256",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn shard_from_another_seal_of_the_same_model() {
    let (t, sealed, dek) = sealed_model();
    let again = t.path().join("again");
    seal_dir(&dek, &t.path().join("m"), &again, &options(None)).unwrap();
    fs::copy(
        again.join("config.json.coco"),
        sealed.join("config.json.coco"),
    )
    .unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(
            err,
            SealError::Manifest(ManifestError::ShardMismatch {
                field: "header_sha256",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn manifest_path_traversal_is_refused() {
    let (_t, sealed, dek) = sealed_model();
    let path = sealed.join(MANIFEST_FILE);
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("\"config.json\"", "\"../config.json\"");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Recompute the subject so that only the path check can object.
    let st: coco_seal::manifest::Statement = serde_json::from_value(v.clone()).unwrap();
    v["subject"][0]["digest"]["sha256"] = st.predicate.shards_digest().to_string().into();
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(err, SealError::Manifest(ManifestError::UnsafePath(_))),
        "{err}"
    );
}

#[test]
fn wrong_key_and_tampered_manifest() {
    let (_t, sealed, dek) = sealed_model();
    assert!(matches!(unseal_err(&sealed, &key(3)), SealError::WrongKey));
    let path = sealed.join(MANIFEST_FILE);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replacen("\"plaintext_size\": 19", "\"plaintext_size\": 20", 1),
    )
    .unwrap();
    let err = unseal_err(&sealed, &dek);
    assert!(
        matches!(err, SealError::Manifest(ManifestError::Invalid(_))),
        "{err}"
    );
    let _ = dek;
}

#[test]
fn output_must_not_exist() {
    let (t, sealed, dek) = sealed_model();
    let out = t.path().join("busy");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("x"), b"keep").unwrap();
    assert!(unseal_dir(&dek, &sealed, &out, &DirUnsealOptions::default()).is_err());
    assert_eq!(fs::read(out.join("x")).unwrap(), b"keep");
}
