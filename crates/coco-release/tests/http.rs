//! The service over loopback HTTP: 200 concurrent releases, replays and malformed or oversized
//! requests refused with a 4xx while the service keeps serving.

use std::sync::Arc;

use coco_evidence::sim::{SimRoot, SimTls};
use coco_release::http::{Client, Limits, Server};
use coco_release::keystore::MemoryKeyStore;
use coco_release::simkit;
use coco_release::simkit::SimAttester;
use coco_release::tls::{ClientTls, ServerTls};
use coco_release::workload;
use coco_release::wrap::Kem;
use coco_seal::Dek;

const KEY_ID: &str = "model-1";

fn setup() -> (SimRoot, Server, Dek) {
    setup_with(
        Limits {
            max_body_bytes: 64 * 1024,
            ..Limits::default()
        },
        Box::new(std::io::sink()),
    )
}

fn setup_with(limits: Limits, audit: Box<dyn std::io::Write + Send>) -> (SimRoot, Server, Dek) {
    setup_tls(limits, audit, None)
}

fn setup_tls(
    limits: Limits,
    audit: Box<dyn std::io::Write + Send>,
    tls: Option<ServerTls>,
) -> (SimRoot, Server, Dek) {
    let root = SimRoot::generate().unwrap();
    let keys = MemoryKeyStore::default();
    let dek = Dek::generate().unwrap();
    keys.put(KEY_ID, &dek);
    let service = simkit::service(&root, Box::new(keys), 1)
        .unwrap()
        .with_audit(audit);
    let server = Server::start_with(
        Arc::new(service),
        "127.0.0.1:0".parse().unwrap(),
        limits,
        tls,
    )
    .unwrap();
    (root, server, dek)
}

fn cvm(root: &SimRoot) -> SimAttester {
    simkit::attester(root, 1).unwrap()
}

#[test]
fn two_hundred_concurrent_releases_over_loopback() {
    let (root, server, dek) = setup();
    let base = format!("http://{}", server.addr());
    let a = cvm(&root);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                let client = Client::new(&base).unwrap();
                for _ in 0..20 {
                    let c = client.challenge().unwrap();
                    let (bundle, key) = workload::bundle(&a, &c, KEY_ID, Kem::X25519).unwrap();
                    let resp = client.release(&bundle).unwrap();
                    assert_eq!(
                        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
                        dek.as_bytes()
                    );
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 200);
}

#[test]
fn bad_requests_get_a_4xx_and_the_service_keeps_serving() {
    let (root, server, dek) = setup();
    let client = Client::new(&format!("http://{}", server.addr())).unwrap();
    let a = cvm(&root);
    let c = client.challenge().unwrap();
    let (bundle, key) = workload::bundle(&a, &c, KEY_ID, Kem::P384).unwrap();
    let resp = client.release(&bundle).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        dek.as_bytes()
    );
    // Replayed.
    let e = client.release(&bundle).unwrap_err();
    assert!(
        matches!(
            e,
            coco_release::ReleaseError::Challenge(coco_release::ChallengeError::Replayed)
        ),
        "{e:?}"
    );
    // Malformed JSON, unknown fields, oversized bodies.
    assert_eq!(client.post_raw(b"{not json").unwrap_err().kind(), "request");
    assert_eq!(
        client
            .post_raw(br#"{"version":1,"extra":true}"#)
            .unwrap_err()
            .kind(),
        "request"
    );
    let big = vec![b' '; 100 * 1024];
    let e = client.post_raw(&big).unwrap_err();
    assert_eq!(e.kind(), "request", "{e}");
    let coco_release::ReleaseError::Refused { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail["http_status"], 413, "{e}");
    // A refused appraisal carries its reason.
    let mut other = cvm(&root);
    other.vm.measurement = [9; 48];
    let (b, _) = workload::bundle(&other, &client.challenge().unwrap(), KEY_ID, Kem::P384).unwrap();
    let e = client.release(&b).unwrap_err();
    assert_eq!(e.kind(), "appraisal");
    let coco_release::ReleaseError::Refused { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail["findings"][0]["claim"], "cpu0.measurement", "{e}");
    // Still serving.
    let (b, key) = workload::bundle(&a, &client.challenge().unwrap(), KEY_ID, Kem::P384).unwrap();
    let resp = client.release(&b).unwrap();
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        dek.as_bytes()
    );
    // Ready, and the metrics count what happened.
    let get = |path: &str| {
        ureq::get(format!("http://{}{path}", server.addr()))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    assert_eq!(get("/readyz"), "ready");
    let m = get("/metrics");
    for line in [
        "coco_releases_total 2",
        "coco_refusals_total{kind=\"challenge\"} 1",
        "coco_refusals_total{kind=\"appraisal\"} 1",
        "coco_refusals_total{kind=\"request\"} 3",
        "coco_release_duration_seconds_count 4",
        "coco_ready 1",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }
    assert!(m.lines().any(|l| l.starts_with("coco_link_cache_entries ")));
}

