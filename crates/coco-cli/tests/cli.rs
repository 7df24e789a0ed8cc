//! The `coco` binary's contract: commands, JSON output, exit codes, no output on failure.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn coco(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run coco")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "coco failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

#[test]
fn file_round_trip_inspect_and_failures() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(&coco(&["keygen", "--out", "k"], d));
    assert_eq!(std::fs::read(d.join("k")).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("k")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        coco(&["keygen", "--out", "k"], d).status.code(),
        Some(1),
        "no overwrite"
    );
    std::fs::write(d.join("p"), data(300_000)).unwrap();
    ok(&coco(
        &[
            "seal",
            "--key",
            "k",
            "--chunk-size",
            "64KiB",
            "--model-id",
            "m@1",
            "--key-id",
            "kid",
            "--threads",
            "2",
            "p",
            "s",
        ],
        d,
    ));
    let out = coco(&["inspect", "s", "--json"], d);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "format",
        "version",
        "suite",
        "chunk_size",
        "plaintext_len",
        "n_chunks",
        "header_len",
        "tag_table_offset",
        "data_offset",
        "key_id",
        "metadata",
    ] {
        assert!(v.get(k).is_some(), "inspect --json lacks {k}");
    }
    assert_eq!(v["chunk_size"], 65536);
    assert_eq!(v["plaintext_len"], 300_000);
    assert_eq!(v["n_chunks"], 5);
    assert_eq!(v["key_id"], "kid");
    assert_eq!(v["metadata"]["model_id"], "m@1");
    assert_eq!(v["data_offset"].as_u64().unwrap() % 4096, 0);

    ok(&coco(&["unseal", "--key", "k", "s", "u"], d));
    assert_eq!(std::fs::read(d.join("u")).unwrap(), data(300_000));

    // Never an overwrite without --force: `seal --key k p p` leaves p as it was; messages name
    // the user's paths, never a temporary one.
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let same = coco(&["seal", "--key", "k", "p", "p"], d);
    assert_eq!(same.status.code(), Some(1));
    assert!(
        err(&same).contains("p: exists") && err(&same).contains("--force"),
        "{}",
        err(&same)
    );
    assert_eq!(std::fs::read(d.join("p")).unwrap(), data(300_000));
    let again = coco(&["unseal", "--key", "k", "s", "u"], d);
    assert_eq!(again.status.code(), Some(1));
    ok(&coco(&["unseal", "--key", "k", "--force", "s", "u"], d));
    assert_eq!(std::fs::read(d.join("u")).unwrap(), data(300_000));
    let nodir = coco(&["unseal", "--key", "k", "s", "no-dir/u"], d);
    assert_eq!(nodir.status.code(), Some(1));
    assert!(
        err(&nodir).contains("no-dir/u: No such file"),
        "{}",
        err(&nodir)
    );
    assert!(!err(&nodir).contains("coco-partial"));
    let missing = coco(&["unseal", "--key", "k", "nothing", "u4"], d);
    assert!(
        err(&missing).contains("nothing: No such file"),
        "{}",
        err(&missing)
    );
    let nokey = coco(&["unseal", "--key", "no-key", "s", "u4"], d);
    assert!(
        err(&nokey).contains("no-key: No such file"),
        "{}",
        err(&nokey)
    );

    // Wrong key: exit 1, one line on stderr, no output.
    ok(&coco(&["keygen", "--out", "k2"], d));
    let out = coco(&["unseal", "--key", "k2", "s", "u2"], d);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("wrong key"), "{err}");
    assert!(!d.join("u2").exists());

    // Tampered chunk: exit 1, no output, nothing partial left in the directory.
    let mut s = std::fs::read(d.join("s")).unwrap();
    let off = v["data_offset"].as_u64().unwrap() as usize + 70_000;
    s[off] ^= 1;
    std::fs::write(d.join("t"), &s).unwrap();
    let out = coco(&["unseal", "--key", "k", "t", "u3"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chunk 1"));
    assert!(!d.join("u3").exists());
    let partial = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".coco")
        })
        .count();
    assert_eq!(partial, 0);

    // Usage errors exit 2.
    assert_eq!(coco(&["seal", "--bogus"], d).status.code(), Some(2));
    assert_eq!(
        coco(&["seal", "--key", "k", "--chunk-size", "3K", "p", "x"], d)
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        coco(&["seal", "--key", "k", "--chunk-size", "12Q", "p", "x"], d)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn directory_with_vendor_signature() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::create_dir_all(d.join("m/sub")).unwrap();
    std::fs::write(d.join("m/a.safetensors"), data(100_000)).unwrap();
    std::fs::write(d.join("m/sub/b.json"), b"{}").unwrap();
    ok(&coco(&["keygen", "--out", "k"], d));
    ok(&coco(&["keygen", "--vendor", "--out", "vendor.pem"], d));
    ok(&coco(&["keygen", "--vendor", "--out", "other.pem"], d));
    ok(&coco(
        &[
            "seal",
            "--key",
            "k",
            "--sign-key",
            "vendor.pem",
            "--model-id",
            "v/m@1",
            "m",
            "s",
        ],
        d,
    ));
    let out = coco(&["inspect", "s", "--json"], d);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(v["predicate"]["model_id"], "v/m@1");
    assert_eq!(v["predicate"]["shards"].as_array().unwrap().len(), 2);

    ok(&coco(
        &[
            "unseal",
            "--key",
            "k",
            "--vendor-key",
            "vendor.pem.pub",
            "s",
            "u",
        ],
        d,
    ));
    assert_eq!(
        std::fs::read(d.join("u/a.safetensors")).unwrap(),
        data(100_000)
    );
    let out = coco(
        &[
            "unseal",
            "--key",
            "k",
            "--vendor-key",
            "other.pem.pub",
            "s",
            "u2",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));
    assert!(!d.join("u2").exists());
    std::fs::remove_file(d.join("s/sub/b.json.coco")).unwrap();
    let out = coco(
        &[
            "unseal",
            "--key",
            "k",
            "--vendor-key",
            "vendor.pem.pub",
            "s",
            "u3",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing shard"));
    assert!(!d.join("u3").exists());
}

#[test]
fn demo_runs() {
    let t = tempfile::tempdir().unwrap();
    let out = coco(
        &["demo", "--shards", "2", "--shard-mib", "1", "--dir", "w"],
        t.path(),
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo: OK"));
    let audit = std::fs::read_to_string(t.path().join("w/release-audit.jsonl")).unwrap();
    assert_eq!(
        audit.lines().count(),
        8,
        "one release and seven refusals: {audit}"
    );
    // The kit: what the demo used, and its steps as coco commands, which run as written.
    let w = t.path().join("w");
    for f in [
        "refs.toml",
        "refs.signed",
        "policy.toml",
        "vendor.pem.pub",
        "ear-key.jwk",
    ] {
        assert!(w.join(f).is_file(), "{f}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the TEE is simulated"), "{stdout}");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_coco"));
    let rerun = std::process::Command::new("sh")
        .arg("rerun.sh")
        .current_dir(&w)
        .env("COCO", bin)
        .output()
        .unwrap();
    ok(&rerun);
    assert!(String::from_utf8_lossy(&rerun.stdout).contains("rerun: OK"));
    // A rerun on the same directory starts over.
    ok(&coco(
        &["demo", "--shards", "2", "--shard-mib", "1", "--dir", "w"],
        t.path(),
    ));
    assert!(!w.join("rerun").exists());
    // The sample model is a valid sharded checkpoint: every tensor name once, and the index
    // maps each to the shard that holds it.
    let model = t.path().join("w/model");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("model.safetensors.index.json")).unwrap())
            .unwrap();
    let map = index["weight_map"].as_object().unwrap();
    let mut seen = 0;
    for shard in [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        let bytes = std::fs::read(model.join(shard)).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        for name in header.keys().filter(|k| *k != "__metadata__") {
            assert_eq!(map[name], shard, "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, map.len());
    let out = coco(
        &["demo", "--shards", "1", "--shard-mib", "1", "--json"],
        t.path(),
    );
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["released"], true);
    assert_eq!(v["unsealed_matches"], true);
    assert_eq!(v["ear"]["submods"]["cpu0"]["coco_simulated"], true);
    let cases: Vec<(&str, bool)> = v["negative"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["case"].as_str().unwrap(),
                n["rejected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cases,
        [
            ("replayed challenge", true),
            ("debug enabled", true),
            ("measurement not in reference values", true),
            ("gpu report from another session", true),
            ("missing gpu evidence", true),
            ("same gpu twice", true),
            ("unexpected attester", true),
            ("tampered shard", true)
        ]
    );
    // Each refusal's kind and the claims of its findings, naming the attester.
    let why: Vec<(&str, Vec<&str>)> = v["negative"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap(),
                n["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        why,
        [
            ("challenge", vec![]),
            ("appraisal", vec!["cpu0.policy", "cpu0.debug"]),
            ("appraisal", vec!["cpu0.measurement"]),
            ("evidence", vec![]),
            ("appraisal", vec!["composition.gpu0"]),
            (
                "appraisal",
                vec!["composition.gpu1.attester", "composition.gpu1.device"]
            ),
            ("appraisal", vec!["composition.gpu1.attester"]),
            ("tampered", vec![]),
        ]
    );
}

fn vectors() -> std::path::PathBuf {
    coco_evidence::vectors::dir()
}

#[test]
fn corim_build_sign_inspect_appraise_and_ear_verify() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let s = vectors().join("tdx/v4-dcap-qvl-uptodate");
    let exp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.join("expected.json")).unwrap()).unwrap();
    let b = &exp["body"];
    let h = |k: &str| b[k]["hex"].as_str().unwrap().to_string();
    let refs = format!(
        "id = \"dcap-qvl-sample\"\n[tdx]\nmrtd = [\"{}\"]\nrtmr0 = [\"{}\"]\nrtmr1 = [\"{}\"]\nrtmr2 = [\"{}\"]\nmrseam = [\"{}\"]\ntd_attributes = {{ value = \"0000000000000000\", mask = \"0100000000000000\" }}\n",
        h("mrtd"),
        h("rtmr0"),
        h("rtmr1"),
        h("rtmr2"),
        h("mrseam")
    );
    std::fs::write(d.join("refs.toml"), &refs).unwrap();
    ok(&coco(
        &["corim", "build", "refs.toml", "--out", "refs.cbor"],
        d,
    ));
    ok(&coco(&["keygen", "--vendor", "--out", "vendor.pem"], d));
    ok(&coco(
        &[
            "corim",
            "sign",
            "refs.cbor",
            "--key",
            "vendor.pem",
            "--signer",
            "ACME",
            "--out",
            "refs.signed",
        ],
        d,
    ));
    let out = coco(
        &[
            "corim",
            "inspect",
            "refs.signed",
            "--key",
            "vendor.pem.pub",
            "--json",
        ],
        d,
    );
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signed"], true);
    assert_eq!(v["signature_verified"], true);
    assert_eq!(v["profile"], "tag:coco.example,2026:cc-corim#1");
    assert_eq!(
        v["comids"][0]["reference_values"].as_array().unwrap().len(),
        6
    );

    let q = s.join("quote.bin");
    let evidence = format!("tdx:{}", q.display());
    let coll = s.join("collateral");
    let appraise = |reference: &str, extra: &[&str]| {
        let mut args = vec![
            "appraise",
            "--evidence",
            &evidence,
            "--collateral",
            coll.to_str().unwrap(),
            "--reference",
            reference,
            "--corim-key",
            "vendor.pem.pub",
            "--at",
            "2025-07-01T00:00:00Z",
        ];
        args.extend_from_slice(extra);
        coco(&args, d)
    };
    let out = appraise("refs.signed", &["--json"]);
    ok(&out);
    let ear: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ear["ear_status"], "affirming");
    assert_eq!(
        ear["submods"]["cpu0"]["ear_trustworthiness_vector"]["hardware"],
        2
    );
    // A signed CoRIM under a key that is not trusted is refused.
    ok(&coco(&["keygen", "--vendor", "--out", "other.pem"], d));
    let out = coco(
        &[
            "appraise",
            "--evidence",
            &evidence,
            "--collateral",
            coll.to_str().unwrap(),
            "--reference",
            "refs.signed",
            "--corim-key",
            "other.pem.pub",
            "--at",
            "2025-07-01T00:00:00Z",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(1));
    // A different MRTD: contraindicated, exit 1, the reason on stderr.
    std::fs::write(
        d.join("bad.toml"),
        refs.replacen("mrtd = [\"9", "mrtd = [\"8", 1),
    )
    .unwrap();
    ok(&coco(
        &["corim", "build", "bad.toml", "--out", "bad.cbor"],
        d,
    ));
    let out = appraise("bad.cbor", &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let ear: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ear["ear_status"], "contraindicated");
    assert_eq!(
        ear["submods"]["cpu0"]["coco_findings"][0]["claim"], "mrtd",
        "{ear}"
    );

    // A signed EAR verifies only under its key.
    let out = appraise("refs.signed", &["--sign-key", "vendor.pem"]);
    ok(&out);
    std::fs::write(
        d.join("ear.jwt"),
        String::from_utf8(out.stdout).unwrap().trim(),
    )
    .unwrap();
    let out = coco(
        &[
            "ear",
            "verify",
            "ear.jwt",
            "--key",
            "vendor.pem.pub",
            "--at",
            "2025-07-01T00:01:00Z",
            "--json",
        ],
        d,
    );
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["submods"]["cpu0"]["ear_status"], "affirming");
    let out = coco(
        &[
            "ear",
            "verify",
            "ear.jwt",
            "--key",
            "other.pem.pub",
            "--at",
            "2025-07-01T00:01:00Z",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(1));
    let out = coco(
        &[
            "ear",
            "verify",
            "ear.jwt",
            "--key",
            "vendor.pem.pub",
            "--at",
            "2025-07-02T00:00:00Z",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(1), "expired");
    // A published EAR and its key.
    let e = vectors().join("corim/ear");
    let out = coco(
        &[
            "ear",
            "verify",
            e.join("veraison-ear-jwt-es256-tv.jwt").to_str().unwrap(),
            "--key",
            e.join("veraison-ear-test-key.pub.jwk.json")
                .to_str()
                .unwrap(),
            "--json",
        ],
        d,
    );
    ok(&out);
}

#[test]
fn serve_releases_to_a_simulated_cvm_configured_explicitly() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // A simulated TEE root on disk: the service trusts root.pem, the workload signs with it.
    common::service_kit(d, &[]);
    assert_eq!(
        coco(&["sim", "init", "sim"], d).status.code(),
        Some(1),
        "no overwrite"
    );
    std::fs::write(
        d.join("weak.toml"),
        "allow_simulated = true\nrequire_revocation_check = false\nrequire_binding = false\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    // A policy that turns binding off: refused at once, nothing written, nothing listens.
    let started = std::time::Instant::now();
    let weak = Command::new(env!("CARGO_BIN_EXE_coco"))
        .args([
            "serve",
            "--keys",
            "weak-store",
            "--add-key",
            "model-1=dek",
            "--reference",
            "refs.cbor",
            "--policy",
            "weak.toml",
            "--ear-key",
            "ear.pem",
            "--listen",
            &listen,
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(weak.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert!(!d.join("weak-store").exists());
    assert!(std::net::TcpStream::connect(&listen).is_err());
    // The one-line reason names the setting.
    assert!(String::from_utf8_lossy(&weak.stderr).contains("require_binding = false"));
    // Off loopback without TLS (and without --plain-http): refused before anything binds.
    let open = coco(
        &[
            "serve",
            "--keys",
            "open-store",
            "--reference",
            "refs.cbor",
            "--policy",
            "policy.toml",
            "--ear-key",
            "ear.pem",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ],
        d,
    );
    assert_eq!(open.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&open.stderr).contains("--tls-cert"));
    assert!(!d.join("open-store").exists());
    let start = |tls: bool| {
        let mut args = vec![];
        if tls {
            args = vec![
                "--tls-cert",
                "sim/tls-cert.pem",
                "--tls-key",
                "sim/tls-key.pem",
            ];
        }
        let child = Command::new(env!("CARGO_BIN_EXE_coco"))
            .args([
                "serve",
                "--keys",
                "store",
                "--add-key",
                "model-1=dek",
                "--reference",
                "refs.cbor",
                "--policy",
                "policy.toml",
                "--ear-key",
                "ear.pem",
                "--sim-root",
                "sim/root.pem",
                "--listen",
                &listen,
            ])
            .args(args)
            .current_dir(d)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(&listen).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        child
    };
    let fetch_with = |out: &str, measurement: &str, url: &str, tls: &[&str]| {
        coco(
            &[
                &["fetch-key", "--url", url][..],
                tls,
                &[
                    "--key-id",
                    "model-1",
                    "--sim",
                    "sim",
                    "--measurement",
                    measurement,
                    "--ear-key",
                    "ear.pem.pub",
                    "--out",
                    out,
                ],
            ]
            .concat(),
            d,
        )
    };
    let plain = format!("http://{listen}");
    let fetch = |out: &str, measurement: &str| fetch_with(out, measurement, &plain, &[]);
    let mut child = start(false);
    let first = fetch("fetched", &"ab".repeat(48));
    // Another measurement: refused, nothing written.
    let refused = fetch("refused", &"cd".repeat(48));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&first);
    assert_eq!(
        std::fs::read(d.join("fetched")).unwrap(),
        std::fs::read(d.join("dek")).unwrap()
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(!d.join("refused").exists());
    // A restart with the same command line (the key is already in the store) serves again,
    // now over TLS with the demo identity of `coco sim init`: curl (OpenSSL) and fetch-key
    // trust its CA; without --ca the system's roots do not, and nothing is written.
    let mut child = start(true);
    let https = format!("https://localhost:{port}");
    let healthz = Command::new("curl")
        .args(["-sS", "--cacert", "sim/tls-ca.pem"])
        .arg(format!("https://127.0.0.1:{port}/healthz"))
        .current_dir(d)
        .output()
        .expect("curl (installed by .ci/run)");
    let untrusted = fetch_with("untrusted", &"ab".repeat(48), &https, &[]);
    let again = fetch_with(
        "fetched-again",
        &"ab".repeat(48),
        &https,
        &["--ca", "sim/tls-ca.pem"],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    ok(&healthz);
    assert_eq!(healthz.stdout, b"ok");
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(!d.join("untrusted").exists());
    ok(&again);
    assert_eq!(
        std::fs::read(d.join("fetched-again")).unwrap(),
        std::fs::read(d.join("dek")).unwrap()
    );
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(audit.contains("\"decision\":\"release\""), "{audit}");
}

#[test]
fn evidence_verify_nvidia_raw_wire_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let n = vectors().join("nvidia");
    let run = |args: &[&str]| {
        let mut all = vec!["evidence", "verify", "--platform", "nvidia", "--json"];
        all.extend_from_slice(args);
        let out = coco(&all, t.path());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let s = n.join("hopper-h100-550.90.07");
    let (report, chain) = (s.join("attestation_report.bin"), s.join("cert_chain.pem"));
    let nonce = std::fs::read_to_string(s.join("nonce.hex")).unwrap();
    let (r, c, nonce) = (
        report.to_str().unwrap(),
        chain.to_str().unwrap(),
        nonce.trim(),
    );
    let (code, v) = run(&[r, "--certs", c, "--nonce", nonce]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["platform"], "nvidia");
    assert_eq!(v["claims"]["driver_version"], "550.90.07");
    assert_eq!(
        v["claims"]["x-nvidia-gpu-attestation-report-nonce-match"],
        true
    );
    assert_eq!(v["claims"]["measurements"].as_object().unwrap().len(), 64);
    // Wrong nonce, no chain, another GPU's chain.
    let wrong = format!("{}0", &nonce[..63]);
    let (code, v) = run(&[r, "--certs", c, "--nonce", &wrong]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(1), Some("mismatch")),
        "{v}"
    );
    let (code, v) = run(&[r]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(1), Some("certificate")),
        "{v}"
    );
    let other = n.join("hopper-h100-545.00-e2e/cert_chain.pem");
    let (code, v) = run(&[r, "--certs", other.to_str().unwrap()]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(1), Some("signature")),
        "{v}"
    );
    // The trailing byte: rejected, then accepted when allowed.
    let tb = n.join("hopper-h100-580.95.05-trailing-byte");
    let (tr, tc) = (tb.join("attestation_report.bin"), tb.join("cert_chain.pem"));
    let (code, v) = run(&[tr.to_str().unwrap(), "--certs", tc.to_str().unwrap()]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(1), Some("malformed")),
        "{v}"
    );
    let (code, _) = run(&[
        tr.to_str().unwrap(),
        "--certs",
        tc.to_str().unwrap(),
        "--allow-trailing-data",
    ]);
    assert_eq!(code, Some(0));
    // The 8-GPU wire format.
    let w = n.join("hopper-hgx-8gpu-ppcie-590.12");
    let wn = std::fs::read_to_string(w.join("nonce.hex")).unwrap();
    let (code, v) = run(&[
        w.join("gpu_evidence.json").to_str().unwrap(),
        "--nonce",
        wn.trim(),
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["claims"]["gpu_count"], 8);
    assert_eq!(v["claims"]["gpus"][7]["gpu_mode"], "ppcie");
}

#[test]
fn corim_from_rims_then_appraise_gpu_evidence() {
    let t = tempfile::tempdir().unwrap();
    let s = vectors().join("nvidia/hopper-h100-545.00-e2e");
    let (d, v) = (s.join("driver_rim.swidtag"), s.join("vbios_rim.swidtag"));
    let (d, v) = (d.to_str().unwrap(), v.to_str().unwrap());
    // The RIM certificates expired in 2025: refused now, accepted at a time inside.
    let out = coco(
        &[
            "corim",
            "from-rims",
            "--driver",
            d,
            "--vbios",
            v,
            "--out",
            "r.cbor",
        ],
        t.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid at"));
    let out = coco(
        &[
            "corim",
            "from-rims",
            "--driver",
            d,
            "--vbios",
            v,
            "--at",
            "2025-05-01T00:00:00Z",
            "--out",
            "r.cbor",
        ],
        t.path(),
    );
    ok(&out);
    std::fs::write(
        t.path().join("policy.toml"),
        "require_revocation_check = false\n",
    )
    .unwrap();
    let chain = s.join("cert_chain.pem");
    let evidence = format!("nvidia:{}", s.join("attestation_report.bin").display());
    let nonce = std::fs::read_to_string(s.join("nonce.hex")).unwrap();
    let nonce = nonce.trim();
    // `coco appraise --json` of this GPU's evidence, with `extra` arguments.
    let appraise = |extra: &[&str]| {
        let mut args = vec![
            "appraise",
            "--evidence",
            &evidence,
            "--certs",
            chain.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        coco(&args, t.path())
    };
    // The claims of the GPU's findings in a refusal's EAR.
    let findings = |out: &std::process::Output| -> Vec<String> {
        assert_eq!(out.status.code(), Some(1));
        let ear: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ear["submods"]["gpu0"]["coco_findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["claim"].as_str().unwrap().to_string())
            .collect()
    };
    let out = appraise(&[
        "--nonce",
        nonce,
        "--reference",
        "r.cbor",
        "--policy",
        "policy.toml",
    ]);
    ok(&out);
    let ear: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ear["submods"]["gpu0"]["ear_status"], "affirming", "{ear}");
    // The same reference values in NVIDIA's TCG-era shape (the RIM service's): unsigned as
    // 500(bare corim-map, CoMIDs as bare byte strings), and signed as 500(502(18(...))). Read
    // only with --legacy-corim; the signed one still only under its signer's key.
    use ciborium::Value as Cbor;
    let mut v: Cbor =
        ciborium::from_reader(std::fs::read(t.path().join("r.cbor")).unwrap().as_slice()).unwrap();
    let Cbor::Tag(501, inner) = &mut v else {
        panic!("not 501")
    };
    let Cbor::Map(m) = inner.as_mut() else {
        panic!("not a map")
    };
    for (k, tags) in m.iter_mut() {
        if *k == Cbor::Integer(1.into()) {
            let Cbor::Array(list) = tags else {
                panic!("tags")
            };
            for t in list.iter_mut() {
                let Cbor::Tag(506, b) = t else {
                    panic!("not 506")
                };
                let Cbor::Bytes(bytes) = b.as_ref() else {
                    panic!("not bstr")
                };
                let comid: Cbor = ciborium::from_reader(bytes.as_slice()).unwrap();
                let mut wrapped = Vec::new();
                ciborium::into_writer(&Cbor::Tag(506, Box::new(comid)), &mut wrapped).unwrap();
                *t = Cbor::Bytes(wrapped);
            }
        }
    }
    let mut legacy = Vec::new();
    ciborium::into_writer(&Cbor::Tag(500, inner.clone()), &mut legacy).unwrap();
    std::fs::write(t.path().join("legacy.cbor"), legacy).unwrap();
    ok(&coco(&["keygen", "--vendor", "--out", "nv.pem"], t.path()));
    ok(&coco(
        &[
            "corim", "sign", "r.cbor", "--key", "nv.pem", "--signer", "NVIDIA", "--out", "s.cbor",
        ],
        t.path(),
    ));
    let signed = std::fs::read(t.path().join("s.cbor")).unwrap();
    std::fs::write(
        t.path().join("legacy-signed.cbor"),
        [&[0xd9, 0x01, 0xf4, 0xd9, 0x01, 0xf6][..], &signed].concat(),
    )
    .unwrap();
    for (file, key) in [
        ("legacy.cbor", None),
        ("legacy-signed.cbor", Some("nv.pem.pub")),
    ] {
        let mut extra = vec![
            "--nonce",
            nonce,
            "--policy",
            "policy.toml",
            "--reference",
            file,
        ];
        if let Some(k) = key {
            extra.extend(["--corim-key", k]);
        }
        let strict = appraise(&extra);
        assert_ne!(
            strict.status.code(),
            Some(0),
            "{file} read without --legacy-corim"
        );
        extra.push("--legacy-corim");
        let out = appraise(&extra);
        ok(&out);
        let ear: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            ear["submods"]["gpu0"]["ear_status"], "affirming",
            "{file}: {ear}"
        );
    }
    // Signed, without its signer's key: refused.
    let out = appraise(&[
        "--nonce",
        nonce,
        "--policy",
        "policy.toml",
        "--reference",
        "legacy-signed.cbor",
        "--legacy-corim",
    ]);
    assert_ne!(out.status.code(), Some(0));
    // The strict default policy (no --policy) wants the GPU chain checked for revocation:
    // without OCSP answers (`--collateral DIR` with ocsp/) the same GPU is not affirmed.
    let out = appraise(&["--nonce", nonce, "--reference", "r.cbor"]);
    assert_eq!(findings(&out), ["revocation_checked"]);
    // Another VBIOS's RIM as reference: contraindicated, naming the measurements.
    let other = vectors().join("nvidia/rims/vbios/g520_0200_885_9600740001_PROD.swidtag");
    let out = coco(
        &[
            "corim",
            "from-rims",
            "--vbios",
            other.to_str().unwrap(),
            "--at",
            "2025-01-01T00:00:00Z",
            "--out",
            "o.cbor",
        ],
        t.path(),
    );
    ok(&out);
    let claims = findings(&appraise(&[
        "--reference",
        "o.cbor",
        "--policy",
        "policy.toml",
    ]));
    assert!(claims.iter().any(|c| c == "vbios-version"), "{claims:?}");
    assert!(
        claims.iter().any(|c| c.starts_with("measurement[")),
        "{claims:?}"
    );
}

/// Without NVML (CI, most machines) GPU collection fails cleanly with the reason; on a GPU
/// machine in CC mode its output verifies against the nonce.
#[test]
fn collect_gpus_is_clean_without_a_gpu() {
    let t = tempfile::tempdir().unwrap();
    let nonce = "07".repeat(32);
    let out = coco(
        &[
            "evidence",
            "collect-gpus",
            "--nonce",
            &nonce,
            "--out",
            "g.json",
        ],
        t.path(),
    );
    if out.status.success() {
        let v = coco(
            &[
                "evidence",
                "verify",
                "--platform",
                "nvidia",
                "g.json",
                "--nonce",
                &nonce,
                "--json",
            ],
            t.path(),
        );
        ok(&v);
    } else {
        assert_eq!(out.status.code(), Some(1));
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("NVML") && e.contains("CC state"), "{e}");
        assert!(!t.path().join("g.json").exists());
    }
    let bad = coco(&["evidence", "collect-gpus", "--nonce", "00"], t.path());
    assert_eq!(bad.status.code(), Some(2));
}

/// A closed stdout (`coco ... | head`) ends the process like SIGPIPE would, without a panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    let w = vectors().join("nvidia/hopper-hgx-8gpu-ppcie-590.12/gpu_evidence.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coco"))
        .args([
            "evidence",
            "verify",
            "--platform",
            "nvidia",
            w.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

/// `coco unseal` killed with SIGKILL while it writes leaves no plaintext behind: the output is
/// an unnamed file until complete. The kill is sent once the process holds that file open
/// (seen in /proc), so it lands mid-write.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_during_unseal_leaves_no_plaintext() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(&coco(&["keygen", "--out", "k"], d));
    std::fs::write(d.join("p"), data(96 << 20)).unwrap();
    ok(&coco(&["seal", "--key", "k", "p", "s"], d));
    std::fs::remove_file(d.join("p")).unwrap();
    let listing = || {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let before = listing();
    let mut killed_mid_write = false;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coco"))
            .args(["unseal", "--key", "k", "--threads", "1", "s", "u"])
            .current_dir(d)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let fds = format!("/proc/{}/fd", child.id());
        let started = std::time::Instant::now();
        // Any file open in the directory but the sealed input is the output being written
        // (an unnamed one shows as "DIR/#INODE (deleted)").
        let dir = d.canonicalize().unwrap();
        let input = dir.join("s");
        let writing = || {
            std::fs::read_dir(&fds)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    std::fs::read_link(e.path()).is_ok_and(|l| l.starts_with(&dir) && l != input)
                })
        };
        while !writing() && started.elapsed() < std::time::Duration::from_secs(10) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        if writing() {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            if status.code().is_none() {
                killed_mid_write = true;
                // Nothing new in the directory: no output, no partial file.
                let after = listing();
                assert_eq!(after, before);
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(d.join("u"));
    }
    assert!(killed_mid_write, "never caught unseal while it wrote");
}

/// With `--json`, a failing command still prints exactly one JSON object on stdout:
/// `{"error": {"kind", "message", ...}}`, whatever failed.
/// `coco initdata digest` agrees with coreutils' sha384sum / sha256sum over the document's
/// exact bytes, zero-padded (TDX MRCONFIGID, 48 bytes) or truncated (SNP HOST_DATA, 32 bytes).
#[test]
fn initdata_digest_matches_coreutils() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let sum = |tool: &str, file: &str| -> String {
        let out = Command::new(tool)
            .arg(file)
            .current_dir(d)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let digest = |file: &str, platform: &str| -> String {
        let out = coco(&["initdata", "digest", file, "--platform", platform], d);
        ok(&out);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    std::fs::write(
        d.join("i384.toml"),
        "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"https://kbs:8080\"\n'''\n",
    )
    .unwrap();
    let s384 = sum("sha384sum", "i384.toml");
    assert_eq!(digest("i384.toml", "tdx"), s384);
    assert_eq!(digest("i384.toml", "snp"), s384[..64]);
    std::fs::write(
        d.join("i256.toml"),
        "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n",
    )
    .unwrap();
    let s256 = sum("sha256sum", "i256.toml");
    assert_eq!(digest("i256.toml", "snp"), s256);
    assert_eq!(
        digest("i256.toml", "tdx"),
        format!("{s256}{}", "0".repeat(32))
    );
    // Not init-data: refused, naming the file.
    std::fs::write(d.join("bad.toml"), "version = \"9\"\n").unwrap();
    let out = coco(&["initdata", "digest", "bad.toml", "--platform", "tdx"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}
