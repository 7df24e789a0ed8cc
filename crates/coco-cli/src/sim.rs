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
    /// Print evidence of the simulated TEE under DIR (from `coco sim init DIR`) that any client
    /// can send to a service started with `--sim-root DIR/root.pem` (demos, tests, clients in
    /// other languages). One JSON object on stdout: coco's wire form
    /// (`{"platform","evidence","certs"}`; a list for GPUs) or, with --kbs-json, the KBS
    /// protocol's: the `primary_evidence` of tee `snp`, or the `additional_evidence` object
    /// of the GPUs (send its exact text as the string).
    Evidence {
        /// The directory of `coco sim init`.
        dir: PathBuf,
        /// snp (a CPU report) or nvidia (GPU reports).
        #[arg(long, value_parser = ["snp", "nvidia"])]
        platform: String,
        /// SNP: the report data (hex, up to 64 bytes, zero-padded), e.g. the KBS binding.
        #[arg(long, value_name = "HEX", conflicts_with = "nonce")]
        report_data: Option<String>,
        /// NVIDIA: the request nonce (32 bytes, hex).
        #[arg(long, value_name = "HEX")]
        nonce: Option<String>,
        /// SNP: the launch measurement (48 bytes, hex; default zeros).
        #[arg(long, value_name = "HEX")]
        measurement: Option<String>,
        /// SNP: HOST_DATA (32 bytes, hex; e.g. `coco initdata digest --platform snp`).
        #[arg(long, value_name = "HEX")]
        host_data: Option<String>,
        /// SNP: set the debug bit of the guest policy.
        #[arg(long)]
        debug: bool,
        /// NVIDIA: how many GPUs (serials 1..=N).
        #[arg(long, default_value_t = 1, value_name = "N")]
        gpus: u64,
        /// Print the KBS protocol's shape instead of coco's.
        #[arg(long)]
        kbs_json: bool,
    },
}

/// `hex` as exactly `N` bytes (or at most `N`, zero-padded, with `pad`).
fn hex_arg<const N: usize>(flag: &str, hex: &str, pad: bool) -> Result<[u8; N], String> {
    let b = hex::decode(hex.trim()).map_err(|_| format!("{flag} {hex:?}: not hex"))?;
    if b.len() > N || (!pad && b.len() != N) {
        return Err(format!(
            "{flag}: {} bytes, {}{N}",
            b.len(),
            if pad { "at most " } else { "exactly " }
        ));
    }
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(&b);
    Ok(out)
}

/// `coco sim evidence`.
#[allow(clippy::too_many_arguments)]
fn evidence(
    dir: &Path,
    platform: &str,
    report_data: Option<&str>,
    nonce: Option<&str>,
    measurement: Option<&str>,
    host_data: Option<&str>,
    debug: bool,
    gpus: u64,
    kbs_json: bool,
) -> CmdResult {
    use coco_release::simkit::SimAttester;
    use coco_release::workload::Attester;
    let root = load_root(dir)?;
    let cvm = SimAttester {
        platform: root.platform()?,
        vm: coco_evidence::sim::SimVm {
            measurement: measurement
                .map(|m| hex_arg::<48>("--measurement", m, false))
                .transpose()?
                .unwrap_or([0; 48]),
            host_data: host_data
                .map(|h| hex_arg::<32>("--host-data", h, false))
                .transpose()?
                .unwrap_or([0; 32]),
            policy: if debug { 0x30000 | 1 << 19 } else { 0x30000 },
            guest_svn: 1,
        },
        gpus: (1..=gpus).map(sim_gpu).collect(),
    };
    let out = match platform {
        "snp" => {
            let rd = report_data.ok_or("--platform snp needs --report-data HEX")?;
            let cpu = cvm.cpu_evidence(&hex_arg::<64>("--report-data", rd, true)?)?;
            if kbs_json {
                coco_release::kbs::client::primary_evidence(&cpu, 64)?
            } else {
                serde_json::to_value(&cpu)?
            }
        }
        _ => {
            let n = nonce.ok_or("--platform nvidia needs --nonce HEX")?;
            let list = cvm.gpu_evidence(&hex_arg::<32>("--nonce", n, false)?)?;
            if kbs_json {
                serde_json::from_str(&coco_release::kbs::client::additional_evidence(&list))?
            } else {
                serde_json::to_value(&list)?
            }
        }
    };
    // One line: with --kbs-json for GPUs, these exact bytes are the `additional_evidence`.
    println!("{out}");
    Ok(())
}

/// Runs `coco sim ...`.
pub fn run(cmd: &SimCommand) -> CmdResult {
    match cmd {
        SimCommand::Evidence {
            dir,
            platform,
            report_data,
            nonce,
            measurement,
            host_data,
            debug,
            gpus,
            kbs_json,
        } => evidence(
            dir,
            platform,
            report_data.as_deref(),
            nonce.as_deref(),
            measurement.as_deref(),
            host_data.as_deref(),
            *debug,
            *gpus,
            *kbs_json,
        ),
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

/// The simulated GPU `coco fetch-key --sim DIR --gpus N` reports (serial `n`): driver
/// 550.54.14, VBIOS 96.00.88.00.11, measurements 1..=4 of bytes 0x01..0x04 (the demo's).
pub fn sim_gpu(serial: u64) -> coco_evidence::sim::SimGpu {
    coco_evidence::sim::SimGpu {
        driver_version: "550.54.14".into(),
        vbios_version: "96.00.88.00.11".into(),
        measurements: (1..=4).map(|i| (i, [i as u8; 48])).collect(),
        cc_mode: true,
        devtools_mode: false,
        serial,
    }
}
