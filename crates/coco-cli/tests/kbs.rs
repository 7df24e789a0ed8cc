//! `coco serve` as a Key Broker Service for clients nobody here wrote: a client written in
//! Python from the protocol document (`tests/kbs_client.py`: `rfc8785` for JCS, `jwcrypto` for
//! the JWE, both from PyPI, installed by .ci/run) runs every documented step and refusal
//! against the service on loopback with the simulated platform; and coco's own client fetches
//! with `coco fetch-key --kbs`.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn a_kbs_client_from_the_protocol_document_and_fetch_key_kbs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    service_kit(d, &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let ttl = "3";
    let mut child = Command::new(env!("CARGO_BIN_EXE_coco"))
        .args([
            "serve",
            "--keys",
            "store",
            "--add-key",
            "default/model/dek=dek",
            "--reference",
            "refs.cbor",
            "--policy",
            "policy.toml",
            "--ear-key",
            "ear.pem",
            "--sim-root",
            "sim/root.pem",
            "--challenge-ttl",
            ttl,
            "--listen",
            &listen,
        ])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let url = format!("http://{listen}");
    let key_hex = hex::encode(std::fs::read(d.join("dek")).unwrap());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kbs_client.py");
    let py = Command::new("python3")
        .args([
            script,
            &url,
            "sim",
            env!("CARGO_BIN_EXE_coco"),
            &key_hex,
            MEASUREMENT_HEX,
            ttl,
        ])
        .current_dir(d)
        .output()
        .unwrap();
    // coco's own KBS client, with the simulated TEE and a GPU.
    let fetched = coco_env(
        &[
            "fetch-key",
            "--kbs",
            &url,
            "--resource",
            "default/model/dek",
            "--sim",
            "sim",
            "--measurement",
            MEASUREMENT_HEX,
            "--out",
            "fetched",
        ],
        d,
        &[],
    );
    let denied = coco_env(
        &[
            "fetch-key",
            "--kbs",
            &url,
            "--resource",
            "default/model/dek",
            "--sim",
            "sim",
            "--measurement",
            &"cd".repeat(48),
            "--out",
            "denied",
        ],
        d,
        &[],
    );
    child.kill().unwrap();
    let served = child.wait_with_output().unwrap();
    let audit = String::from_utf8_lossy(&served.stdout);
    ok(&py);
    let steps = String::from_utf8_lossy(&py.stdout);
    assert_eq!(steps.lines().count(), 8, "{steps}");
    ok(&fetched);
    assert_eq!(
        std::fs::read(d.join("fetched")).unwrap(),
        std::fs::read(d.join("dek")).unwrap()
    );
    assert_eq!(denied.status.code(), Some(1));
    assert!(!d.join("denied").exists());
    let why = String::from_utf8_lossy(&denied.stderr);
    assert!(
        why.contains("PolicyDeny") && why.contains("/kbs/v0/resource/default/model/dek"),
        "{why}"
    );
    // Every release and refusal of the KBS endpoint is in the audit log.
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["protocol"] == "kbs")
        .collect();
    let releases = lines.iter().filter(|l| l["decision"] == "release").count();
    assert_eq!(releases, 2, "{audit}");
    for kind in [
        "TokenNotFound",
        "AttestationError",
        "ResourceNotFound",
        "PolicyDeny",
        "InvalidSession",
    ] {
        assert!(
            lines.iter().any(|l| l["kind"] == kind),
            "{kind} not audited: {audit}"
        );
    }
}
