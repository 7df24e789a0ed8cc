//! A simulated deployment in a few lines, for tests, benches, load runs and demos: reference
//! values for the simulated TEE's measurements, a policy that accepts simulated evidence (and
//! nothing else is different from the default), a service trusting a simulated root, and a
//! confidential VM with its GPUs. Nothing here is trusted by anything unless the caller builds
//! a service with it.
//!
//! ```
//! use coco_release::{simkit, keystore::MemoryKeyStore, workload, wrap::Kem};
//! let root = coco_evidence::sim::SimRoot::generate().unwrap();
//! let keys = MemoryKeyStore::default();
//! keys.put("model-1", &coco_seal::Dek::generate().unwrap());
//! let service = simkit::service(&root, Box::new(keys), 1).unwrap();
//! let cvm = simkit::attester(&root, 1).unwrap();
//! let challenge = service.challenge(std::time::SystemTime::now()).unwrap();
//! let (bundle, key) = workload::bundle(&cvm, &challenge, "model-1", Kem::P384).unwrap();
//! let response = service.release(&bundle, std::time::SystemTime::now()).unwrap();
//! assert!(workload::unwrap(&response, &key, "model-1").is_ok());
//! ```

use coco_core::appraise::ReferenceValues;
use coco_core::corim::{Corim, DecodeOptions};
use coco_core::keys::SigningKey;
use coco_core::policy::{Policy, Revocation};
use coco_core::profile::build;
use coco_evidence::sim::{SimGpu, SimPlatform, SimRoot, SimVm};

use crate::error::{ReleaseError, Result};
use crate::keystore::KeyStore;
use crate::wire::{CpuEvidence, GpuEvidence};
use crate::workload::Attester;
use crate::{KeyReleaseService, ServiceConfig};

/// The simulated VM's launch measurement.
pub const MEASUREMENT: [u8; 48] = [7; 48];
/// The simulated GPUs' measurement 1 (their only one).
pub const GPU_MEASUREMENT: [u8; 48] = [8; 48];

/// Reference values for [`MEASUREMENT`] on Genoa and, with `gpus`, for GH100 GPUs with
/// [`GPU_MEASUREMENT`].
pub fn references(gpus: bool) -> Result<ReferenceValues> {
    let mut toml = format!(
        "id = \"simkit\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"{}\"]\n",
        hex::encode(MEASUREMENT)
    );
    if gpus {
        toml.push_str(&format!(
            "[[nvidia]]\nchip = \"GH100\"\nmeasurements = {{ \"1\" = [\"{}\"] }}\n",
            hex::encode(GPU_MEASUREMENT)
        ));
    }
    let corim = build::build(&toml).map_err(ReleaseError::Config)?;
    let corim = Corim::decode(&corim, &DecodeOptions::default()).map_err(ReleaseError::Config)?;
    ReferenceValues::from_corims(&[corim]).map_err(ReleaseError::Config)
}

/// The default policy, allowing simulated evidence (which has no revocation data).
pub fn policy() -> Policy {
    Policy {
        allow_simulated: true,
        require_revocation_check: Revocation::NONE,
        ..Policy::default()
    }
}

/// A service over `keys` trusting `root`, with [`references`] for `gpus > 0`, [`policy`], a
/// fresh ES384 EAR key, a 60-second challenge lifetime, and its audit lines discarded (chain
/// [`KeyReleaseService::with_audit`] to keep them).
pub fn service(root: &SimRoot, keys: Box<dyn KeyStore>, gpus: usize) -> Result<KeyReleaseService> {
    Ok(KeyReleaseService::new(
        keys,
        SigningKey::generate_p384().map_err(ReleaseError::Config)?,
        ServiceConfig {
            references: references(gpus > 0)?,
            policy: policy(),
            sim_root: Some(root.cert().clone()),
            challenge_ttl_secs: 60,
        },
    )?
    .with_audit(Box::new(std::io::sink())))
}

