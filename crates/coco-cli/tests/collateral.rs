//! `coco collateral fetch --platform tdx` against a PCS on loopback that answers with Intel's
//! real, signed PCS v4 responses (`vectors/pcs`, recorded with their issuer-chain headers): the
//! collateral of a real quote is fetched, verified and written, and `coco evidence verify
//! --collateral` then evaluates the quote's TCB with it. A 429 with Retry-After is waited out
//! once; a 404, a missing header, a changed body and an expired window are typed failures
//! that write nothing.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;

/// One canned answer: status, headers, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A loopback HTTP server answering `path?query` from `routes` (a route's answers are used in
/// turn, the last one repeating); anything else is a 404. Returns its base URL.
fn serve(routes: HashMap<String, Vec<Answer>>) -> String {
    serve_counting(routes).0
}

/// [`serve`], also counting the requests per target.
fn serve_counting(
    routes: HashMap<String, Vec<Answer>>,
) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(Mutex::new(routes));
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
            *counted.lock().unwrap().entry(target.clone()).or_default() += 1;
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            // A POST's body (an OCSP request) is read before the answer.
            let mut body = vec![0u8; len.min(1 << 16)];
            if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                continue;
            }
            let answer = {
                let mut r = routes.lock().unwrap();
                match r.get_mut(&target) {
                    Some(list) if list.len() > 1 => list.remove(0),
                    Some(list) => list[0].clone(),
                    None => Answer {
                        status: 404,
                        headers: vec![],
                        body: b"not found".to_vec(),
                    },
                }
            };
            let mut head = format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            for (k, v) in &answer.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&answer.body);
        }
    });
    (base, hits)
}

/// URL-encoding as PCS sends its issuer-chain headers.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn recorded(name: &str) -> Value {
    let p = coco_core::vectors::dir().join("pcs").join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn ok_answer(header: &str, chain: &str, body: Vec<u8>) -> Answer {
    Answer {
        status: 200,
        headers: vec![(header.into(), url_encode(chain))],
        body,
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// The routes of a PCS holding the recorded responses for FMSPC 00806F050000, and the root
/// CA CRL at `/root.crl`.
fn pcs_routes() -> HashMap<String, Vec<Answer>> {
    let tcb = recorded("tdx_tcb_info.json");
    let qe = recorded("tdx_qe_identity.json");
    let platform = recorded("pck_crl_platform.json");
    let processor = recorded("pck_crl_processor_der.json");
    let root = std::fs::read(
        coco_core::vectors::dir().join("tdx/v4-dcap-qvl-uptodate/collateral/root_ca_crl.der"),
    )
    .unwrap();
    use base64::Engine;
    let mut r = HashMap::new();
    r.insert(
        "/tdx/certification/v4/tcb?fmspc=00806F050000".to_string(),
        vec![ok_answer(
            "TCB-Info-Issuer-Chain",
            tcb["issuer_chain"].as_str().unwrap(),
            tcb["tcb_info_json"].as_str().unwrap().as_bytes().to_vec(),
        )],
    );
    r.insert(
        "/tdx/certification/v4/qe/identity".to_string(),
        vec![ok_answer(
            "SGX-Enclave-Identity-Issuer-Chain",
            qe["issuer_chain"].as_str().unwrap(),
            qe["enclave_identity_json"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        )],
    );
    r.insert(
        "/sgx/certification/v4/pckcrl?ca=platform&encoding=der".to_string(),
        vec![ok_answer(
            "SGX-PCK-CRL-Issuer-Chain",
            platform["issuer_chain"].as_str().unwrap(),
            pem_to_der(platform["crl_data"].as_str().unwrap()),
        )],
    );
    r.insert(
        "/sgx/certification/v4/pckcrl?ca=processor&encoding=der".to_string(),
        vec![ok_answer(
            "SGX-PCK-CRL-Issuer-Chain",
            processor["issuer_chain"].as_str().unwrap(),
            base64::engine::general_purpose::STANDARD
                .decode(processor["crl_data_base64"].as_str().unwrap())
                .unwrap(),
        )],
    );
    r.insert(
        "/root.crl".to_string(),
        vec![Answer {
            status: 200,
            headers: vec![],
            body: root,
        }],
    );
    r
}

const AT: &str = "2025-06-01T00:00:00Z";

/// A service with the reference values of `refs` (REFS.toml), the default policy, no keys and
/// its audit discarded.
/// `coco serve`'s HTTP server over a service whose TDX collateral cache fetches from the
/// loopback PCS at `base`, at the recorded responses' time ([`AT`]).
fn pccs_server(base: &str) -> coco_release::http::Server {
    use coco_release::collateral::cache::TdxCache;
    use coco_release::collateral::pcs::Pcs;
    use coco_release::http::{Limits, Server};
    use coco_release::tls::ClientTls;
    let at = coco_evidence::time::parse_rfc3339(AT).unwrap();
    let pcs = Pcs::new(base, &format!("{base}/root.crl"), &ClientTls::default()).unwrap();
    let cache = TdxCache::new(pcs, None).with_clock(Arc::new(move || at));
    let service = service_over("id = \"any\"\n[sample]\nsvn_min = 1\n")
        .with_tdx_collateral_cache(Arc::new(cache));
    Server::start(
        Arc::new(service),
        "127.0.0.1:0".parse().unwrap(),
        Limits::default(),
    )
    .unwrap()
}

/// A plain HTTP/1.1 GET of `url`: the head (lower case) and the body.
fn http_get(url: &str) -> (String, Vec<u8>) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&out[..split]).to_ascii_lowercase(),
        out[split + 4..].to_vec(),
    )
}

