//! A bounded loopback load run of the key-release service (not run by the tests; numbers for
//! the closing note): `cargo run --release -p coco-release --example load -- [RELEASES] [BOMBS]`.
//!
//! 1. RELEASES concurrent legitimate releases (simulated TEE, one GPU) from 64 threads: errors,
//!    p50 and p99 latency, and the service's CPU time per release (user + system, from
//!    /proc/PID/stat; the clients' work, which includes signing the simulated evidence, is
//!    not counted).
//! 2. BOMBS requests whose GPU evidence carries a 2,000-certificate chain that never reaches
//!    NVIDIA's root (the "chain-cache bomb"), with a legitimate release in parallel: the
//!    service's resident memory before and after, and the link cache's size.
//!
//! Everything talks to 127.0.0.1 and stops by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coco_evidence::sim::SimRoot;
use coco_release::http::{Client, Limits, Server};
use coco_release::keystore::MemoryKeyStore;
use coco_release::wrap::Kem;
use coco_release::{simkit, workload};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The process's CPU time (user + system) in milliseconds, from /proc/PID/stat (clock ticks
/// of 10 ms, USER_HZ = 100 on Linux).
fn cpu_ms(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) in parentheses.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) * 10.0)
        })
        .unwrap_or(0.0)
}

/// One legitimate release (challenge, evidence, release, unwrap) and how long it took; panics
/// with `what` if the service refuses.
fn release(client: &Client, cvm: &coco_release::simkit::SimAttester, what: &str) -> Duration {
    let t0 = Instant::now();
    let c = client.challenge().unwrap();
    let (b, k) = workload::bundle(cvm, &c, "model-1", Kem::P384).unwrap();
    let r = client.release(&b).expect(what);
    workload::unwrap(&r, &k, "model-1").unwrap();
    t0.elapsed()
}

/// The service side, in its own process (so that its memory is measured alone): prints its
/// address, the simulated root's certificate and key, and serves until stdin closes.
fn serve() {
    let root = SimRoot::generate().unwrap();
    let keys = MemoryKeyStore::default();
    keys.put("model-1", &coco_seal::Dek::generate().unwrap());
    let service = Arc::new(simkit::service(&root, Box::new(keys), 1).unwrap());
    let limits = Limits {
        max_body_bytes: 8 << 20,
        ..Limits::default()
    };
    let server = Server::start(service.clone(), "127.0.0.1:0".parse().unwrap(), limits).unwrap();
    println!("{}", server.addr());
    println!("{}", hex::encode(root.cert().to_pem()));
    println!("{}", hex::encode(root.key_pem().unwrap().as_bytes()));
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    eprintln!("link cache {} entries", service.sizes().cached_links);
    drop(server);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--serve") {
        return serve();
    }
    let releases: usize = first.and_then(|a| a.parse().ok()).unwrap_or(1000);
    let bombs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut read = || {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut out, &mut l).unwrap();
        l.trim().to_string()
    };
    let url = format!("http://{}", read());
    let cert = hex::decode(read()).unwrap();
    let key = String::from_utf8(hex::decode(read()).unwrap()).unwrap();
    let root = SimRoot::from_pem(&cert, &key).unwrap();
    let cvm = Arc::new(simkit::attester(&root, 1).unwrap());

    // 1. Concurrent legitimate releases.
    let threads = 64.min(releases.max(1));
    let cpu_before = cpu_ms(pid);
    let started = Instant::now();
    let mut lat: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (url, cvm) = (url.clone(), cvm.clone());
                s.spawn(move || {
                    let client = Client::new(&url).unwrap();
                    let mut out = Vec::new();
                    for _ in (t..releases).step_by(threads) {
                        out.push(release(&client, &cvm, "a legitimate release"));
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let cpu = cpu_ms(pid) - cpu_before;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "releases: {} ok, 0 errors, {threads} threads, {:.1} s wall, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms; service CPU {:.2} ms per release",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        cpu / lat.len() as f64
    );

    // 2. The chain bomb: 2,000 certificates that never reach NVIDIA's root.
    let certs: String = {
        let other = SimRoot::generate().unwrap();
        let pem = other.cert().to_pem();
        (0..2000).map(|_| pem.as_str()).collect()
    };
    let before = rss_kib(pid);
    let bomb_started = Instant::now();
    let refused = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (url, cvm, certs, refused) = (url.clone(), cvm.clone(), &certs, &refused);
            s.spawn(move || {
                let client = Client::new(&url).unwrap();
                for _ in (t..bombs).step_by(8) {
                    let c = client.challenge().unwrap();
                    let (mut b, _) =
                        workload::bundle(cvm.as_ref(), &c, "model-1", Kem::P384).unwrap();
                    b.gpus[0].platform = "nvidia".into();
                    b.gpus[0].certs = Some(certs.clone());
                    if client.release(&b).is_err() {
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        // A legitimate release meanwhile.
        let client = Client::new(&url).unwrap();
        let took = release(&client, &cvm, "a legitimate release during the bomb");
        println!(
            "legitimate release during the bomb: {:.1} ms",
            took.as_secs_f64() * 1e3
        );
    });
    let after = rss_kib(pid);
    println!(
        "chain bomb: {} of {bombs} refused in {:.1} s ({} PEM bytes each); service RSS {} -> {} KiB ({:+} KiB)",
        refused.into_inner(),
        bomb_started.elapsed().as_secs_f64(),
        certs.len(),
        before,
        after,
        after as i64 - before as i64,
    );

    // 3. Slowloris: 1,000 idle, half-header and slow-body sockets from 127.0.0.2..=5 (250 each,
    // under the per-address cap), and a legitimate release from 127.0.0.1 meanwhile.
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut socks = Vec::new();
    for i in 0..1000usize {
        let src = format!("127.0.0.{}:0", 2 + i % 4);
        let s = rt.block_on(async {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind(src.parse().unwrap()).unwrap();
            s.connect(addr).await.map(|s| s.into_std().unwrap())
        });
        if let Ok(mut s) = s {
            use std::io::Write;
            s.set_nonblocking(false).unwrap();
            let _ = match i % 3 {
                0 => Ok(()),
                1 => s.write_all(b"POST /v1/release HTTP/1.1\r\nHost: x\r\n"),
                _ => s.write_all(
                    b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{",
                ),
            };
            socks.push(s);
        }
    }
    let client = Client::new(&url).unwrap();
    let took = release(
        &client,
        &cvm,
        "a legitimate release among 1,000 stalled sockets",
    );
    println!(
        "slowloris: {} stalled sockets open, legitimate release in {:.1} ms",
        socks.len(),
        took.as_secs_f64() * 1e3
    );
    let t0 = Instant::now();
    let mut closed = 0;
    for s in &mut socks {
        use std::io::Read;
        s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        let mut buf = Vec::new();
        if s.read_to_end(&mut buf).is_ok() {
            closed += 1;
        }
    }
    println!(
        "slowloris: {closed} of {} closed by the service within {:.1} s",
        socks.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(child.stdin.take());
    let _ = child.wait();
}