/// GPU `serial` of the simulation: driver 550.54.14, VBIOS 96.00.88.00.11, measurement 1 =
/// [`GPU_MEASUREMENT`], CC mode on.
pub fn gpu(serial: u64) -> SimGpu {
    SimGpu {
        driver_version: "550.54.14".into(),
        vbios_version: "96.00.88.00.11".into(),
        measurements: vec![(1, GPU_MEASUREMENT)],
        cc_mode: true,
        devtools_mode: false,
        serial,
    }
}

/// A confidential VM under `root` with [`MEASUREMENT`] and `gpus` GPUs (serials 1..=gpus).
pub fn attester(root: &SimRoot, gpus: usize) -> Result<SimAttester> {
    Ok(SimAttester {
        platform: root
            .platform()
            .map_err(|e| ReleaseError::from_evidence(0, "sim-snp", e))?,
        vm: SimVm {
            measurement: MEASUREMENT,
            host_data: [0; 32],
            policy: 0x30000,
            guest_svn: 1,
        },
        gpus: (1..=gpus as u64).map(gpu).collect(),
    })
}

/// The KBS `additional_evidence` string of `cvm`'s GPUs answering `gpu_nonce`:
/// `{"nvidia":{"device_evidence_list":[{"arch","uuid","evidence","certificate"}]}}`, or empty
/// without GPUs.
pub fn kbs_additional_evidence(cvm: &SimAttester, gpu_nonce: &[u8; 32]) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    if cvm.gpus.is_empty() {
        return String::new();
    }
    let list: Vec<serde_json::Value> = cvm
        .gpus
        .iter()
        .map(|g| {
            serde_json::json!({
                "arch": "HOPPER",
                "uuid": format!("GPU-sim-{}", g.serial),
                "evidence": b64(&cvm.platform.gpu_report(g, gpu_nonce)),
                "certificate": b64(cvm.platform.gpu_cert().to_pem().as_bytes()),
            })
        })
        .collect();
    serde_json::json!({"nvidia": {"device_evidence_list": list}}).to_string()
}

/// The KBS `primary_evidence` of `cvm` (tee `snp`) with `report_data`: the report in the `sev`
/// crate's JSON form and the simulated VCEK in `cert_chain`.
pub fn kbs_primary_evidence(
    cvm: &SimAttester,
    report_data: &[u8; 64],
) -> Result<serde_json::Value> {
    let raw = cvm.platform.snp_report(&cvm.vm, report_data);
    let report = coco_evidence::snp::Report::parse(&raw)
        .map_err(|e| ReleaseError::from_evidence(0, "sim-snp", e))?;
    Ok(serde_json::json!({
        "attestation_report": coco_evidence::snp::sev_json::to_sev_json(&report),
        "cert_chain": [{"cert_type": "VCEK", "data": cvm.platform.vcek().der()}],
    }))
}

/// A simulated confidential VM with GPUs (demos and tests).
pub struct SimAttester {
    /// The simulated platform.
    pub platform: SimPlatform,
    /// What the VM measures.
    pub vm: SimVm,
    /// Its GPUs.
    pub gpus: Vec<SimGpu>,
}

impl std::fmt::Debug for SimAttester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SimAttester({:?}, {} GPUs)",
            self.platform,
            self.gpus.len()
        )
    }
}

impl Attester for SimAttester {
    fn gpu_evidence(&self, nonce: &[u8; 32]) -> Result<Vec<GpuEvidence>> {
        Ok(self
            .gpus
            .iter()
            .map(|g| GpuEvidence {
                platform: "sim-gpu".into(),
                evidence: self.platform.gpu_report(g, nonce).into(),
                certs: Some(self.platform.gpu_cert().to_pem()),
            })
            .collect())
    }

    fn cpu_evidence(&self, report_data: &[u8; 64]) -> Result<CpuEvidence> {
        Ok(CpuEvidence {
            platform: "sim-snp".into(),
            evidence: self.platform.snp_report(&self.vm, report_data).into(),
            certs: Some(self.platform.vcek().to_pem()),
            collateral: None,
            crl: None,
        })
    }
}