fn service_over(refs: &str) -> coco_release::KeyReleaseService {
    coco_release::KeyReleaseService::new(
        Box::new(coco_release::keystore::MemoryKeyStore::default()),
        coco_core::keys::SigningKey::generate_p384().unwrap(),
        coco_release::ServiceConfig {
            references: coco_core::appraise::ReferenceValues::from_refs_toml(refs).unwrap(),
            policy: coco_core::policy::Policy::default(),
            sim_root: None,
            challenge_ttl_secs: 60,
        },
    )
    .unwrap()
    .with_audit(Box::new(std::io::sink()))
}

/// Runs a KBS session on `s` at `at` with `primary` evidence of `tee` (no GPUs) and returns the
/// refusal: real evidence answers its own session, never this one.
fn attest_refused(
    s: &coco_release::KeyReleaseService,
    tee: &str,
    primary: &Value,
    at: std::time::SystemTime,
) -> coco_release::kbs::KbsError {
    let req = serde_json::json!({"version": "0.4.0", "tee": tee, "extra-params": ""});
    let (c, token) = s.kbs_auth(req.to_string().as_bytes(), at, None).unwrap();
    let jwk = coco_release::jwe::TeeKeyPair::generate(coco_release::jwe::Curve::P256)
        .unwrap()
        .public_jwk();
    let body = serde_json::json!({
        "runtime-data": {"nonce": c.nonce, "tee-pubkey": jwk},
        "tee-evidence": {"primary_evidence": primary, "additional_evidence": ""},
    });
    s.kbs_attest(
        Some(&token),
        body.to_string().as_bytes(),
        at,
        None,
        &coco_release::decision::Cancel::default(),
    )
    .unwrap_err()
}

/// Whether `e` is verified evidence whose one finding is the binding (the evidence was
/// verified with the service's endorsements and only answers another session).
fn only_binding(e: &coco_release::kbs::KbsError) -> bool {
    match e {
        coco_release::kbs::KbsError::Attestation(coco_release::ReleaseError::Appraisal {
            findings,
            ..
        }) => {
            findings
                .iter()
                .map(|f| f.claim.as_str())
                .collect::<Vec<_>>()
                == ["cpu0.report_data"]
        }
        _ => false,
    }
}

fn fetch(d: &std::path::Path, base: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let quote = coco_core::vectors::dir()
        .join("tdx/v4-gcp-cos-padded-go-tdx-guest/quote.bin")
        .display()
        .to_string();
    let root = format!("{base}/root.crl");
    let args = [
        &[
            "collateral",
            "fetch",
            "--platform",
            "tdx",
            &quote,
            "--pcs",
            base,
            "--root-ca-crl",
            &root,
            "--out",
            out,
            "--json",
        ][..],
        extra,
    ]
    .concat();
    coco_env(&args, d, &[])
}

#[test]
fn fetches_verifies_and_writes_the_collateral_of_a_real_quote() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let mut routes = pcs_routes();
    // The first TCB Info request is told to come back in a second.
    let tcb_path = "/tdx/certification/v4/tcb?fmspc=00806F050000".to_string();
    let good = routes[&tcb_path][0].clone();
    routes.insert(
        tcb_path,
        vec![
            Answer {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: vec![],
            },
            good,
        ],
    );
    let base = serve(routes);
    let started = std::time::Instant::now();
    let out = fetch(d, &base, "collateral", &["--at", AT]);
    ok(&out);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After waited out"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fmspc"], "00806f050000");
    for f in [
        "tcb_info.json",
        "qe_identity.json",
        "tcb_signing_chain.pem",
        "pck_crl.der",
        "root_ca_crl.der",
    ] {
        assert!(d.join("collateral").join(f).is_file(), "{f}");
    }
    // The body is kept byte for byte (its signature covers it).
    assert_eq!(
        std::fs::read_to_string(d.join("collateral/tcb_info.json")).unwrap(),
        recorded("tdx_tcb_info.json")["tcb_info_json"]
            .as_str()
            .unwrap()
    );
    // The quote verifies with what was fetched: TCB status evaluated, CRLs checked.
    let quote = coco_core::vectors::dir().join("tdx/v4-gcp-cos-padded-go-tdx-guest/quote.bin");
    let out = coco_env(
        &[
            "evidence",
            "verify",
            "--platform",
            "tdx",
            quote.to_str().unwrap(),
            "--collateral",
            "collateral",
            "--at",
            AT,
            "--json",
        ],
        d,
        &[],
    );
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert!(v["claims"]["tcb_status"].is_string(), "{v}");
    assert_eq!(v["claims"]["revocation_checked"], true, "{v}");
    // A second fetch into the same directory needs --force.
    let again = fetch(d, &base, "collateral", &["--at", AT]);
    assert_eq!(again.status.code(), Some(1));
    ok(&fetch(d, &base, "collateral", &["--at", AT, "--force"]));
}

