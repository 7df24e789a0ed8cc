//! The hand-over to appraisal: verified evidence as a [`coco_core::appraise::Attester`] with
//! typed claims ([`coco_core::claims`]) and the DESIGN §4 JSON view. These functions take
//! [`Verified`] values only, so what coco-core appraises has passed this crate's checks; they
//! are the only place in coco that builds attesters.

use coco_core::appraise::Attester;
use coco_core::claims::{Claims, GpuClaims, SnpClaims, SnpProduct, SnpSigningKey, TdxClaims};

use crate::nvidia::GpuEvidence;
use crate::snp::SnpEvidence;
use crate::snp::abi::{Product, SigningKey};
use crate::tdx::TdxEvidence;
use crate::verified::Verified;

fn snp_claims(v: &Verified<SnpEvidence>) -> SnpClaims {
    let r = &v.report;
    SnpClaims {
        product: match v.product {
            Product::Milan => SnpProduct::Milan,
            Product::Genoa => SnpProduct::Genoa,
            Product::Turin => SnpProduct::Turin,
        },
        signing_key: match r.signing_key {
            SigningKey::Vcek => SnpSigningKey::Vcek,
            SigningKey::Vlek => SnpSigningKey::Vlek,
        },
        measurement: r.measurement,
        host_data: r.host_data,
        report_data: r.report_data,
        family_id: r.family_id,
        image_id: r.image_id,
        id_key_digest: r.id_key_digest,
        author_key_digest: r.author_key_digest,
        chip_id: r.chip_id,
        policy: r.policy,
        platform_info: r.platform_info,
        guest_svn: r.guest_svn,
        vmpl: r.vmpl,
        reported_tcb: u64::from_le_bytes(r.reported_tcb.raw),
        debug: r.debug(),
        revocation_checked: v.revocation_checked,
    }
}

/// An SNP attester named `name` (e.g. `cpu0`); its claims say whether AMD's CRL was checked
/// (`revocation_checked`).
pub fn snp(name: &str, v: &Verified<SnpEvidence>) -> Attester {
    let mut view = crate::snp::claims::claims(v);
    view["revocation_checked"] = serde_json::json!(v.revocation_checked);
    Attester::verified(name, Claims::Snp(Box::new(snp_claims(v))), view)
}

/// A TDX attester named `name` (e.g. `cpu0`).
pub fn tdx(name: &str, v: &Verified<TdxEvidence>) -> Attester {
    let b = &v.quote.body;
    let claims = TdxClaims {
        mr_td: b.mr_td,
        rtmr: b.rtmr,
        mr_seam: b.mr_seam,
        mr_signer_seam: b.mr_signer_seam,
        mr_config_id: b.mr_config_id,
        mr_owner: b.mr_owner,
        mr_owner_config: b.mr_owner_config,
        td_attributes: b.td_attributes,
        xfam: b.xfam,
        report_data: b.report_data,
        debug: b.debug(),
        tcb_status: v.tcb.as_ref().map(|t| t.status),
        advisory_ids: v
            .tcb
            .as_ref()
            .map(|t| t.advisory_ids.clone())
            .unwrap_or_default(),
        tcb_evaluation_data_number: v.tcb.as_ref().map(|t| t.tcb_evaluation_data_number),
        revocation_checked: v.revocation_checked,
    };
    Attester::verified(
        name,
        Claims::Tdx(Box::new(claims)),
        crate::tdx::claims::claims(v),
    )
}

/// An NVIDIA GPU attester named `name` (e.g. `gpu0`); `revocation_checked` when the device
/// chain was checked with OCSP responses.
pub fn nvidia(name: &str, v: &Verified<GpuEvidence>) -> Attester {
    let r = &v.report;
    let claims = GpuClaims {
        model: v.chip.clone(),
        ueid: v.ueid(),
        nonce: r.request.nonce,
        measurements: r
            .blocks
            .iter()
            .map(|b| (u32::from(b.index), b.value.clone()))
            .collect(),
        driver_version: r.opaque.driver_version(),
        vbios_version: r.opaque.vbios_version(),
        // A GPU signs SPDM measurements only in CC (or Protected PCIe) mode; DEVTOOLS changes
        // the measured configuration, which the RIMs decide.
        cc_mode: true,
        devtools_mode: false,
        nvdec0_disabled: r.opaque.nvdec0_status() == Some(crate::nvidia::abi::Status::Disabled),
        revocation_checked: v.revocation_checked(),
    };
    Attester::verified(name, Claims::Gpu(claims), crate::nvidia::claims::claims(v))
}

/// A simulated SNP attester (claims say `"simulated": true`; appraisal refuses it unless the
/// policy allows simulation).
pub fn sim_snp(name: &str, v: &Verified<SnpEvidence>) -> Attester {
    let mut view = crate::snp::claims::claims(v);
    view["revocation_checked"] = serde_json::json!(v.revocation_checked);
    Attester::simulated(name, Claims::Snp(Box::new(snp_claims(v))), view)
}

/// The sample attester (always simulated).
pub fn sample(name: &str, v: &Verified<crate::sample::SampleEvidence>) -> Attester {
    let c = &v.claims;
    let view = serde_json::json!({"svn": c.svn, "report_data": hex::encode(c.report_data)});
    Attester::simulated(name, Claims::Sample(c.clone()), view)
}

/// A simulated GPU attester.
pub fn sim_gpu(name: &str, v: &Verified<crate::simulated::SimGpuEvidence>) -> Attester {
    Attester::simulated(name, Claims::Gpu(v.claims.clone()), v.view.clone())
}
