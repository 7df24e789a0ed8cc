//! `coco sim init`: a simulated TEE root kept on disk, for demos and tests without hardware
//! (`coco fetch-key --sim DIR`, `coco serve --sim-root DIR/root.pem`).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use coco_evidence::sim::{SimRoot, SimTls};

use crate::CmdResult;

/// `coco sim ...`.
#[derive(Subcommand)]
pub enum SimCommand {
    /// Create a simulated TEE root: DIR/root.pem (give it to `coco serve --sim-root`) and
    /// DIR/root.key (mode 0600; used by `coco fetch-key --sim DIR`); and a demo TLS identity:
    /// DIR/tls-ca.pem (`coco fetch-key --ca`), DIR/tls-cert.pem and DIR/tls-key.pem
    /// (`coco serve --tls-cert --tls-key`). Refuses to overwrite.
    Init {
        /// The directory (created if missing).
        dir: PathBuf,
        /// The names the demo TLS certificate is valid for (DNS names or IP addresses);
        /// repeatable. Default: localhost, 127.0.0.1 and ::1.
        #[arg(long = "tls-host", value_name = "NAME")]
        tls_hosts: Vec<String>,
    },
}

/// Runs `coco sim ...`.
pub fn run(cmd: &SimCommand) -> CmdResult {
    match cmd {
        SimCommand::Init { dir, tls_hosts } => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let files = [
                "root.key",
                "root.pem",
                "tls-ca.pem",
                "tls-cert.pem",
                "tls-key.pem",
            ];
            // All or nothing: refuse before anything is written.
            if let Some(f) = files.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
                return Err(format!("{}: exists (not overwritten)", f.display()).into());
            }
            let root = SimRoot::generate()?;
            let hosts: Vec<&str> = if tls_hosts.is_empty() {
                vec!["localhost", "127.0.0.1", "::1"]
            } else {
                tls_hosts.iter().map(String::as_str).collect()
            };
            let tls = SimTls::generate(&hosts)?;
            write_new(&dir.join("root.key"), root.key_pem()?.as_bytes(), 0o600)?;
            write_new(
                &dir.join("root.pem"),
                root.cert().to_pem().as_bytes(),
                0o644,
            )?;
            write_new(&dir.join("tls-ca.pem"), tls.ca.to_pem().as_bytes(), 0o644)?;
            write_new(
                &dir.join("tls-cert.pem"),
                tls.cert.to_pem().as_bytes(),
                0o644,
            )?;
            write_new(&dir.join("tls-key.pem"), tls.key_pem()?.as_bytes(), 0o600)?;
            eprintln!(
                "wrote {} and {} (a simulated TEE root), {}, {} and {} (a demo TLS CA and a \
                 certificate for {}): for demos and tests only",
                dir.join("root.pem").display(),
                dir.join("root.key").display(),
                dir.join("tls-ca.pem").display(),
                dir.join("tls-cert.pem").display(),
                dir.join("tls-key.pem").display(),
                hosts.join(", ")
            );
            Ok(())
        }
    }
}

/// Loads the root `coco sim init DIR` wrote.
pub fn load_root(dir: &Path) -> Result<SimRoot, Box<dyn std::error::Error>> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let key = String::from_utf8(read("root.key")?)
        .map_err(|_| format!("{}: not PEM", dir.join("root.key").display()))?;
    Ok(SimRoot::from_pem(&read("root.pem")?, &key)?)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> CmdResult {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}