fn failure(out: &std::process::Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["error"].clone()
}

#[test]
fn refusals_are_typed_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let tcb_path = "/tdx/certification/v4/tcb?fmspc=00806F050000".to_string();
    // Unknown to this PCS: 404, naming the URL.
    let mut routes = pcs_routes();
    routes.remove(&tcb_path);
    let e = failure(&fetch(d, &serve(routes), "a", &["--at", AT]));
    assert_eq!(e["kind"], "status", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("fmspc=00806F050000"),
        "{e}"
    );
    // A long Retry-After is not waited out.
    let mut routes = pcs_routes();
    routes.insert(
        tcb_path.clone(),
        vec![Answer {
            status: 429,
            headers: vec![("Retry-After".into(), "3600".into())],
            body: vec![],
        }],
    );
    let e = failure(&fetch(d, &serve(routes), "b", &["--at", AT]));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("retry after 3600 s"),
        "{e}"
    );
    // No issuer chain.
    let mut routes = pcs_routes();
    routes.get_mut(&tcb_path).unwrap()[0].headers.clear();
    let e = failure(&fetch(d, &serve(routes), "c", &["--at", AT]));
    assert_eq!(e["kind"], "header", "{e}");
    // One changed byte in the signed TCB Info.
    let mut routes = pcs_routes();
    let body = &mut routes.get_mut(&tcb_path).unwrap()[0].body;
    let text =
        String::from_utf8(body.clone())
            .unwrap()
            .replacen("\"UpToDate\"", "\"OutOfDate\"", 1);
    *body = text.into_bytes();
    let e = failure(&fetch(d, &serve(routes), "e", &["--at", AT]));
    assert_eq!(e["kind"], "verify", "{e}");
    // Valid collateral, but not now: expired, with the window.
    let e = failure(&fetch(d, &serve(pcs_routes()), "f", &[]));
    assert_eq!(e["kind"], "verify", "{e}");
    assert!(e["message"].as_str().unwrap().contains("--at"), "{e}");
    for dir in ["a", "b", "c", "e", "f"] {
        assert!(!d.join(dir).exists(), "{dir}");
    }
}

/// `coco serve --collateral-cache`: the service fetches the collateral of a quote's platform
/// itself (never the client's), once, keeps it on disk, serves decisions from it while the PCS
/// is down as long as it is valid, and never past its validity.
#[test]
fn the_service_decides_with_its_own_cached_collateral() {
    use coco_release::collateral::cache::TdxCache;
    use coco_release::collateral::pcs::Pcs;
    use coco_release::kbs::KbsError;
    use coco_release::tls::ClientTls;
    use coco_release::{KeyReleaseService, ReleaseError};

    let t = tempfile::tempdir().unwrap();
    let cache_dir = t.path().join("cache");
    let quote_bytes = std::fs::read(
        coco_core::vectors::dir().join("tdx/v4-gcp-cos-padded-go-tdx-guest/quote.bin"),
    )
    .unwrap();
    let q = coco_evidence::tdx::Quote::parse(&quote_bytes).unwrap();
    let refs = format!(
        "id = \"td\"\n[tdx]\nmrtd = [\"{}\"]\n",
        hex::encode(q.body.mr_td)
    );
    let service = |base: &str| {
        let pcs = Pcs::new(base, &format!("{base}/root.crl"), &ClientTls::default()).unwrap();
        service_over(&refs)
            .with_tdx_collateral_cache(Arc::new(TdxCache::new(pcs, Some(cache_dir.clone()))))
    };
    use base64::Engine;
    let primary = serde_json::json!({
        "quote": base64::engine::general_purpose::STANDARD.encode(&quote_bytes)
    });
    let attest = |s: &KeyReleaseService, at: &str| -> KbsError {
        attest_refused(
            s,
            "tdx",
            &primary,
            coco_evidence::time::parse_rfc3339(at).unwrap(),
        )
    };
    // Verified with the fetched collateral (TCB evaluated, CRLs checked): the quote answers its
    // own session, never this one, so the binding is the one finding.
    let verified = only_binding;
    let (base, hits) = serve_counting(pcs_routes());
    let s = service(&base);
    let e = attest(&s, AT);
    assert!(verified(&e), "{e}");
    let e = attest(&s, "2025-06-02T00:00:00Z");
    assert!(verified(&e), "{e}");
    let tcb = "/tdx/certification/v4/tcb?fmspc=00806F050000";
    assert_eq!(hits.lock().unwrap()[tcb], 1, "fetched once, then cached");
    assert!(
        cache_dir
            .join("tdx/00806F050000-platform/tcb_info.json")
            .is_file()
            || cache_dir
                .join("tdx/00806F050000-processor/tcb_info.json")
                .is_file()
    );
    // A restarted service with the PCS gone: the cache on disk, still valid, decides.
    let down = serve(HashMap::new());
    let s = service(&down);
    let e = attest(&s, "2025-06-03T00:00:00Z");
    assert!(verified(&e), "{e}");
    // Due for refresh and the PCS down: still used while valid...
    let e = attest(&s, "2025-06-26T00:00:00Z");
    assert!(verified(&e), "{e}");
    // ...and never after: the service cannot decide (503), nothing is released.
    let e = attest(&s, "2025-07-01T00:00:00Z");
    assert!(
        matches!(&e, KbsError::Unavailable(ReleaseError::Storage(_))),
        "{e}"
    );
    assert_eq!(e.status(), 503);
}

