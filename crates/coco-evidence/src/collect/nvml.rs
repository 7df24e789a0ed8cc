//! GPU evidence collection on the attested machine (feature `collect`): each GPU's attestation
//! report and certificate chain through NVML (`libnvidia-ml.so.1`, loaded at run time by
//! `nvml-wrapper`, so nothing links against the driver). Read-only: the GPUs' ready state is
//! never written (NVIDIA's Python verifier sets it; a verifier must not).
//!
//! Without NVML, without a Hopper/Blackwell GPU, or with confidential computing off, the
//! error says which, and [`cc_state`] reports what NVML says about the CC configuration.

use nvml_wrapper::Nvml;
use nvml_wrapper::enums::device::DeviceArchitecture;
use serde::Serialize;

use crate::error::{EvidenceError, Result};
use crate::nvidia::WireEvidence;
use crate::nvidia::abi::{MAX_REPORT_LEN, NONCE_LEN};
use crate::nvidia::verify::Arch;
use nvml_wrapper::structs::device::{
    ConfidentialComputeCpuCapabilities as Cpu, ConfidentialComputeGpuCapabilities as Gpu,
};

fn nvml_err(what: &str, e: impl std::fmt::Display) -> EvidenceError {
    unavailable(format!("{what}: {e}"))
}

/// A collection failure: NVML could not give what was asked for.
fn unavailable(reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Collect {
        source_name: "NVML".into(),
        reason: reason.into(),
    }
}

fn init() -> Result<Nvml> {
    Nvml::init().map_err(|e| {
        unavailable(format!(
            "not available (no NVIDIA driver or libnvidia-ml.so.1 here): {e}"
        ))
    })
}

/// What NVML reports about confidential computing. Each field is `None` where NVML could not
/// answer (older driver, unsupported query), with the reason in `errors`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CcState {
    /// The driver version.
    pub driver_version: Option<String>,
    /// Number of GPUs.
    pub gpu_count: Option<u32>,
    /// CC feature on (`ccFeature`).
    pub cc_enabled: Option<bool>,
    /// DEVTOOLS mode on (`devToolsMode`): never acceptable in production.
    pub devtools_mode: Option<bool>,
    /// Protected PCIe multi-GPU mode on.
    pub protected_pcie: Option<bool>,
    /// Whether the GPUs accept work (the ready state, written after attestation).
    pub gpus_ready: Option<bool>,
    /// The CPU's CC capability as NVML sees it (`none`, `amd_sev`, `intel_tdx`).
    pub cpu_capability: Option<String>,
    /// Whether the GPUs are CC-capable.
    pub gpus_capable: Option<bool>,
    /// Each GPU's architecture.
    pub architectures: Vec<String>,
    /// Why a field is missing.
    pub errors: Vec<String>,
}

fn ok<T>(
    errors: &mut Vec<String>,
    what: &str,
    r: std::result::Result<T, nvml_wrapper::error::NvmlError>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(format!("{what}: {e}"));
            None
        }
    }
}

/// Reads the confidential-computing state (system-wide settings and the first GPU's view).
pub fn cc_state() -> Result<CcState> {
    let nvml = init()?;
    let mut s = CcState::default();
    let mut errors = Vec::new();
    s.driver_version = ok(&mut errors, "driver version", nvml.sys_driver_version());
    s.gpu_count = ok(&mut errors, "device count", nvml.device_count());
    for i in 0..s.gpu_count.unwrap_or(0) {
        match nvml.device_by_index(i).and_then(|d| d.architecture()) {
            Ok(a) => s.architectures.push(format!("{a:?}").to_ascii_lowercase()),
            Err(e) => {
                errors.push(format!("GPU {i} architecture: {e}"));
                s.architectures.push("unknown".into());
            }
        }
    }
    if let Some(d) = ok(&mut errors, "device 0", nvml.device_by_index(0)) {
        s.cc_enabled = ok(&mut errors, "CC settings", d.is_cc_enabled());
        s.devtools_mode = ok(&mut errors, "CC DEVTOOLS mode", d.is_cc_dev_mode_enabled());
        s.protected_pcie = ok(
            &mut errors,
            "Protected PCIe mode",
            d.is_multi_gpu_protected_pcie_enabled(),
        );
        s.gpus_ready = ok(
            &mut errors,
            "GPUs ready state",
            d.get_confidential_compute_state(),
        );
        if let Some(c) = ok(
            &mut errors,
            "CC capabilities",
            d.get_confidential_compute_capabilities(),
        ) {
            s.cpu_capability = Some(
                match c.cpu_caps {
                    Cpu::None => "none",
                    Cpu::AmdSev => "amd_sev",
                    Cpu::IntelTdx => "intel_tdx",
                }
                .into(),
            );
            s.gpus_capable = Some(c.gpus_caps == Gpu::Capable);
        }
    }
    s.errors = errors;
    Ok(s)
}

