//! The workload's CPU evidence from Linux configfs-tsm and its GPUs' evidence from NVML, as
//! the wire shapes of key release. The collection itself is
//! [`coco_evidence::collect`]'s ([`tsm`](coco_evidence::collect::tsm),
//! [`nvml`](coco_evidence::collect::nvml)).

use std::path::{Path, PathBuf};

use coco_evidence::collect::tsm::{self, Provider};

use crate::error::{ReleaseError, Result};
use crate::wire::{Base64, CpuEvidence, GpuEvidence, TdxCollateral};
use crate::workload::Attester;

pub use coco_evidence::collect::tsm::DEFAULT_ROOT;

/// CPU evidence from configfs-tsm, and with [`TsmAttester::with_gpus`] every NVIDIA GPU's
/// evidence through NVML (both collected by [`coco_evidence::collect`]).
#[derive(Debug, Clone)]
pub struct TsmAttester {
    root: PathBuf,
    collateral: Option<TdxCollateral>,
    snp_crl: Option<Base64>,
    gpus: bool,
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
        self.snp_crl = Some(crl_der.into());
        self
    }

    /// Also attests every NVIDIA GPU (Hopper, Blackwell) through NVML; without NVML or with
    /// confidential computing off, [`Attester::gpu_evidence`] then fails with the reason.
    pub fn with_gpus(mut self, gpus: bool) -> Self {
        self.gpus = gpus;
        self
    }
}

impl Attester for TsmAttester {
    fn gpu_evidence(&self, nonce: &[u8; 32]) -> Result<Vec<GpuEvidence>> {
        if !self.gpus {
            return Ok(Vec::new());
        }
        let gpus = coco_evidence::collect::nvml::collect(nonce)
            .map_err(|e| ReleaseError::Collect(format!("GPU evidence: {e}")))?;
        Ok(gpus
            .into_iter()
            .map(|g| GpuEvidence {
                platform: "nvidia".into(),
                certs: Some(String::from_utf8_lossy(&g.pem_chain).into_owned()),
                evidence: g.report.into(),
            })
            .collect())
    }

    fn cpu_evidence(&self, report_data: &[u8; 64]) -> Result<CpuEvidence> {
        let r = tsm::report(&self.root, report_data)
            .map_err(|e| ReleaseError::Collect(e.to_string()))?;
        Ok(match r.provider {
            Provider::Tdx => CpuEvidence {
                platform: "tdx".into(),
                evidence: r.report.into(),
                certs: None,
                collateral: self.collateral.clone(),
                crl: None,
            },
            Provider::Snp => CpuEvidence {
                platform: "snp".into(),
                evidence: r.report.into(),
                certs: r.certs_pem,
                collateral: None,
                crl: self.snp_crl.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_configfs_tsm_collection_is_a_collect_error() {
        let e = TsmAttester::new(Path::new("/nonexistent/tsm"), None)
            .cpu_evidence(&[0; 64])
            .unwrap_err();
        assert!(matches!(e, ReleaseError::Collect(_)), "{e:?}");
    }
}