/// coco as a caching service for DCAP clients nobody here wrote: PyPI `dcap-qvl` (installed by
/// .ci/run) fetches a real quote's collateral from the service's PCCS-compatible endpoints
/// (served from its cache, filled from the loopback PCS) and verifies the quote with it.
#[test]
fn dcap_qvl_fetches_collateral_from_the_services_pccs_endpoints() {
    let at = coco_evidence::time::parse_rfc3339(AT).unwrap();
    let base = serve(pcs_routes());
    let server = pccs_server(&base);
    let quote = coco_core::vectors::dir().join("tdx/v4-gcp-cos-padded-go-tdx-guest/quote.bin");
    let when = coco_core::time::unix(at).to_string();
    let script = r#"
import asyncio, json, sys
import dcap_qvl
url, quote_path, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
quote = open(quote_path, "rb").read()
async def fetch():
    return await dcap_qvl.get_collateral(url, quote)
collateral = asyncio.run(fetch())
report = dcap_qvl.verify(quote, collateral, now)
print(json.dumps({"status": report.status, "advisory_ids": list(report.advisory_ids)}))
"#;
    // Once more if the first run fails without saying why (seen once under full-suite load,
    // with empty output): a second failure is reported with both runs' output.
    let run = || {
        std::process::Command::new("python3")
            .args(["-c", script, &server.url(), quote.to_str().unwrap(), &when])
            .output()
            .unwrap()
    };
    let first = run();
    let py = if first.status.success() || !first.stderr.is_empty() {
        first
    } else {
        eprintln!(
            "dcap-qvl: first run {:?} with no output; once more",
            first.status
        );
        run()
    };
    assert!(
        py.status.success(),
        "dcap-qvl (installed by .ci/run): {:?}\n{}{}",
        py.status,
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    let v: Value = serde_json::from_slice(&py.stdout).unwrap();
    // The same status coco's own verification gives with the same collateral.
    let t = tempfile::tempdir().unwrap();
    ok(&fetch(t.path(), &base, "c", &["--at", AT]));
    let ours = coco_env(
        &[
            "evidence",
            "verify",
            "--platform",
            "tdx",
            quote.to_str().unwrap(),
            "--collateral",
            "c",
            "--at",
            AT,
            "--json",
        ],
        t.path(),
        &[],
    );
    let ours: Value = serde_json::from_slice(&ours.stdout).unwrap();
    assert_eq!(
        v["status"], ours["claims"]["tcb_status"],
        "dcap-qvl {v} vs coco {ours}"
    );
}

/// `coco collateral fetch --platform snp` against a loopback KDS answering with a real VCEK,
/// AMD's Milan ASK + ARK and AMD's real Milan CRL: the VCEK is asked for by the report's chip id
/// and reported TCB, everything is verified with the report, and the report then verifies with
/// what was fetched, revocation checked.
#[test]
fn fetches_the_vcek_chain_and_crl_of_a_real_snp_report_from_kds() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let v = coco_core::vectors::dir();
    let sample = v.join("snp/milan-v2-virtee-sev");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(sample.join("expected.json")).unwrap()).unwrap();
    // The VCEK's URL from the report's fields as the vectors' README states them.
    let r = &expected["report"];
    let tcb = &r["reported_tcb"];
    let vcek_path = format!(
        "/vcek/v1/Milan/{}?blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
        r["chip_id"].as_str().unwrap(),
        tcb["bootloader"].as_u64().unwrap(),
        tcb["tee"].as_u64().unwrap(),
        tcb["snp"].as_u64().unwrap(),
        tcb["microcode"].as_u64().unwrap()
    );
    let file = |p: std::path::PathBuf| Answer {
        status: 200,
        headers: vec![],
        body: std::fs::read(p).unwrap(),
    };
    let mut routes = HashMap::new();
    routes.insert(vcek_path, vec![file(sample.join("vcek.der"))]);
    routes.insert(
        "/vcek/v1/Milan/cert_chain".to_string(),
        vec![file(v.join("roots/amd/ask-milan.pem"))],
    );
    routes.insert(
        "/vcek/v1/Milan/crl".to_string(),
        vec![file(v.join("revocation/amd/kds-milan-crl-2025-05-06.der"))],
    );
    let base = serve(routes);
    let report = sample.join("report.bin").display().to_string();
    let args = |out: &str, at: &str| -> Vec<String> {
        [
            "collateral",
            "fetch",
            "--platform",
            "snp",
            &report,
            "--product",
            "milan",
            "--kds",
            &base,
            "--out",
            out,
            "--at",
            at,
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |a: Vec<String>| coco_env(&a.iter().map(String::as_str).collect::<Vec<_>>(), d, &[]);
    let out = run(args("snp", "2025-06-01T00:00:00Z"));
    ok(&out);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["product"], "milan");
    let verify = coco_env(
        &[
            "evidence",
            "verify",
            "--platform",
            "snp",
            &report,
            "--certs",
            "snp",
            "--crl",
            "snp/amd.crl",
            "--at",
            "2025-06-01T00:00:00Z",
            "--json",
        ],
        d,
        &[],
    );
    ok(&verify);
    let claims: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(claims["claims"]["revocation_checked"], true, "{claims}");
    // Past the CRL's nextUpdate: nothing is written.
    let late = run(args("late", "2026-06-01T00:00:00Z"));
    assert_eq!(late.status.code(), Some(1));
    assert!(!d.join("late").exists());
    let e: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(e["error"]["kind"], "verify", "{e}");
    // Without --product a version 2 report cannot name its VCEK's product.
    let mut a = args("x", "2025-06-01T00:00:00Z");
    a.retain(|w| w != "--product" && w != "milan");
    let e = run(a);
    assert_eq!(e.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&e.stdout).unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("product"),
        "{e}"
    );
}

