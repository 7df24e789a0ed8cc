//! The OCSP client against a responder on loopback that signs with the simulated PKI's
//! responder: every certificate between the leaf and the root is asked about with a fresh
//! nonce, and the answers are verified with it. A replayed answer (another request's nonce), a
//! revoked certificate, a tampered body, a 404 and a 429 with Retry-After are each handled as
//! the kind they are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use coco_evidence::EvidenceError;
use coco_evidence::ocsp::{CertStatus, RevokedInfo};
use coco_evidence::sim::ocsp::{SimAnswer, SimOcspPki};
use coco_release::collateral::ocsp::OcspClient;
use coco_release::collateral::pcs::FetchError;
use coco_release::tls::ClientTls;

type Handler = dyn Fn(usize, &[u8]) -> (u16, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync;

/// A loopback HTTP/1.1 server: each request's body goes to `handler` with the request's
/// number (from 0); its answer is sent back. Returns the URL.
fn responder(handler: Arc<Handler>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
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
            let mut body = vec![0u8; len.min(1 << 16)];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let (status, headers, answer) = handler(n, &body);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                answer.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&answer);
        }
    });
    url
}

fn ok(der: Vec<u8>) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    (
        200,
        vec![("Content-Type", "application/ocsp-response".into())],
        der,
    )
}

fn client(url: &str) -> OcspClient {
    OcspClient::new(url, &ClientTls::default()).unwrap()
}

#[test]
fn every_ca_of_the_chain_is_asked_about_with_a_fresh_nonce() {
    let pki = Arc::new(SimOcspPki::generate().unwrap());
    let nonces: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let (p, seen) = (pki.clone(), nonces.clone());
    let url = responder(Arc::new(move |_, req: &[u8]| {
        let a = SimAnswer::for_request(req).unwrap();
        seen.lock().unwrap().push(a.nonce.clone().unwrap());
        ok(p.responder.respond(&a, &[&p.responder.cert]).unwrap())
    }));
    let got = client(&url)
        .fetch_chain(&pki.chain, 1..3, SystemTime::now())
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|g| g.status.status == "good" && g.status.nonce_matched)
    );
    assert_eq!(got[0].status.cert, "Sim GSP BROM");
    assert_eq!(got[1].status.cert, "Sim Provisioner ICA");
    let n = nonces.lock().unwrap();
    assert_eq!(n.len(), 2);
    assert!(n[0].len() == 32 && n[0] != n[1], "{n:?}");
}

#[test]
fn replayed_revoked_and_tampered_answers_are_refused() {
    let pki = Arc::new(SimOcspPki::generate().unwrap());
    // An answer recorded for an earlier request (its nonce, not the new one).
    let old = SimAnswer::good(&pki.cas(), Some(&[3u8; 32])).unwrap();
    let replayed = pki.responder.respond(&old, &[&pki.responder.cert]).unwrap();
    let url = responder(Arc::new(move |_, _: &[u8]| ok(replayed.clone())));
    let e = client(&url)
        .fetch(&pki.chain[1], &pki.chain[2], pki.root(), SystemTime::now())
        .unwrap_err();
    assert!(
        matches!(&e, FetchError::Verify(EvidenceError::Ocsp { .. })),
        "{e}"
    );

    let p = pki.clone();
    let url = responder(Arc::new(move |_, req: &[u8]| {
        let mut a = SimAnswer::for_request(req).unwrap();
        a.entries[0].1 = CertStatus::Revoked(RevokedInfo {
            revocation_time: der::asn1::GeneralizedTime::from_unix_duration(
                std::time::Duration::from_secs(1_700_000_000),
            )
            .unwrap(),
            revocation_reason: None,
        });
        ok(p.responder.respond(&a, &[&p.responder.cert]).unwrap())
    }));
    let e = client(&url)
        .fetch_chain(&pki.chain, 1..3, SystemTime::now())
        .unwrap_err();
    assert!(
        matches!(&e, FetchError::Verify(EvidenceError::Revoked { cert, .. }) if cert == "Sim GSP BROM"),
        "{e}"
    );

    let p = pki.clone();
    let url = responder(Arc::new(move |_, req: &[u8]| {
        let a = SimAnswer::for_request(req).unwrap();
        let mut der = p.responder.respond(&a, &[&p.responder.cert]).unwrap();
        let i = der.len() / 3;
        der[i] ^= 0x20;
        ok(der)
    }));
    let e = client(&url)
        .fetch(&pki.chain[1], &pki.chain[2], pki.root(), SystemTime::now())
        .unwrap_err();
    assert_eq!(e.kind(), "verify", "{e}");
}

