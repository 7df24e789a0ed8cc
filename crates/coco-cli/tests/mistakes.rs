//! A newcomer's mistakes, one row each: the command fails (exit 1) with a message naming the
//! path, the flag or the fix, never an internal name or a Rust debug form; with `--json` the
//! one JSON object on stdout is the error object of the right kind; inputs are never touched.

mod common;

use std::path::Path;

use common::*;

struct Row {
    name: &'static str,
    args: Vec<String>,
    /// Each must be in the message.
    says: Vec<&'static str>,
    /// None of these may be in the message.
    never: Vec<&'static str>,
    /// The JSON error kind, for commands that take `--json` (the row is then run twice).
    json_kind: Option<&'static str>,
}

fn row(
    name: &'static str,
    args: &[&str],
    says: &[&'static str],
    json_kind: Option<&'static str>,
) -> Row {
    Row {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        says: says.to_vec(),
        never: vec![
            "Some(",
            "Tcb {",
            ".coco-partial",
            "2^",
            "(os error 2)\"",
            "(1184)",
        ],
        json_kind,
    }
}

fn vector(p: &str) -> String {
    coco_core::vectors::dir().join(p).display().to_string()
}

#[test]
fn each_mistake_names_the_path_the_flag_or_the_fix() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(&coco_env(&["keygen", "--out", "k"], d, &[]));
    ok(&coco_env(
        &["keygen", "--vendor", "--out", "vendor.pem"],
        d,
        &[],
    ));
    std::fs::write(d.join("a"), b"plaintext").unwrap();
    std::fs::create_dir(d.join("md")).unwrap();
    std::fs::write(d.join("md/config.json"), b"{}").unwrap();
    std::fs::write(d.join("notsealed"), b"x").unwrap();
    std::fs::write(
        d.join("old.toml"),
        "id = \"old\"\n[validity]\nnot_after = \"2020-01-01T00:00:00Z\"\n[sample]\nsvn_min = 1\n",
    )
    .unwrap();
    ok(&coco_env(
        &["corim", "build", "old.toml", "--out", "old.cbor"],
        d,
        &[],
    ));
    let snp = vector("snp/milan-v2-virtee-sev/report.bin");
    let tdx = vector("tdx/v4-dcap-qvl-uptodate/quote.bin");
    let tdx_collateral = vector("tdx/v4-dcap-qvl-uptodate/collateral");
    let rows = vec![
        row(
            "seal onto its own input",
            &["seal", "--key", "k", "a", "a"],
            &["a: exists", "--force"],
            None,
        ),
        row(
            "output under a missing directory",
            &["seal", "--key", "k", "a", "nodir/out"],
            &["nodir/out"],
            None,
        ),
        row(
            "missing input",
            &["seal", "--key", "k", "missing", "out"],
            &["missing"],
            None,
        ),
        row(
            "a data key as --sign-key",
            &["seal", "--key", "k", "--sign-key", "k", "md", "md.sealed"],
            &["k", "not a PEM file", "coco keygen --vendor"],
            None,
        ),
        row(
            "a PEM key as --key",
            &["seal", "--key", "vendor.pem", "a", "out"],
            &["vendor.pem"],
            None,
        ),
        row(
            "a chunk size out of range",
            &["seal", "--key", "k", "--chunk-size", "32MiB", "a", "out"],
            &["32 MiB", "64 KiB", "16 MiB"],
            None,
        ),
        row(
            "an SNP report given as TDX",
            &["evidence", "verify", "--platform", "tdx", &snp],
            &["looks like an SNP", "--platform snp"],
            Some("usage"),
        ),
        row(
            "old collateral without --at",
            &[
                "evidence",
                "verify",
                "--platform",
                "tdx",
                &tdx,
                "--collateral",
                &tdx_collateral,
            ],
            &["TCB Info is not valid at", "--at 2025-"],
            Some("expired"),
        ),
        row(
            "--at that is not a time",
            &[
                "evidence",
                "verify",
                "--platform",
                "snp",
                &snp,
                "--at",
                "yesterday",
            ],
            &["yesterday", "RFC 3339"],
            Some("usage"),
        ),
        row(
            "a --nonce that is not hex",
            &[
                "evidence",
                "verify",
                "--platform",
                "nvidia",
                &snp,
                "--nonce",
                "zz",
            ],
            &["nonce", "zz"],
            Some("usage"),
        ),
        row(
            "an SNP report without its VCEK",
            &["evidence", "verify", "--platform", "snp", &snp],
            &["VCEK", "--certs"],
            Some("certificate"),
        ),
        row(
            "inspect of a missing file",
            &["inspect", "missing.coco"],
            &["missing.coco"],
            Some("io"),
        ),
        row(
            "inspect of a file that is not sealed",
            &["inspect", "notsealed"],
            &["not a coco sealed file"],
            Some("format"),
        ),
        row(
            "a data key as the EAR key",
            &["ear", "verify", "missing.jwt", "--key", "k"],
            &["--key k", "public key"],
            Some("usage"),
        ),
        row(
            "corim inspect of a missing file",
            &["corim", "inspect", "missing.cbor"],
            &["missing.cbor"],
            Some("io"),
        ),
        row(
            "an expired CoRIM",
            &["corim", "inspect", "old.cbor"],
            &["2020-01-01T00:00:00Z", "--at"],
            Some("expired"),
        ),
        row(
            "appraise with a missing reference",
            &[
                "appraise",
                "--evidence",
                &format!("snp:{snp}"),
                "--reference",
                "r.cbor",
            ],
            &["r.cbor"],
            Some("io"),
        ),
        row(
            "fetch-key onto an existing file",
            &[
                "fetch-key",
                "--url",
                "http://127.0.0.1:9",
                "--key-id",
                "m",
                "--out",
                "k",
            ],
            &["--out k", "exists"],
            None,
        ),
        row(
            "fetch-key with a data key as --ear-key",
            &[
                "fetch-key",
                "--url",
                "http://127.0.0.1:9",
                "--key-id",
                "m",
                "--out",
                "new",
                "--ear-key",
                "k",
            ],
            &["--ear-key k"],
            None,
        ),
        row(
            "fetch-key --kbs with a bad resource",
            &[
                "fetch-key",
                "--kbs",
                "http://127.0.0.1:9",
                "--resource",
                "a/b",
                "--out",
                "new",
                "--sample",
            ],
            &["--resource", "<repository>/<type>/<tag>"],
            None,
        ),
    ];
    let before = std::fs::read(d.join("a")).unwrap();
    for r in &rows {
        let args: Vec<&str> = r.args.iter().map(String::as_str).collect();
        let out = coco_env(&args, d, &[]);
        let msg = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{}: {msg}", r.name);
        for s in &r.says {
            assert!(msg.contains(s), "{}: {s:?} not in {msg:?}", r.name);
        }
        for s in &r.never {
            assert!(!msg.contains(s), "{}: {s:?} in {msg:?}", r.name);
        }
        if let Some(kind) = r.json_kind {
            let mut j = args.clone();
            j.push("--json");
            let out = coco_env(&j, d, &[]);
            assert_eq!(out.status.code(), Some(1), "{} --json", r.name);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                stdout.lines().count(),
                1,
                "{}: one JSON object: {stdout}",
                r.name
            );
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(v["error"]["kind"], kind, "{}: {v}", r.name);
            assert!(
                v["error"]["message"].as_str().unwrap().contains(r.says[0]),
                "{}: {v}",
                r.name
            );
        }
    }
    // Nothing was touched or left behind.
    assert_eq!(std::fs::read(d.join("a")).unwrap(), before);
    for gone in ["out", "new", "md.sealed", "nodir"] {
        assert!(!Path::new(&d.join(gone)).exists(), "{gone}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

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
