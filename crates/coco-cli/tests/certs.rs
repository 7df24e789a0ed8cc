//! Certificates from several files. A newcomer's mistakes, one per file, are case files in
//! `tests/cases/` (run by `tests/cases.rs`).

mod common;

use common::*;

/// `--certs` is repeatable: the VCEK from one file, the ASK and ARK from another.
#[test]
fn certs_may_come_from_several_files() {
    let t = tempfile::tempdir().unwrap();
    let s = coco_core::vectors::dir().join("snp/milan-v2-virtee-sev");
    let p = |f: &str| s.join(f).display().to_string();
    let args = [
        "evidence",
        "verify",
        "--platform",
        "snp",
        &p("report.bin"),
        "--certs",
        &p("vcek.der"),
        "--certs",
        &p("cert_chain.pem"),
        "--at",
        "2025-01-01T00:00:00Z",
        "--json",
    ];
    let out = coco_env(&args, t.path(), &[]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    // The VCEK alone is not enough: its issuer is in the other file.
    let alone = [&args[..7], &args[9..]].concat();
    let out = coco_env(&alone, t.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false, "{v}");
}