#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Slowloris and stalled uploads from one address (127.0.0.2): idle sockets, half-sent
/// headers and bodies that stall are closed by the server on its timers, the connections
/// beyond the per-peer cap are closed at once, and a legitimate release from another address
/// (127.0.0.1) completes meanwhile within a second. Every refusal is audited with the peer.
#[test]
fn hostile_connections_do_not_block_a_release() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let log = Log::default();
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        // Long enough that every stalled socket is open before the first is closed, even on a
        // loaded machine: the per-peer cap must be met.
        header_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(4),
        max_per_peer: 100,
        ..Limits::default()
    };
    let (root, server, dek) = setup_with(limits, Box::new(log.clone()));
    let addr = server.addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connect = || -> std::net::TcpStream {
        rt.block_on(async {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            s.connect(addr).await.unwrap().into_std().unwrap()
        })
    };
    let mut socks = Vec::new();
    for i in 0..180 {
        let mut s = connect();
        s.set_nonblocking(false).unwrap();
        match i % 3 {
            0 => {}
            1 => {
                let _ = s.write_all(b"POST /v1/release HTTP/1.1\r\nHost: x\r\n");
            }
            _ => {
                let _ = s.write_all(
                    b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"version\":",
                );
            }
        }
        socks.push(s);
    }
    // A legitimate release from another address, while they hang.
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let started = Instant::now();
    let c = client.challenge().unwrap();
    let (bundle, key) = workload::bundle(&cvm(&root), &c, KEY_ID, Kem::P384).unwrap();
    let resp = client.release(&bundle).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
        dek.as_bytes()
    );
    // Every stalled socket is closed by the server: those over the cap at once, idle and
    // half-header ones after the header timer, stalled uploads after the request deadline
    // (with a 408 JSON error).
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut timeouts = 0;
    for s in &mut socks {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        let mut buf = Vec::new();
        match s.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("a stalled socket is still open after 12 s: {e}"),
        }
        let text = String::from_utf8_lossy(&buf);
        if text.starts_with("HTTP/1.1 408") {
            assert!(text.contains("\"kind\":\"timeout\""), "{text}");
            timeouts += 1;
        }
    }
    assert!(timeouts > 0, "stalled uploads get a 408");
    let audit = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["event"] == "refusal"
        && l["kind"] == "connection"
        && l["peer"].as_str().unwrap().starts_with("127.0.0.2:")));
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "refusal" && l["status"] == 408)
    );
    assert!(lines.iter().any(|l| l["event"] == "key-release"
        && l["decision"] == "release"
        && l["peer"].as_str().unwrap().starts_with("127.0.0.1:")));
}

