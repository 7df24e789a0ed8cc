//! `coco sim init`: a simulated TEE root kept on disk, for demos and tests without hardware
//! (`coco fetch-key --sim DIR`, `coco serve --sim-root DIR/root.pem`).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use coco_evidence::sim::SimRoot;

use crate::CmdResult;

/// `coco sim ...`.
#[derive(Subcommand)]
pub enum SimCommand {
    /// Create a simulated TEE root: DIR/root.pem (give it to `coco serve --sim-root`) and
    /// DIR/root.key (mode 0600; used by `coco fetch-key --sim DIR`). Refuses to overwrite.
    Init {
        /// The directory (created if missing).
        dir: PathBuf,
    },
}

/// Runs `coco sim ...`.
pub fn run(cmd: &SimCommand) -> CmdResult {
    match cmd {
        SimCommand::Init { dir } => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let root = SimRoot::generate()?;
            let key = root.key_pem()?;
            write_new(&dir.join("root.key"), key.as_bytes(), 0o600)?;
            write_new(
                &dir.join("root.pem"),
                root.cert().to_pem().as_bytes(),
                0o644,
            )?;
            eprintln!(
                "wrote {} and {} (a simulated TEE root: for demos and tests only)",
                dir.join("root.pem").display(),
                dir.join("root.key").display()
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