/// A CoCo guest's real SNP evidence (Trustee's) arriving at the KBS endpoint with only its
/// VCEK, or with no certificates at all: the service completes it from a loopback KDS (AMD's
/// Genoa ASK + ARK and real Genoa CRL; the VCEK by chip id and TCB) and it verifies with
/// revocation checked, under the default policy: the one finding left is the binding (the
/// evidence answers its own session).
#[test]
fn the_service_completes_snp_evidence_from_kds() {
    use coco_release::collateral::kds::{Kds, SnpEndorsements};
    use coco_release::kbs::KbsError;
    use coco_release::tls::ClientTls;

    let v = coco_core::vectors::dir();
    let evidence: Value = serde_json::from_slice(
        &std::fs::read(v.join("kbs/trustee-snp-e2e/evidence.json")).unwrap(),
    )
    .unwrap();
    let report = &evidence["attestation_report"];
    let hex_of = |a: &Value| -> String {
        a.as_array()
            .unwrap()
            .iter()
            .map(|x| format!("{:02x}", x.as_u64().unwrap()))
            .collect()
    };
    let tcb = &report["reported_tcb"];
    let vcek_path = format!(
        "/vcek/v1/Genoa/{}?blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
        hex_of(&report["chip_id"]),
        tcb["bootloader"].as_u64().unwrap(),
        tcb["tee"].as_u64().unwrap(),
        tcb["snp"].as_u64().unwrap(),
        tcb["microcode"].as_u64().unwrap()
    );
    let file = |p: std::path::PathBuf| Answer {
        status: 200,
        headers: vec![],
        body: std::fs::read(p).unwrap(),
    };
    let mut routes = HashMap::new();
    routes.insert(
        vcek_path,
        vec![file(v.join("kbs/trustee-snp-e2e/vcek.der"))],
    );
    routes.insert(
        "/vcek/v1/Genoa/cert_chain".to_string(),
        vec![file(v.join("roots/amd/ask-genoa.pem"))],
    );
    routes.insert(
        "/vcek/v1/Genoa/crl".to_string(),
        vec![file(v.join("revocation/amd/kds-genoa-crl-2024-10-23.der"))],
    );
    let (base, hits) = serve_counting(routes);
    let kept = tempfile::tempdir().unwrap();
    // A service completing SNP evidence from the KDS at `base`, keeping what it fetched.
    let service = |base: &str| {
        service_over(
            "id = \"genoa\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e\"]\n",
        )
        .with_snp_endorsements(Arc::new(
            SnpEndorsements::new(Kds::new(base, &ClientTls::default()).unwrap())
                .with_dir(kept.path().to_path_buf()),
        ))
    };
    let at = coco_evidence::time::parse_rfc3339(AT).unwrap();
    let attest = |s: &coco_release::KeyReleaseService, primary: &Value| -> KbsError {
        attest_refused(s, "snp", primary, at)
    };
    let s = service(&base);
    let e = attest(&s, &evidence);
    assert!(only_binding(&e), "{e}");
    let mut bare = evidence.clone();
    bare["cert_chain"] = Value::Null;
    let e = attest(&s, &bare);
    assert!(only_binding(&e), "{e}");
    // Restarted with KDS unreachable: what was fetched before is read back and still verifies.
    let restarted = service(&serve(HashMap::new()));
    let e = attest(&restarted, &bare);
    assert!(only_binding(&e), "after a restart: {e}");
    let h = hits.lock().unwrap();
    assert_eq!(
        h["/vcek/v1/Genoa/cert_chain"], 1,
        "the chain is fetched once: {h:?}"
    );
    assert_eq!(h.keys().filter(|k| k.contains("SPL")).count(), 1, "{h:?}");
}