fn tls_identity() -> (SimTls, ServerTls) {
    let id = SimTls::generate(&["localhost", "127.0.0.1"]).unwrap();
    let server = ServerTls::from_pem(
        id.cert.to_pem().as_bytes(),
        id.key_pem().unwrap().as_bytes(),
    )
    .unwrap();
    (id, server)
}

/// Over TLS: a client that trusts the service's CA gets the key; one that trusts another CA
/// (or the system's roots) does not get past the handshake, and a plain-HTTP client neither;
/// failed handshakes are audited with the peer, and a socket that never says hello is closed
/// on the header timer.
#[test]
fn release_over_tls_with_the_service_ca() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let (id, tls) = tls_identity();
    let log = Log::default();
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (root, server, dek) = setup_tls(limits, Box::new(log.clone()), Some(tls));
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let trusting = ClientTls {
        ca_pem: Some(id.ca.to_pem().into_bytes()),
        ..ClientTls::default()
    };
    for base in [
        server.url(),
        format!("https://localhost:{}", server.addr().port()),
    ] {
        let client = Client::with_tls(&base, &trusting).unwrap();
        let c = client.challenge().unwrap();
        let (bundle, key) = workload::bundle(&cvm(&root), &c, KEY_ID, Kem::P384).unwrap();
        let resp = client.release(&bundle).unwrap();
        assert_eq!(
            workload::unwrap(&resp, &key, KEY_ID).unwrap().as_bytes(),
            dek.as_bytes()
        );
    }

    // Another CA: the handshake fails on the client, the service audits it.
    let (other, _) = tls_identity();
    let stranger = ClientTls {
        ca_pem: Some(other.ca.to_pem().into_bytes()),
        ..ClientTls::default()
    };
    let e = Client::with_tls(&server.url(), &stranger)
        .unwrap()
        .challenge()
        .unwrap_err();
    assert_eq!(e.kind(), "transport", "{e}");
    // The system's roots do not hold the demo CA (or there are none: a typed TLS error).
    match Client::new(&server.url()) {
        Ok(c) => assert_eq!(c.challenge().unwrap_err().kind(), "transport"),
        Err(e) => assert!(matches!(
            e,
            coco_release::ReleaseError::Tls(coco_release::tls::TlsError::SystemRoots(_))
        )),
    }
    // Plain HTTP to the TLS port.
    let plain = Client::new(&format!("http://{}", server.addr())).unwrap();
    assert_eq!(plain.challenge().unwrap_err().kind(), "transport");
    // A silent socket is closed on the header timer.
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let audit = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let tls_refusals = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["event"] == "refusal" && l["kind"] == "tls")
        .inspect(|l| assert!(l["peer"].as_str().unwrap().starts_with("127.0.0.1:")))
        .count();
    // The stranger, the plain-HTTP client and the silent socket (and the system-roots client
    // when the machine has roots).
    assert!(tls_refusals >= 3, "{audit}");
}

/// A client refuses plain HTTP to a host other than loopback unless told TLS is terminated in
/// front; a CA file without certificates is a typed error.
#[test]
fn client_refuses_plain_http_off_loopback() {
    let e = Client::new("http://10.1.2.3:8443").unwrap_err();
    assert!(matches!(
        e,
        coco_release::ReleaseError::Tls(coco_release::tls::TlsError::PlainHttp { ref url }) if url == "http://10.1.2.3:8443"
    ));
    assert_eq!(e.kind(), "tls");
    let allowed = ClientTls {
        allow_plain_http: true,
        ..ClientTls::default()
    };
    assert!(Client::with_tls("http://10.1.2.3:8443", &allowed).is_ok());
    let empty = ClientTls {
        ca_pem: Some(b"not a certificate".to_vec()),
        ..ClientTls::default()
    };
    assert!(matches!(
        Client::with_tls("https://keys.example", &empty).unwrap_err(),
        coco_release::ReleaseError::Tls(coco_release::tls::TlsError::Pem {
            what: "CA bundle",
            ..
        })
    ));
}