/// One GPU's evidence as NVML returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuReport {
    /// The architecture NVML reports.
    pub arch: Arch,
    /// The attestation report (SPDM GET_MEASUREMENTS request ‖ response).
    pub report: Vec<u8>,
    /// The device certificate chain (PEM, leaf first).
    pub pem_chain: Vec<u8>,
}

impl GpuReport {
    /// The JSON wire form that [`verify_wire`](crate::nvidia::verify_wire) reads, for the
    /// `nonce` the report was requested with.
    pub fn to_wire(&self, nonce: &[u8; NONCE_LEN]) -> WireEvidence {
        WireEvidence::new(self.arch, nonce, &self.report, &self.pem_chain)
    }
}

/// Collects every GPU's report (requested with `nonce`) and certificate chain, in NVML's
/// device order.
pub fn collect(nonce: &[u8; NONCE_LEN]) -> Result<Vec<GpuReport>> {
    let nvml = init()?;
    let n = nvml
        .device_count()
        .map_err(|e| nvml_err("device count", e))?;
    if n == 0 {
        return Err(unavailable("no GPU"));
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let d = nvml
            .device_by_index(i)
            .map_err(|e| nvml_err(&format!("GPU {i}"), e))?;
        let arch = match d.architecture() {
            Ok(DeviceArchitecture::Hopper) => Arch::Hopper,
            Ok(DeviceArchitecture::Blackwell) => Arch::Blackwell,
            Ok(other) => {
                return Err(unavailable(format!(
                    "GPU {i} is {other:?}: only Hopper and Blackwell GPUs produce CC attestation reports"
                )));
            }
            Err(e) => return Err(nvml_err(&format!("GPU {i} architecture"), e)),
        };
        let refused = |what: &str, e: nvml_wrapper::error::NvmlError| {
            let cc = d
                .is_cc_enabled()
                .map(|on| if on { "on" } else { "off" })
                .unwrap_or("unknown");
            unavailable(format!(
                "GPU {i}: NVML refused the {what} ({e}); confidential computing is {cc} \
                 (a GPU yields evidence only with CC or Protected PCIe on)"
            ))
        };
        let report = d
            .confidential_compute_gpu_attestation_report(*nonce)
            .map_err(|e| refused("attestation report", e))?;
        let len = report.attestation_report_size as usize;
        if len == 0 || len > MAX_REPORT_LEN || len > report.attestation_report.len() {
            return Err(unavailable(format!(
                "GPU {i}: NVML returned an attestation report of {len} bytes"
            )));
        }
        let cert = d
            .confidential_compute_gpu_certificate()
            .map_err(|e| refused("certificate chain", e))?;
        let clen = cert.attestation_cert_chain_size as usize;
        if clen == 0 || clen > cert.attestation_cert_chain.len() {
            return Err(unavailable(format!(
                "GPU {i}: NVML returned a certificate chain of {clen} bytes"
            )));
        }
        out.push(GpuReport {
            arch,
            report: report.attestation_report[..len].to_vec(),
            pem_chain: cert.attestation_cert_chain[..clen].to_vec(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without NVML (CI) the error names NVML; with GPUs in CC mode the evidence verifies;
    /// with CC off the error says so. Whatever the machine, no panic and no silent success.
    #[test]
    fn collect_is_clean_on_any_machine() {
        let nonce = [7u8; NONCE_LEN];
        match collect(&nonce) {
            Ok(gpus) => {
                let opts = crate::nvidia::VerifyOptions::at(std::time::SystemTime::now())
                    .with_nonce(nonce);
                for g in gpus {
                    g.to_wire(&nonce).verify(&opts).unwrap();
                }
            }
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains("NVML") || m.contains("GPU"), "{m}");
            }
        }
        match cc_state() {
            Ok(s) => assert!(s.gpu_count.is_some() || !s.errors.is_empty()),
            Err(e) => assert!(e.to_string().contains("NVML"), "{e}"),
        }
    }
}