#[test]
fn http_statuses_are_honoured() {
    let pki = Arc::new(SimOcspPki::generate().unwrap());
    let url = responder(Arc::new(|_, _: &[u8]| (404, vec![], b"no".to_vec())));
    let e = client(&url)
        .fetch(&pki.chain[1], &pki.chain[2], pki.root(), SystemTime::now())
        .unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 404, .. }), "{e}");
    // A 429 with a short Retry-After is waited out once.
    let p = pki.clone();
    let url = responder(Arc::new(move |n, req: &[u8]| {
        if n == 0 {
            return (429, vec![("Retry-After", "1".into())], vec![]);
        }
        let a = SimAnswer::for_request(req).unwrap();
        ok(p.responder.respond(&a, &[&p.responder.cert]).unwrap())
    }));
    let got = client(&url)
        .fetch(&pki.chain[1], &pki.chain[2], pki.root(), SystemTime::now())
        .unwrap();
    assert_eq!(got.status.status, "good");
    // A long one is returned as the error.
    let url = responder(Arc::new(|_, _: &[u8]| {
        (429, vec![("Retry-After", "3600".into())], vec![])
    }));
    let e = client(&url)
        .fetch(&pki.chain[1], &pki.chain[2], pki.root(), SystemTime::now())
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::Status {
                status: 429,
                retry_after: Some(3600),
                ..
            }
        ),
        "{e}"
    );
}

/// The service's cache: one request per certificate until half way through the answer's
/// window; while the responder is down a cached answer is used inside its window, and past it
/// the source is unavailable (a service cannot decide: 503), never stale.
#[test]
fn the_cache_asks_once_refreshes_and_never_serves_stale_answers() {
    use coco_evidence::ocsp::OcspSource;
    use coco_release::collateral::ocsp::OcspCache;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;
    let pki = Arc::new(SimOcspPki::generate().unwrap());
    let (asked, down) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (p, a, d) = (pki.clone(), asked.clone(), down.clone());
    let url = responder(Arc::new(move |_, req: &[u8]| {
        a.fetch_add(1, Ordering::SeqCst);
        if d.load(Ordering::SeqCst) {
            return (500, vec![], vec![]);
        }
        let ans = SimAnswer::for_request(req).unwrap();
        ok(p.responder.respond(&ans, &[&p.responder.cert]).unwrap())
    }));
    let cache = OcspCache::new(client(&url));
    let now = SystemTime::now();
    assert_eq!(cache.responses(&pki.chain, 1..3, now).unwrap().len(), 2);
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(cache.len(), 2);
    cache.responses(&pki.chain, 1..3, now).unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2, "cached");
    // Half way through the window (this_update - 10 min .. + 1 day): asked again; down, so the
    // cached answers, still valid, are used.
    down.store(true, Ordering::SeqCst);
    let later = now + Duration::from_secs(50_000);
    cache.responses(&pki.chain, 1..3, later).unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 4);
    // Past the window, nothing is used.
    let e = cache
        .responses(&pki.chain, 1..3, now + Duration::from_secs(90_000))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            EvidenceError::Collateral(coco_evidence::error::CollateralError::Unavailable { .. })
        ),
        "{e}"
    );
}

/// A service checking GPU chains with OCSP: a real GPU's chain asked about at a responder that
/// answers under another root is the evidence's failure; a responder that cannot be reached
/// leaves the service unable to decide (storage, 503), never a release without the check.
#[test]
fn a_decision_with_ocsp_refuses_forged_answers_and_waits_for_unreachable_responders() {
    use coco_evidence::api::{Evidence, EvidencePlatform};
    use coco_evidence::sim::ocsp::SimSigner;
    use coco_release::ReleaseError;
    use coco_release::collateral::ocsp::OcspCache;
    use coco_release::decision::{Binding, Decider};
    let v = coco_core::vectors::dir().join("nvidia/hopper-h100-550.90.07");
    let mut e = Evidence::new(
        EvidencePlatform::Nvidia,
        std::fs::read(v.join("attestation_report.bin")).unwrap(),
    );
    e.certs = coco_evidence::x509::load_certs(&v.join("cert_chain.pem")).unwrap();
    let nonce: [u8; 32] = hex::decode(std::fs::read_to_string(v.join("nonce.hex")).unwrap().trim())
        .unwrap()
        .try_into()
        .unwrap();
    let forger = Arc::new(
        SimSigner::forged("CN=NVIDIA OCSP Responder", "CN=NVIDIA Device Identity CA").unwrap(),
    );
    let f = forger.clone();
    let url = responder(Arc::new(move |_, req: &[u8]| {
        let ans = SimAnswer::for_request(req).unwrap();
        ok(f.respond(&ans, &[&f.cert]).unwrap())
    }));
    let decide = |url: &str| {
        let d = Decider::offline(Default::default(), Default::default())
            .with_ocsp_source(Arc::new(OcspCache::new(client(url))));
        d.decide(
            std::slice::from_ref(&e),
            Binding::GpuNonce(nonce),
            SystemTime::now(),
            None,
        )
    };
    let err = decide(&url).unwrap_err();
    assert!(
        matches!(&err, ReleaseError::Evidence { source, .. } if source.kind() == "chain"),
        "{err}"
    );
    // Nothing listens on a port just released.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let err = decide(&closed).unwrap_err();
    assert!(matches!(&err, ReleaseError::Storage(_)), "{err}");
}
