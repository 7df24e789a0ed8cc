//! The PKCS#11 key store against SoftHSM2, provisioned with tools no one here wrote
//! (`softhsm2-util`, OpenSC's `pkcs11-tool`). SoftHSM reads its configuration when the module
//! is initialised, once per process, so each scenario runs in a child process of this test
//! binary with its own `SOFTHSM2_CONF`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use coco_release::keystore::pkcs11::{PinSource, Pkcs11KeyStore, Pkcs11Uri};
use coco_release::keystore::{KeyStore, KeyStoreError};
use coco_release::{ReleaseError, Result};
use coco_seal::Dek;

const SO_PIN: &str = "so-1234";
const PIN: &str = "user-5678";

fn module() -> PathBuf {
    if let Some(m) = std::env::var_os("COCO_PKCS11_MODULE") {
        return m.into();
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("SoftHSM2 is installed (.ci/run installs softhsm2 and opensc)")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the provisioning tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A SoftHSM2 with a token "coco" holding `kek` (AES-256, private, sensitive, not
/// extractable), `kek-extractable`, `kek-128` and `kek-public`, all made by softhsm2-util and
/// pkcs11-tool.
fn provision(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    run(Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "coco",
            "--so-pin",
            SO_PIN,
            "--pin",
            PIN,
        ]));
    for (label, extra) in [
        ("kek", vec!["--key-type", "AES:32", "--private"]),
        (
            "kek-extractable",
            vec!["--key-type", "AES:32", "--private", "--extractable"],
        ),
        ("kek-128", vec!["--key-type", "AES:16", "--private"]),
        ("kek-public", vec!["--key-type", "AES:32"]),
    ] {
        run(Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", &conf)
            .arg("--module")
            .arg(module())
            .args(["--token-label", "coco", "--login", "--pin", PIN, "--keygen"])
            .args(extra)
            .args(["--label", label, "--sensitive", "--usage-decrypt"]));
    }
    std::fs::write(dir.join("pin"), format!("{PIN}\n")).unwrap();
    std::fs::write(dir.join("wrong-pin"), "nope\n").unwrap();
    conf
}

/// Runs `scenario` (an ignored test of this binary) in a child process against a freshly
/// provisioned SoftHSM2.
fn in_child(scenario: &str) {
    let t = tempfile::tempdir().unwrap();
    let conf = provision(t.path());
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            scenario,
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("COCO_P11_TEST_DIR", t.path())
        .env("COCO_PKCS11_MODULE", module())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{scenario}:\n{text}");
    assert!(text.contains("1 passed"), "{scenario} did not run:\n{text}");
}

fn test_dir() -> PathBuf {
    std::env::var_os("COCO_P11_TEST_DIR")
        .expect("run by its parent test with a provisioned SoftHSM")
        .into()
}

fn uri(object: &str) -> Pkcs11Uri {
    format!(
        "pkcs11:token=coco;object={object}?module-path={}",
        module().display()
    )
    .parse()
    .unwrap()
}

fn open(object: &str, pin: &str) -> Result<Pkcs11KeyStore> {
    let d = test_dir();
    Pkcs11KeyStore::open(
        &uri(object),
        Some(&PinSource::File(d.join(pin))),
        &d.join("keys"),
    )
}

fn keystore_error(r: Result<impl std::fmt::Debug>) -> KeyStoreError {
    match r {
        Err(ReleaseError::KeyStore(e)) => e,
        other => panic!("expected a key store error, got {other:?}"),
    }
}

#[test]
fn hsm_store_round_trip_and_refusals() {
    in_child("scenario_round_trip_and_refusals");
}

#[test]
fn hsm_store_behind_the_service() {
    in_child("scenario_behind_the_service");
}

#[test]
#[ignore = "run by hsm_store_round_trip_and_refusals in a child process"]
fn scenario_round_trip_and_refusals() {
    let d = test_dir();
    // First, before this process is logged in (a PKCS#11 login covers the whole process).
    assert!(matches!(
        keystore_error(open("kek", "wrong-pin")),
        KeyStoreError::WrongPin { token } if token == "coco"
    ));
    let store = open("kek", "pin").unwrap();
    let dek = Dek::generate().unwrap();
    store.import("model-1", &dek).unwrap();
    assert_eq!(
        store.get("model-1").unwrap().unwrap().as_bytes(),
        dek.as_bytes()
    );
    assert!(store.get("model-2").unwrap().is_none());
    // Idempotent for the same key; another key under the same id is refused.
    store.import("model-1", &dek).unwrap();
    assert!(matches!(
        keystore_error(store.import("model-1", &Dek::generate().unwrap())),
        KeyStoreError::Conflict { key_id } if key_id == "model-1"
    ));
    // Nothing plaintext on disk: the blob does not hold the key.
    let blobs: Vec<PathBuf> = std::fs::read_dir(d.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(blobs.len(), 1);
    let blob = std::fs::read(&blobs[0]).unwrap();
    assert!(!blob.windows(32).any(|w| w == dek.as_bytes()));

    // The token logs out (as after a reset): the store reconnects and goes on.
    store.log_out();
    assert_eq!(
        store.get("model-1").unwrap().unwrap().as_bytes(),
        dek.as_bytes()
    );

    // A blob moved to another key id does not open (the id is authenticated).
    let moved = d.join("keys").join(format!(
        "{}.p11",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"model-2"))
    ));
    std::fs::copy(&blobs[0], &moved).unwrap();
    assert!(matches!(
        keystore_error(store.get("model-2")),
        KeyStoreError::Tampered { key_id, .. } if key_id == "model-2"
    ));
    // A changed byte anywhere: refused, nothing returned.
    for at in [0, 9, 20, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[at] ^= 1;
        std::fs::write(&moved, &bad).unwrap();
        assert!(matches!(
            keystore_error(store.get("model-2")),
            KeyStoreError::Tampered { .. }
        ));
    }
    std::fs::write(&moved, &blob[..40]).unwrap();
    assert!(matches!(
        keystore_error(store.get("model-2")),
        KeyStoreError::Tampered { .. }
    ));

    // Misconfigurations, each its own error, found when the store opens.
    assert!(matches!(
        keystore_error(open("kek-extractable", "pin")),
        KeyStoreError::Extractable { .. }
    ));
    assert!(matches!(
        keystore_error(open("kek-128", "pin")),
        KeyStoreError::Unusable { .. }
    ));
    assert!(matches!(
        keystore_error(open("kek-public", "pin")),
        KeyStoreError::Unusable { reason, .. } if reason.contains("CKA_PRIVATE")
    ));
    assert!(matches!(
        keystore_error(open("no-such-key", "pin")),
        KeyStoreError::ObjectNotFound { object, .. } if object == "object=no-such-key"
    ));
    assert!(matches!(
        keystore_error(open("kek", "no-pin-file")),
        KeyStoreError::Pin { .. }
    ));
    let other_token: Pkcs11Uri = format!(
        "pkcs11:token=elsewhere;object=kek?module-path={}",
        module().display()
    )
    .parse()
    .unwrap();
    assert!(matches!(
        keystore_error(Pkcs11KeyStore::open(
            &other_token,
            Some(&PinSource::File(d.join("pin"))),
            &d.join("keys")
        )),
        KeyStoreError::TokenNotFound { present, .. } if present.contains(&"coco".to_string())
    ));
    let no_module: Pkcs11Uri = "pkcs11:token=coco;object=kek?module-path=/nonexistent/libp11.so"
        .parse()
        .unwrap();
    assert!(matches!(
        keystore_error(Pkcs11KeyStore::open(
            &no_module,
            Some(&PinSource::File(d.join("pin"))),
            &d.join("keys")
        )),
        KeyStoreError::Module { .. }
    ));
    // The store still works after all that.
    assert_eq!(
        store.get("model-1").unwrap().unwrap().as_bytes(),
        dek.as_bytes()
    );
}

