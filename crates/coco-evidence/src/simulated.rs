//! Verification of simulated evidence: SNP-shaped reports and GPU-shaped reports that a
//! simulated TEE ([`sim`](crate::sim), feature `sim`) signed. The verifier of every build has
//! this module, so a service can accept a simulator's evidence in a rehearsal, but nothing
//! here is trusted by default: [`verify_snp`] and [`verify_gpu`] need the simulation's root
//! passed explicitly ([`Verifier::sim_root`](crate::api::Verifier::sim_root)), the regular
//! verifiers pin the vendor roots and refuse the simulated chain, and the claims say
//! `"simulated": true`, so that appraisal refuses them unless the policy allows simulation.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::error::{EvidenceError, Result};
use crate::snp::abi::Report;
use crate::snp::verify::{SnpEvidence, vek_extensions};
use crate::verified::Verified;
use crate::x509::{Cert, LinkCache};

/// An error of the simulated TEE (its evidence or its making).
pub(crate) fn sim_err(msg: impl Into<String>) -> EvidenceError {
    EvidenceError::Platform(format!("simulated TEE: {}", msg.into()))
}

/// Verifies a simulated SNP report under the explicitly given sim `root`: the VCEK-like
/// certificate chains to it (the link remembered in `cache`, as for real chains: the root is
/// pinned), its TCB and chip id match the report, the report signature holds.
pub fn verify_snp(
    report: &[u8],
    vcek: &Cert,
    root: &Cert,
    at: SystemTime,
    cache: Option<&LinkCache>,
) -> Result<Verified<SnpEvidence>> {
    let r = Report::parse(report)?;
    vcek.verify_signed_by(root, cache)?;
    root.check_validity(at, "sim root")?;
    vcek.check_validity(at, "sim VCEK")?;
    let product = r
        .cpuid_product()
        .ok_or_else(|| sim_err("the report names no product"))?;
    let ext = vek_extensions(vcek, product)?;
    if r.reported_tcb.decode(product) != ext.tcb {
        return Err(EvidenceError::Mismatch {
            what: "REPORTED_TCB vs. the sim VCEK".into(),
            evidence: r.reported_tcb.decode(product).to_string(),
            endorsement: ext.tcb.to_string(),
        });
    }
    if ext.hw_id.as_deref() != Some(&r.chip_id[..]) {
        return Err(EvidenceError::Mismatch {
            what: "CHIP_ID vs. the sim VCEK".into(),
            evidence: hex::encode(r.chip_id),
            endorsement: hex::encode(ext.hw_id.unwrap_or_default()),
        });
    }
    let mut sig = [0u8; 96];
    sig[..48].copy_from_slice(&r.signature_r);
    sig[48..].copy_from_slice(&r.signature_s);
    vcek.verify_ecdsa_fixed(r.signed_bytes(), &sig, "simulated SNP report")?;
    Ok(Verified::new(SnpEvidence {
        report: r,
        product,
        vek: vcek.clone(),
        intermediate: root.clone(),
        ark: root.clone(),
        revocation_checked: false,
    }))
}

/// A verified simulated GPU report: typed claims and their JSON view in DESIGN §4's nvidia
/// names.
#[derive(Debug, Clone, PartialEq)]
pub struct SimGpuEvidence {
    /// The typed claims.
    pub claims: coco_core::claims::GpuClaims,
    /// The claims (`nonce`, `driver_version`, `vbios_version`, `measurements`, ...,
    /// `"simulated": true`).
    pub view: Value,
}

/// Verifies a simulated GPU report under the explicitly given sim `root` (the certificate's
/// link to it remembered in `cache`). Every claim the
/// rules read must be in the signed payload, with its type.
pub fn verify_gpu(
    report: &[u8],
    cert: &Cert,
    root: &Cert,
    at: SystemTime,
    cache: Option<&LinkCache>,
) -> Result<Verified<SimGpuEvidence>> {
    #[derive(serde::Deserialize)]
    struct Wire<'a> {
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
        signature: String,
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        format: String,
        nonce: String,
        architecture: String,
        chip: String,
        driver_version: String,
        vbios_version: String,
        measurements: std::collections::BTreeMap<u32, String>,
        cc_mode: bool,
        devtools_mode: bool,
        ueid: String,
    }
    let w: Wire<'_> =
        serde_json::from_slice(report).map_err(|e| sim_err(format!("GPU report: {e}")))?;
    cert.verify_signed_by(root, cache)?;
    root.check_validity(at, "sim root")?;
    cert.check_validity(at, "sim GPU")?;
    let sig = hex::decode(&w.signature).map_err(|_| sim_err("GPU report signature is not hex"))?;
    cert.verify_ecdsa_fixed(w.payload.get().as_bytes(), &sig, "simulated GPU report")?;
    let p: Payload = serde_json::from_str(w.payload.get())
        .map_err(|e| sim_err(format!("GPU report payload: {e}")))?;
    if p.format != "coco-sim-gpu/v1" {
        return Err(sim_err("unknown GPU report format"));
    }
    let nonce: [u8; 32] = hex::decode(&p.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| sim_err("GPU report nonce is not 32 bytes of hex"))?;
    let measurements = p
        .measurements
        .iter()
        .map(|(i, m)| {
            hex::decode(m)
                .map(|v| (*i, v))
                .map_err(|_| sim_err(format!("GPU measurement {i} is not hex")))
        })
        .collect::<Result<std::collections::BTreeMap<_, _>>>()?;
    let view = json!({
        "spdm_version": "1.1",
        "nonce": p.nonce,
        "driver_version": p.driver_version,
        "vbios_version": p.vbios_version,
        "measurements": p.measurements,
        "measurement_count": p.measurements.len(),
        "architecture": p.architecture,
        "chip": p.chip,
        "ueid": p.ueid,
        "opaque": {"cc_mode": p.cc_mode, "devtools_mode": p.devtools_mode},
        "simulated": true,
    });
    let claims = coco_core::claims::GpuClaims {
        model: p.chip,
        ueid: p.ueid,
        nonce,
        measurements,
        driver_version: Some(p.driver_version),
        vbios_version: Some(p.vbios_version),
        cc_mode: p.cc_mode,
        devtools_mode: p.devtools_mode,
        nvdec0_disabled: false,
        revocation_checked: false,
    };
    Ok(Verified::new(SimGpuEvidence { claims, view }))
}