/// NVIDIA's RIM service on loopback answering NVIDIA's real signed RIMs in its JSON shape: the
/// ids come from a real H100 report, the VBIOS RIM verifies (digest, XML signature to the pinned
/// RIM root, version); a driver RIM of another version, a wrong digest and a wrong id are
/// refused, and `collateral fetch` writes nothing unless both verify.
#[test]
fn rims_by_the_ids_a_real_gpu_report_names() {
    use base64::Engine;
    use coco_release::collateral::rim::{RimService, rim_ids};
    use coco_release::tls::ClientTls;

    let v = coco_core::vectors::dir();
    let sample = v.join("nvidia/hopper-h100-535.86.09");
    let report = coco_evidence::nvidia::abi::Report::parse(
        &std::fs::read(sample.join("attestation_report.bin")).unwrap(),
    )
    .unwrap();
    let (driver_id, vbios_id) = rim_ids(&report, "GH100").unwrap();
    assert_eq!(driver_id, "NV_GPU_DRIVER_GH100_535.86.09");
    assert_eq!(vbios_id, "NV_GPU_VBIOS_1010_0200_882_96005E0001");
    let answer = |id: &str, rim: &[u8], sha: Option<String>| {
        Answer {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: serde_json::json!({
            "id": id,
            "rim": base64::engine::general_purpose::STANDARD.encode(rim),
            "sha256": sha.unwrap_or_else(|| hex::encode(coco_core::Sha256Digest::of(rim).as_bytes())),
            "rim_format": "TCG",
            "last_updated": "2025-03-14T15:09:03.011000",
        })
        .to_string()
        .into_bytes(),
    }
    };
    let vbios =
        std::fs::read(v.join("nvidia/rims/vbios/1010_0200_882_96005E0001_PROD.swidtag")).unwrap();
    let other_driver =
        std::fs::read(v.join("nvidia/rims/driver/NV_GPU_DRIVER_GH100_550.144.03.xml")).unwrap();
    let mut routes = HashMap::new();
    routes.insert(
        format!("/v1/rim/{vbios_id}"),
        vec![answer(&vbios_id, &vbios, None)],
    );
    routes.insert(
        format!("/v1/rim/{driver_id}"),
        vec![answer(&driver_id, &other_driver, None)],
    );
    routes.insert(
        "/v1/rim/bad-digest".into(),
        vec![answer("bad-digest", &vbios, Some("00".repeat(32)))],
    );
    routes.insert(
        "/v1/rim/other-id".into(),
        vec![answer("not-this", &vbios, None)],
    );
    let base = serve(routes);
    let at = coco_evidence::time::parse_rfc3339(AT).unwrap();
    let s = RimService::new(&base, &ClientTls::default()).unwrap();
    let got = s.get(&vbios_id, Some("96.00.5E.00.01"), at).unwrap();
    assert_eq!(got.bytes, vbios);
    assert_eq!(got.version, "96.00.5E.00.01");
    // Its signer's certificate had expired by 2025-10: not used then.
    let late = coco_evidence::time::parse_rfc3339("2025-10-01T00:00:00Z").unwrap();
    assert!(s.get(&vbios_id, None, late).is_err());
    for id in ["bad-digest", "other-id"] {
        let e = s.get(id, None, at).unwrap_err();
        assert_eq!(e.kind(), "verify", "{id}: {e}");
    }
    let e = s.get(&driver_id, Some("535.86.09"), at).unwrap_err();
    assert!(e.to_string().contains("550.144.03"), "{e}");
    // The CLI: the driver RIM is of another version, so nothing is written.
    let t = tempfile::tempdir().unwrap();
    let out = coco_env(
        &[
            "collateral",
            "fetch",
            "--platform",
            "nvidia",
            sample.join("attestation_report.bin").to_str().unwrap(),
            "--rim-service",
            &base,
            "--out",
            "rims",
            "--at",
            AT,
            "--json",
        ],
        t.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["kind"], "verify", "{e}");
    assert!(!t.path().join("rims").exists());
}

