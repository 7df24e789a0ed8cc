//! Three `coco serve` replicas sharing a challenge secret and a key store behind HAProxy (the
//! distribution's package; CI installs it): a challenge issued by one replica is accepted by
//! another, and `coco fetch-key` through the load balancer gets the key. Loopback only.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn coco(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {port}");
}

/// Kills the children when the test ends, whatever happens.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn three_replicas_behind_haproxy() {
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("haproxy is not installed (Debian package `haproxy`; .ci/run installs it)");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    common::service_kit(d, &[]);
    ok(&coco(&["keygen", "--out", "challenge.secret"], d));

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut procs = Procs(Vec::new());
    for p in &ports {
        // The same command line for every replica, started one after the other (the first
        // imports the key, the others find it there).
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
                "--challenge-secret",
                "challenge.secret",
                "--listen",
                &format!("127.0.0.1:{p}"),
            ])
            .current_dir(d)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        procs.0.push(child);
        wait_for(*p);
    }

    // A challenge from replica 0, the release at replica 1.
    let root = {
        let key = std::fs::read_to_string(d.join("sim/root.key")).unwrap();
        coco_evidence::sim::SimRoot::from_pem(&std::fs::read(d.join("sim/root.pem")).unwrap(), &key)
            .unwrap()
    };
    let cvm = coco_release::simkit::SimAttester {
        platform: root.platform().unwrap(),
        vm: coco_evidence::sim::SimVm {
            measurement: [0xab; 48],
            host_data: [0; 32],
            policy: 0x30000,
            guest_svn: 1,
        },
        gpus: vec![],
    };
    let url = |p: u16| format!("http://127.0.0.1:{p}");
    let c = coco_release::http::Client::new(&url(ports[0]))
        .unwrap()
        .challenge()
        .unwrap();
    let (bundle, key) =
        coco_release::workload::bundle(&cvm, &c, "model-1", coco_release::wrap::Kem::P384).unwrap();
    let resp = coco_release::http::Client::new(&url(ports[1]))
        .unwrap()
        .release(&bundle)
        .unwrap();
    let dek = std::fs::read(d.join("dek")).unwrap();
    assert_eq!(
        coco_release::workload::unwrap(&resp, &key, "model-1")
            .unwrap()
            .as_bytes()
            .to_vec(),
        dek
    );

    // Through HAProxy (round robin, one server connection per request).
    let front = free_port();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  server r{i} 127.0.0.1:{p}\n"))
        .collect();
    std::fs::write(
        d.join("haproxy.cfg"),
        format!(
            "global\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  option http-server-close\nfrontend kr\n  bind 127.0.0.1:{front}\n  default_backend replicas\nbackend replicas\n  balance roundrobin\n{servers}"
        ),
    )
    .unwrap();
    let check = Command::new(haproxy)
        .args(["-c", "-f", "haproxy.cfg"])
        .current_dir(d)
        .output()
        .unwrap();
    ok(&check);
    procs.0.push(
        Command::new(haproxy)
            .args(["-db", "-f", "haproxy.cfg"])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(front);
    for i in 0..3 {
        let out = format!("fetched-{i}");
        ok(&coco(
            &[
                "fetch-key",
                "--url",
                &url(front),
                "--key-id",
                "model-1",
                "--sim",
                "sim",
                "--measurement",
                &"ab".repeat(48),
                "--ear-key",
                "ear.pem.pub",
                "--out",
                &out,
            ],
            d,
        ));
        assert_eq!(std::fs::read(d.join(&out)).unwrap(), dek);
    }
    // Every replica took part: each audited at least one release.
    let procs_out: Vec<Output> = procs
        .0
        .drain(..3)
        .map(|mut c| {
            let _ = c.kill();
            c.wait_with_output().unwrap()
        })
        .collect();
    for (i, o) in procs_out.iter().enumerate() {
        let audit = String::from_utf8_lossy(&o.stdout);
        assert!(
            audit.contains("\"decision\":\"release\""),
            "replica {i} released nothing:\n{audit}"
        );
    }
}
