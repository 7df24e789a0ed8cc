//! The CPU's evidence through the kernel's configfs-tsm interface
//! (`/sys/kernel/config/tsm/report`): create an entry, write the 64 bytes of report data to
//! `inblob`, read `outblob` (the TDX quote or SNP report) and, for SNP, `auxblob` (the
//! certificate table the host provisioned), check that no other writer raced on the entry
//! (`generation`), remove the entry.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{EvidenceError, Result};
use crate::snp::cert_table;

/// The kernel's default mount point.
pub const DEFAULT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// Which TEE answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Intel TDX (`tdx_guest`): the report is a quote.
    Tdx,
    /// AMD SEV-SNP (`sev_guest`): the report is an attestation report.
    Snp,
}

/// What configfs-tsm returned for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmReport {
    /// Which TEE answered.
    pub provider: Provider,
    /// `outblob`: the TDX quote or SNP report.
    pub report: Vec<u8>,
    /// SNP: the host's certificates from `auxblob` as a PEM bundle (VCEK/VLEK, ASK, ARK),
    /// if the host provided a table.
    pub certs_pem: Option<String>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn io(path: &Path, e: std::io::Error) -> EvidenceError {
    EvidenceError::Collect {
        source_name: format!("configfs-tsm {}", path.display()),
        reason: e.to_string(),
    }
}

fn collect_err(path: &Path, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Collect {
        source_name: format!("configfs-tsm {}", path.display()),
        reason: reason.into(),
    }
}

fn read_u64(path: &Path) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(|e| io(path, e))?;
    s.trim()
        .parse()
        .map_err(|_| collect_err(path, format!("{:?} is not a number", s.trim())))
}

/// Reads `path`, waiting up to 2 s for it to appear and for `ready` to hold. On configfs
/// attributes exist as soon as the entry does and the report is produced synchronously, so
/// this returns at once; the wait serves user-space implementations of the interface.
fn read_when(path: &Path, ready: impl Fn() -> bool) -> Result<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if ready() {
            match fs::read(path) {
                Ok(b) => return Ok(b),
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(path, e)),
                Err(_) => {}
            }
        }
        if Instant::now() > deadline {
            return Err(collect_err(path, "not ready"));
        }
        std::thread::sleep(Duration::from_millis(1));
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

/// Asks configfs-tsm under `root` (normally [`DEFAULT_ROOT`]) for a report carrying
/// `report_data`.
pub fn report(root: &Path, report_data: &[u8; 64]) -> Result<TsmReport> {
    let name = format!(
        "coco-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let dir = root.join(name);
    fs::create_dir(&dir).map_err(|e| io(&dir, e))?;
    let entry = Entry(dir);
    let d = &entry.0;
    let generation = d.join("generation");
    read_when(&generation, || generation.exists())?;
    let before = read_u64(&generation)?;
    fs::write(d.join("inblob"), report_data).map_err(|e| io(&d.join("inblob"), e))?;
    let report = read_when(&d.join("outblob"), || {
        read_u64(&generation).is_ok_and(|g| g > before)
    })?;
    let after = read_u64(&generation)?;
    if after != before + 1 {
        return Err(collect_err(
            &generation,
            format!("went from {before} to {after}: another writer raced us"),
        ));
    }
    let provider =
        fs::read_to_string(d.join("provider")).map_err(|e| io(&d.join("provider"), e))?;
    match provider.trim() {
        "tdx_guest" => Ok(TsmReport {
            provider: Provider::Tdx,
            report,
            certs_pem: None,
        }),
        "sev_guest" => {
            let aux = fs::read(d.join("auxblob")).unwrap_or_default();
            Ok(TsmReport {
                provider: Provider::Snp,
                report,
                certs_pem: if aux.is_empty() {
                    None
                } else {
                    Some(cert_table::to_pem(&aux)?)
                },
            })
        }
        other => Err(collect_err(
            &d.join("provider"),
            format!("{other:?} is not tdx_guest or sev_guest"),
        )),
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
                            table.extend_from_slice(&cert_table::CERT_GUIDS[0].1);
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
        let ev = report(t.path(), &[0x42; 64]).unwrap();
        assert_eq!(ev.provider, Provider::Snp);
        let out = ev.report;
        assert_eq!(&out[..7], b"REPORT:");
        assert_eq!(&out[7..], &[0x42; 64]);
        let pem = ev.certs_pem.unwrap();
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
        let err = report(t.path(), &[0; 64]).unwrap_err();
        assert!(matches!(err, EvidenceError::Collect { .. }), "{err:?}");
        stop.store(true, Ordering::Relaxed);
        k.join().unwrap();
        assert!(matches!(
            cert_table::to_pem(&[1; 30]),
            Err(EvidenceError::Malformed {
                field: "offset",
                offset: 16,
                ..
            })
        ));
        let mut t = cert_table::CERT_GUIDS[0].1.to_vec();
        t.extend_from_slice(&1000u32.to_le_bytes());
        t.extend_from_slice(&10u32.to_le_bytes());
        t.extend_from_slice(&[0; 24]);
        assert!(matches!(
            cert_table::to_pem(&t),
            Err(EvidenceError::Malformed {
                field: "offset",
                offset: 16,
                ..
            })
        ));
        // No terminating entry.
        assert!(matches!(
            cert_table::to_pem(&[0; 10]),
            Err(EvidenceError::Malformed {
                field: "GUID",
                offset: 0,
                ..
            })
        ));
        // No configfs at all.
        assert!(matches!(
            report(Path::new("/nonexistent/tsm"), &[0; 64]),
            Err(EvidenceError::Collect { .. })
        ));
    }
}