/// NVIDIA's RIM service CoRIM in its TCG-era wrapping (500(502(18(...))), a bare corim-map, the
/// signer named only by URL and thumbprint): strict reading refuses it with the way out;
/// compatibility mode shows its id, tag, environment and measurements, says the signer is
/// unavailable, and verifies the signature with the signer's key when given.
#[test]
fn tcg_era_nvidia_corims_are_read_in_compatibility_mode() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let v = coco_core::vectors::dir().join("nvidia/rim-service");
    let corim = v.join("NV_NIC_FIRMWARE_CX7_28.39.4082-LTS_MCX713104AC-ADA.corim.cbor");
    let corim = corim.to_str().unwrap();
    let strict = coco_env(&["corim", "inspect", corim, "--json"], d, &[]);
    assert_eq!(strict.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!(e["error"]["kind"], "malformed");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("--legacy"),
        "{e}"
    );
    let out = coco_env(&["corim", "inspect", corim, "--legacy", "--json"], d, &[]);
    ok(&out);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["id"], "ConnectX-7_28.39.4082");
    assert!(
        j["signature"]
            .as_str()
            .unwrap()
            .starts_with("signer unavailable"),
        "{j}"
    );
    assert_eq!(j["signature_verified"], false);
    assert_eq!(
        j["dependent_rims"][0]["href"],
        "https://docs.ndis.nvidia.com/certs/corim/nvidia-corim-signer-cx7-id-2.pem"
    );
    assert_eq!(j["dependent_rims"][0]["thumbprint"]["alg"], 1);
    let comid = &j["comids"][0];
    assert_eq!(comid["tag_id"], "15b3102115b3003300-28.39.4082");
    let rv = &comid["reference_values"][0];
    assert_eq!(rv["environment"]["class"]["vendor"], "NVIDIA");
    let m = rv["measurements"].as_array().unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(m[0]["raw_value"], "00000001");
    for x in &m[1..] {
        assert_eq!(x["digests"][0][0], 8, "SHA-512");
        assert_eq!(x["digests"][0][1].as_str().unwrap().len(), 128);
    }
    assert!(
        m[1]["digests"][0][1]
            .as_str()
            .unwrap()
            .starts_with("f8f6ea6f")
    );
    // With the signer's key: verified; with another key: refused.
    let key = v.join("nvidia-corim-signer-cx7-id-2.pubkey.pem");
    let out = coco_env(
        &[
            "corim",
            "inspect",
            corim,
            "--legacy",
            "--key",
            key.to_str().unwrap(),
            "--json",
        ],
        d,
        &[],
    );
    ok(&out);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["signature"], "verified");
    assert_eq!(j["signature_verified"], true);
    ok(&coco_env(
        &["keygen", "--vendor", "--out", "other.pem"],
        d,
        &[],
    ));
    let out = coco_env(
        &[
            "corim",
            "inspect",
            corim,
            "--legacy",
            "--key",
            "other.pem.pub",
            "--json",
        ],
        d,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    // A signer certificate that is not the thumbprinted one is refused before any signature.
    let sim = coco_evidence::sim::SimTls::generate(&["localhost"]).unwrap();
    std::fs::write(d.join("not-the-signer.pem"), sim.cert.to_pem()).unwrap();
    let out = coco_env(
        &[
            "corim",
            "inspect",
            corim,
            "--legacy",
            "--signer-cert",
            "not-the-signer.pem",
            "--json",
        ],
        d,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["kind"], "mismatch", "{e}");
}

