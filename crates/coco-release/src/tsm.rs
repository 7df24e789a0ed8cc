//! The workload's CPU evidence from Linux configfs-tsm (`/sys/kernel/config/tsm/report`), the
//! kernel's one interface for TDX quotes and SEV-SNP reports: create a report entry, write the
//! 64-byte report data to `inblob`, read `outblob` (the quote or report), `provider`
//! (`tdx_guest` / `sev_guest`) and, for SNP, `auxblob` (the certificate table), checking
//! `generation` so that a concurrent writer cannot hand us someone else's report.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{ReleaseError, Result};
use crate::wire::{CpuEvidence, GpuEvidence, TdxCollateral};
use crate::workload::Attester;

/// The kernel's default mount point.
pub const DEFAULT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// CPU evidence from configfs-tsm, and with [`TsmAttester::with_gpus`] every NVIDIA GPU's
/// evidence through NVML.
#[derive(Debug, Clone)]
pub struct TsmAttester {
    root: PathBuf,
    collateral: Option<TdxCollateral>,
    snp_crl: Option<String>,
    gpus: bool,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn io(path: &Path, e: std::io::Error) -> ReleaseError {
    ReleaseError::Collect(format!("configfs-tsm {}: {e}", path.display()))
}

fn read_u64(path: &Path) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(|e| io(path, e))?;
    s.trim()
        .parse()
        .map_err(|_| ReleaseError::Collect(format!("{}: not a number", path.display())))
}