#[test]
#[ignore = "run by hsm_store_behind_the_service in a child process"]
fn scenario_behind_the_service() {
    use coco_evidence::sim::SimRoot;
    use coco_release::http::{Client, Limits, Server};
    use coco_release::simkit;
    use coco_release::workload;
    use coco_release::wrap::Kem;

    let store = Arc::new(open("kek", "pin").unwrap());
    let dek = Dek::generate().unwrap();
    store.import("model-1", &dek).unwrap();
    let root = SimRoot::generate().unwrap();
    let service = simkit::service(&root, Box::new(store.clone()), 0).unwrap();
    let server = Server::start(
        Arc::new(service),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap();
    let cvm = simkit::attester(&root, 0).unwrap();
    // 200 concurrent releases (10 clients x 20), every one the imported key.
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                let client = Client::new(&server.url()).unwrap();
                for _ in 0..20 {
                    let c = client.challenge().unwrap();
                    let (bundle, key) = workload::bundle(&cvm, &c, "model-1", Kem::P384).unwrap();
                    let resp = client.release(&bundle).unwrap();
                    assert_eq!(
                        workload::unwrap(&resp, &key, "model-1").unwrap().as_bytes(),
                        dek.as_bytes()
                    );
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 200);

    // A tampered blob: the release is refused (503, kind keystore) and nothing leaks.
    let blob = std::fs::read_dir(test_dir().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x80;
    std::fs::write(&blob, &bytes).unwrap();
    let client = Client::new(&server.url()).unwrap();
    let c = client.challenge().unwrap();
    let (bundle, _) = workload::bundle(&cvm, &c, "model-1", Kem::P384).unwrap();
    match client.release(&bundle).unwrap_err() {
        ReleaseError::Refused { kind, detail, .. } => {
            assert_eq!(kind, "keystore");
            assert_eq!(detail["http_status"], 503);
        }
        e => panic!("{e:?}"),
    }
}
