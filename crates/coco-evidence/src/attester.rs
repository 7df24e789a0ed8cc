//! The hand-over to appraisal: verified evidence as a [`coco_core::appraise::Attester`]. These
//! functions take [`Verified`] values only, so what coco-core appraises has passed this crate's
//! checks.

use coco_core::appraise::{Attester, Platform};

use crate::snp::SnpEvidence;
use crate::tdx::TdxEvidence;
use crate::verified::Verified;

/// An SNP attester named `name` (e.g. `cpu0`); its claims say whether AMD's CRL was checked
/// (`revocation_checked`).
pub fn snp(name: &str, v: &Verified<SnpEvidence>) -> Attester {
    let mut claims = crate::snp::claims::claims(v);
    claims["revocation_checked"] = serde_json::json!(v.revocation_checked);
    Attester {
        name: name.into(),
        platform: Platform::Snp,
        claims,
        simulated: false,
        collected_at: None,
        expected_binding: None,
    }
}

/// A TDX attester named `name` (e.g. `cpu0`).
pub fn tdx(name: &str, v: &Verified<TdxEvidence>) -> Attester {
    Attester {
        name: name.into(),
        platform: Platform::Tdx,
        claims: crate::tdx::claims::claims(v),
        simulated: false,
        collected_at: None,
        expected_binding: None,
    }
}

/// An NVIDIA GPU attester named `name` (e.g. `gpu0`). OCSP is not consulted for NVIDIA's
/// device certificates, so its claims say `"revocation_checked": false`.
pub fn nvidia(name: &str, v: &Verified<crate::nvidia::GpuEvidence>) -> Attester {
    Attester {
        name: name.into(),
        platform: Platform::Nvidia,
        claims: crate::nvidia::claims::claims(v),
        simulated: false,
        collected_at: None,
        expected_binding: None,
    }
}

/// A simulated SNP attester (claims say `"simulated": true`; appraisal refuses it unless the
/// policy allows simulation).
pub fn sim_snp(name: &str, v: &Verified<SnpEvidence>) -> Attester {
    let mut a = snp(name, v);
    a.claims["simulated"] = serde_json::json!(true);
    a.simulated = true;
    a
}

/// A simulated GPU attester.
pub fn sim_gpu(name: &str, v: &Verified<crate::sim::SimGpuEvidence>) -> Attester {
    Attester {
        name: name.into(),
        platform: Platform::Nvidia,
        claims: v.claims.clone(),
        simulated: true,
        collected_at: None,
        expected_binding: None,
    }
}
