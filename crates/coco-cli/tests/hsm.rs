//! `coco keystore import` and `coco serve --keystore pkcs11:...` against SoftHSM2 provisioned
//! with softhsm2-util and OpenSC's pkcs11-tool (Debian packages; .ci/run installs them), and
//! `coco fetch-key --sim` getting the imported key through the service. Loopback only.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const PIN: &str = "user-5678";

fn module() -> PathBuf {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("SoftHSM2 is installed (.ci/run installs softhsm2 and opensc)")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_with_the_kek_in_softhsm() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let conf = d.join("softhsm2.conf");
    std::fs::create_dir(d.join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            d.join("tokens").display()
        ),
    )
    .unwrap();
    let tool = |prog: &str, args: &[&str]| {
        ok(&Command::new(prog)
            .env("SOFTHSM2_CONF", &conf)
            .args(args)
            .output()
            .unwrap())
    };
    let m = module();
    let m = m.to_str().unwrap();
    tool(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "coco",
            "--so-pin",
            "so-1234",
            "--pin",
            PIN,
        ],
    );
    let keygen = |label: &str, extra: &[&str]| {
        let mut args = vec![
            "--module",
            m,
            "--token-label",
            "coco",
            "--login",
            "--pin",
            PIN,
            "--keygen",
            "--key-type",
            "AES:32",
            "--label",
            label,
            "--sensitive",
            "--private",
            "--usage-decrypt",
        ];
        args.extend_from_slice(extra);
        tool("pkcs11-tool", &args);
    };
    keygen("kek", &[]);
    keygen("kek-extractable", &["--extractable"]);
    std::fs::write(d.join("pin"), format!("{PIN}\n")).unwrap();
    std::fs::write(d.join("wrong-pin"), "0000\n").unwrap();

    let coco = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_coco"))
            .env("SOFTHSM2_CONF", &conf)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let uri = |object: &str| format!("pkcs11:token=coco;object={object}?module-path={m}");
    common::service_kit(d, &[("SOFTHSM2_CONF", conf.as_path())]);

    // Import: sealed by the token's KEK; the blob holds no plaintext; idempotent.
    let kek = uri("kek");
    let import = [
        "keystore",
        "import",
        "--keys",
        "store",
        "--keystore",
        &kek,
        "--pin-file",
        "pin",
        "model-1=dek",
    ];
    ok(&coco(&import));
    ok(&coco(&import));
    let dek = std::fs::read(d.join("dek")).unwrap();
    for e in std::fs::read_dir(d.join("store")).unwrap() {
        let blob = std::fs::read(e.unwrap().path()).unwrap();
        assert!(!blob.windows(32).any(|w| w == dek));
    }

    let serve = |object: &str, pin: &str, port: u16| {
        Command::new(env!("CARGO_BIN_EXE_coco"))
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "serve",
                "--keys",
                "store",
                "--keystore",
                &uri(object),
                "--pin-file",
                pin,
                "--reference",
                "refs.cbor",
                "--policy",
                "policy.toml",
                "--ear-key",
                "ear.pem",
                "--sim-root",
                "sim/root.pem",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Misconfigured stores: the service does not start, and says why.
    for (object, pin, why) in [
        ("kek", "wrong-pin", "wrong PIN"),
        ("kek-extractable", "pin", "extractable"),
        ("no-such-kek", "pin", "no key-encryption key"),
    ] {
        let out = serve(object, pin, 1).wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{object} {pin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _service = Kill(serve("kek", "pin", port));
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let fetched = coco(&[
        "fetch-key",
        "--url",
        &format!("http://127.0.0.1:{port}"),
        "--key-id",
        "model-1",
        "--sim",
        "sim",
        "--measurement",
        &"ab".repeat(48),
        "--ear-key",
        "ear.pem.pub",
        "--out",
        "fetched",
    ]);
    ok(&fetched);
    assert_eq!(std::fs::read(d.join("fetched")).unwrap(), dek);
    assert!(Path::new(&d.join("fetched")).exists());
}