/// Reads `path`, waiting up to 2 s for it to appear and for `ready` to hold. On configfs
/// attributes exist as soon as the entry does and the report is produced synchronously, so
/// this returns at once; the wait serves user-space implementations of the interface.
fn read_when(path: &Path, ready: impl Fn() -> bool) -> Result<Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        if ready() {
            match fs::read(path) {
                Ok(b) => return Ok(b),
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(path, e)),
                Err(_) => {}
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(ReleaseError::Collect(format!(
                "configfs-tsm {}: not ready",
                path.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The GUIDs of the SNP certificate table (GHCB spec): VCEK, VLEK, ASK, ARK.
const CERT_GUIDS: [(&str, [u8; 16]); 4] = [
    (
        "VCEK",
        guid(
            0x63da758d,
            0xe664,
            0x4564,
            [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
        ),
    ),
    (
        "VLEK",
        guid(
            0xa8074bc2,
            0xa25a,
            0x483e,
            [0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1],
        ),
    ),
    (
        "ASK",
        guid(
            0x4ab7b379,
            0xbbac,
            0x4fe4,
            [0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82],
        ),
    ),
    (
        "ARK",
        guid(
            0xc0b406a4,
            0xa803,
            0x4952,
            [0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae],
        ),
    ),
];

const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// Parses an SNP certificate table (entries of GUID ‖ offset u32 ‖ length u32, ended by an
/// all-zero entry) into a PEM bundle of the known certificates.
pub fn cert_table_to_pem(table: &[u8]) -> Result<String> {
    let bad = |m: &str| ReleaseError::Collect(format!("SNP certificate table: {m}"));
    let mut pem = String::new();
    let mut at = 0;
    loop {
        let e = table
            .get(at..at + 24)
            .ok_or_else(|| bad("no terminating entry"))?;
        if e.iter().all(|&b| b == 0) {
            break;
        }
        let off = u32::from_le_bytes(e[16..20].try_into().expect("4 bytes")) as usize;
        let len = u32::from_le_bytes(e[20..24].try_into().expect("4 bytes")) as usize;
        let der = off
            .checked_add(len)
            .and_then(|end| table.get(off..end))
            .ok_or_else(|| bad("entry out of bounds"))?;
        if CERT_GUIDS.iter().any(|(_, g)| g[..] == e[..16]) {
            pem.push_str(&coco_evidence::x509::der_to_pem(der));
        }
        at += 24;
    }
    Ok(pem)
}

impl TsmAttester {
    /// An attester over the configfs-tsm report directory `root` (normally [`DEFAULT_ROOT`]),
    /// with TDX collateral to attach (configfs-tsm does not provide it).
    pub fn new(root: &Path, collateral: Option<TdxCollateral>) -> Self {
        Self {
            root: root.to_path_buf(),
            collateral,
            snp_crl: None,
            gpus: false,
        }
    }

    /// Sends AMD's CRL (DER) along with SNP evidence, so the service can check revocation.
    pub fn with_snp_crl(mut self, crl_der: &[u8]) -> Self {
        self.snp_crl = Some(B64.encode(crl_der));
        self
    }

    /// Also attests every NVIDIA GPU (Hopper, Blackwell) through NVML; without NVML or with
    /// confidential computing off, [`Attester::gpu_evidence`] then fails with the reason.
    pub fn with_gpus(mut self, gpus: bool) -> Self {
        self.gpus = gpus;
        self
    }
}

struct Entry(PathBuf);

impl Drop for Entry {
    fn drop(&mut self) {
        // configfs entries are removed with rmdir; a plain directory (tests) needs its files
        // removed first.
        if fs::remove_dir(&self.0).is_err() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

impl Attester for TsmAttester {
    fn gpu_evidence(&self, nonce: &[u8; 32]) -> Result<Vec<GpuEvidence>> {
        if !self.gpus {
            return Ok(Vec::new());
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        coco_evidence::nvidia::collect::collect(nonce)
            .map_err(|e| ReleaseError::Collect(format!("GPU evidence: {e}")))?
            .into_iter()
            .map(|w| {
                let pem = b64
                    .decode(&w.certificate)
                    .map_err(|e| ReleaseError::Collect(format!("GPU chain: {e}")))?;
                Ok(GpuEvidence {
                    platform: "nvidia".into(),
                    evidence: w.evidence,
                    certs: Some(String::from_utf8_lossy(&pem).into_owned()),
                })
            })
            .collect()
    }

    fn cpu_evidence(&self, report_data: &[u8; 64]) -> Result<CpuEvidence> {
        let name = format!(
            "coco-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.root.join(name);
        fs::create_dir(&dir).map_err(|e| io(&dir, e))?;
        let entry = Entry(dir);
        let d = &entry.0;
        let generation = d.join("generation");
        read_when(&generation, || generation.exists())?;
        let before = read_u64(&generation)?;
        fs::write(d.join("inblob"), report_data).map_err(|e| io(&d.join("inblob"), e))?;
        let out = read_when(&d.join("outblob"), || {
            read_u64(&generation).is_ok_and(|g| g > before)
        })?;
        let after = read_u64(&generation)?;
        if after != before + 1 {
            return Err(ReleaseError::Collect(format!(
                "configfs-tsm generation went from {before} to {after}: another writer raced us"
            )));
        }
        let provider =
            fs::read_to_string(d.join("provider")).map_err(|e| io(&d.join("provider"), e))?;
        match provider.trim() {
            "tdx_guest" => Ok(CpuEvidence {
                platform: "tdx".into(),
                evidence: B64.encode(out),
                certs: None,
                collateral: self.collateral.clone(),
                crl: None,
            }),
            "sev_guest" => {
                let aux = fs::read(d.join("auxblob")).unwrap_or_default();
                Ok(CpuEvidence {
                    platform: "snp".into(),
                    evidence: B64.encode(out),
                    certs: if aux.is_empty() {
                        None
                    } else {
                        Some(cert_table_to_pem(&aux)?)
                    },
                    collateral: None,
                    crl: self.snp_crl.clone(),
                })
            }
            other => Err(ReleaseError::Collect(format!(
                "configfs-tsm provider {other:?} is not tdx_guest or sev_guest"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes atomically (temporary file, then rename), as the kernel's attributes appear.
    fn put(path: &Path, data: impl AsRef<[u8]>) {
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, data).unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    /// A user-space stand-in for the kernel: populates new entries and answers inblob writes
    /// with an SNP-shaped blob that embeds the report data.
    fn fake_kernel(
        root: PathBuf,
        provider: &'static str,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut populated = std::collections::HashSet::new();
            let mut answered = std::collections::HashSet::new();
            while !stop.load(Ordering::Relaxed) {
                for e in fs::read_dir(&root).unwrap().flatten() {
                    let d = e.path();
                    if populated.insert(d.clone()) {
                        put(&d.join("provider"), format!("{provider}\n"));
                        put(&d.join("generation"), "0\n");
                    }
                    if let Ok(inblob) = fs::read(d.join("inblob"))
                        && inblob.len() == 64
                        && answered.insert(d.clone())
                    {
                        {
                            let mut out = b"REPORT:".to_vec();
                            out.extend_from_slice(&inblob);
                            put(&d.join("outblob"), out);
                            let mut table = Vec::new();
                            table.extend_from_slice(&CERT_GUIDS[0].1);
                            table.extend_from_slice(&48u32.to_le_bytes());
                            table.extend_from_slice(&3u32.to_le_bytes());
                            table.extend_from_slice(&[0u8; 24]);
                            table.extend_from_slice(b"DER");
                            put(&d.join("auxblob"), table);
                            put(&d.join("generation"), "1\n");
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    }

    #[test]
    fn reads_a_report_through_a_fake_configfs_tree() {
        let t = tempfile::tempdir().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let k = fake_kernel(t.path().to_path_buf(), "sev_guest", stop.clone());
        let a = TsmAttester::new(t.path(), None);
        let ev = a.cpu_evidence(&[0x42; 64]).unwrap();
        assert_eq!(ev.platform, "snp");
        let out = B64.decode(&ev.evidence).unwrap();
        assert_eq!(&out[..7], b"REPORT:");
        assert_eq!(&out[7..], &[0x42; 64]);
        let pem = ev.certs.unwrap();
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE-----\nREVS\n"),
            "{pem}"
        );
        // The entry is removed afterwards.
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
        stop.store(true, Ordering::Relaxed);
        k.join().unwrap();
    }

    #[test]
    fn an_unknown_provider_and_a_broken_table_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let k = fake_kernel(t.path().to_path_buf(), "arm_cca_guest", stop.clone());
        let err = TsmAttester::new(t.path(), None)
            .cpu_evidence(&[0; 64])
            .unwrap_err();
        assert!(err.to_string().contains("arm_cca_guest"), "{err}");
        stop.store(true, Ordering::Relaxed);
        k.join().unwrap();
        assert!(cert_table_to_pem(&[1; 30]).is_err());
        let mut t = CERT_GUIDS[0].1.to_vec();
        t.extend_from_slice(&1000u32.to_le_bytes());
        t.extend_from_slice(&10u32.to_le_bytes());
        t.extend_from_slice(&[0; 24]);
        assert!(cert_table_to_pem(&t).is_err());
        // No configfs at all.
        assert!(
            TsmAttester::new(Path::new("/nonexistent/tsm"), None)
                .cpu_evidence(&[0; 64])
                .is_err()
        );
    }
}