/// OCSP for a real GPU's device chain: `collateral fetch --platform nvidia` asks the responder
/// about the chain's CAs and refuses answers that are not signed under NVIDIA's root, writing
/// nothing; `evidence verify --collateral` reads `ocsp/` back and refuses responses that do not
/// vouch for the chain (forged signer: a chain failure; not OCSP at all: `ocsp`).
#[test]
fn gpu_ocsp_answers_must_chain_to_nvidias_root() {
    use coco_evidence::sim::ocsp::{SimAnswer, SimSigner};
    let v = coco_core::vectors::dir().join("nvidia/hopper-h100-550.90.07");
    let report = v.join("attestation_report.bin");
    let pem = v.join("cert_chain.pem");
    let nonce = std::fs::read_to_string(v.join("nonce.hex")).unwrap();
    let chain = coco_evidence::x509::load_certs(&pem).unwrap();
    let root = coco_evidence::nvidia::roots::device_root();
    // NVML's chain, leaf first; its CAs below the root, each with its issuer.
    let mut full: Vec<&coco_evidence::x509::Cert> = chain.iter().filter(|c| *c != root).collect();
    full.push(root);
    let entries: Vec<_> = (1..full.len() - 1)
        .map(|i| (full[i], full[i + 1]))
        .collect();
    let forger =
        SimSigner::forged("CN=NVIDIA OCSP Responder", "CN=NVIDIA Device Identity CA").unwrap();
    let forged = forger
        .respond(&SimAnswer::good(&entries, None).unwrap(), &[&forger.cert])
        .unwrap();
    let mut routes = HashMap::new();
    routes.insert(
        "/".to_string(),
        vec![Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "application/ocsp-response".into())],
            body: forged.clone(),
        }],
    );
    let (base, hits) = serve_counting(routes);
    let t = tempfile::tempdir().unwrap();
    let out = coco_env(
        &[
            "collateral",
            "fetch",
            "--platform",
            "nvidia",
            report.to_str().unwrap(),
            "--certs",
            pem.to_str().unwrap(),
            "--ocsp",
            &format!("{base}/"),
            "--rim-service",
            &base,
            "--out",
            "gpu",
            "--json",
        ],
        t.path(),
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["kind"], "verify", "{e}");
    assert!(!t.path().join("gpu").exists());
    assert_eq!(
        hits.lock().unwrap().get("/"),
        Some(&1),
        "asked once, refused at once"
    );

    let verify = |dir: &str| {
        let out = coco_env(
            &[
                "evidence",
                "verify",
                "--platform",
                "nvidia",
                report.to_str().unwrap(),
                "--certs",
                pem.to_str().unwrap(),
                "--nonce",
                nonce.trim(),
                "--collateral",
                dir,
                "--json",
            ],
            t.path(),
            &[],
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    // Without responses: verified, not revocation-checked.
    let (code, claims) = verify("none");
    assert_eq!(code, Some(0), "{claims}");
    assert_eq!(claims["claims"]["revocation_checked"], false, "{claims}");
    for (dir, body, kind) in [
        ("forged", forged.as_slice(), "chain"),
        ("junk", &b"not an OCSP response"[..], "ocsp"),
    ] {
        std::fs::create_dir_all(t.path().join(dir).join("ocsp")).unwrap();
        std::fs::write(t.path().join(dir).join("ocsp/r.der"), body).unwrap();
        let (code, e) = verify(dir);
        assert_eq!(code, Some(1), "{e}");
        assert_eq!(e["error"]["kind"], kind, "{e}");
    }
}

/// A DCAP client that asks the service's PCCS endpoints for the QE Identity before any TCB
/// Info gets it: fetched from the PCS on the miss, verified on its own, served byte for byte
/// with its issuer chain, asked once; a PCS answering with a tampered body gets a 404 through.
#[test]
fn the_qe_identity_is_fetched_on_a_miss() {
    let qe = recorded("tdx_qe_identity.json");
    let body = qe["enclave_identity_json"].as_str().unwrap();
    for tampered in [false, true] {
        let mut routes = pcs_routes();
        if tampered {
            let list = routes.get_mut("/tdx/certification/v4/qe/identity").unwrap();
            list[0].body = body
                .replacen(
                    "\"tcbEvaluationDataNumber\":17",
                    "\"tcbEvaluationDataNumber\":18",
                    1,
                )
                .into_bytes();
        }
        let (base, hits) = serve_counting(routes);
        let server = pccs_server(&base);
        let url = format!("{}/tdx/certification/v4/qe/identity", server.url());
        let (head, got) = http_get(&url);
        if tampered {
            assert!(head.starts_with("http/1.1 404"), "{head}");
            continue;
        }
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(got, body.as_bytes());
        assert!(
            head.contains("sgx-enclave-identity-issuer-chain: "),
            "{head}"
        );
        let (_, again) = http_get(&url);
        assert_eq!(again, body.as_bytes());
        let h = hits.lock().unwrap();
        assert_eq!(
            h.get("/tdx/certification/v4/qe/identity"),
            Some(&1),
            "{h:?}"
        );
        assert_eq!(h.get("/tdx/certification/v4/tcb?fmspc=00806F050000"), None);
    }
}

/// A second independent client of the service's PCCS endpoints: the `intel-dcap-api` crate's
/// Intel PCS API client (matter-labs/teepot), pointed at `coco serve` as its base URL, fetches
/// the TCB Info, QE Identity and PCK CRL of a real quote's platform (coco fetching them from the
/// loopback PCS on the way); with them, the quote verifies to the status coco reaches with
/// collateral from the PCS itself.
#[test]
fn intel_dcap_api_fetches_collateral_from_the_services_pccs_endpoints() {
    use intel_dcap_api::{ApiClient, CaType, CrlEncoding};

    let base = serve(pcs_routes());
    let server = pccs_server(&base);
    let quote = coco_core::vectors::dir().join("tdx/v4-gcp-cos-padded-go-tdx-guest/quote.bin");
    let fmspc = hex::encode_upper(
        coco_release::collateral::pcs::quote_ids(&std::fs::read(&quote).unwrap())
            .unwrap()
            .fmspc,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tcb, qe, crl) = rt.block_on(async {
        let client = ApiClient::new_with_base_url(format!("{}/", server.url()).as_str()).unwrap();
        let tcb = client.get_tdx_tcb_info(&fmspc, None, None).await.unwrap();
        let qe = client.get_tdx_qe_identity(None, None).await.unwrap();
        let crl = client
            .get_pck_crl(CaType::Platform, Some(CrlEncoding::Der))
            .await
            .unwrap();
        (tcb, qe, crl)
    });
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("theirs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tcb_info.json"), &tcb.tcb_info_json).unwrap();
    std::fs::write(dir.join("qe_identity.json"), &qe.enclave_identity_json).unwrap();
    std::fs::write(dir.join("tcb_signing_chain.pem"), &tcb.issuer_chain).unwrap();
    std::fs::write(dir.join("pck_crl.der"), &crl.crl_data).unwrap();
    // The Root CA CRL from the same service (the client has no call for it).
    let (_, hex_der) = http_get(&format!("{}/sgx/certification/v4/rootcacrl", server.url()));
    let root = hex::decode(String::from_utf8(hex_der).unwrap().trim()).unwrap();
    std::fs::write(dir.join("root_ca_crl.der"), root).unwrap();
    let verify = |dir: &str| {
        let out = coco_env(
            &[
                "evidence",
                "verify",
                "--platform",
                "tdx",
                quote.to_str().unwrap(),
                "--collateral",
                dir,
                "--at",
                AT,
                "--json",
            ],
            t.path(),
            &[],
        );
        ok(&out);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let theirs = verify("theirs");
    ok(&fetch(t.path(), &base, "ours", &["--at", AT]));
    let ours = verify("ours");
    assert_eq!(theirs["claims"]["revocation_checked"], true, "{theirs}");
    assert_eq!(theirs["claims"]["tcb_status"], ours["claims"]["tcb_status"]);
    assert_eq!(theirs["claims"]["fmspc"], ours["claims"]["fmspc"]);
}
