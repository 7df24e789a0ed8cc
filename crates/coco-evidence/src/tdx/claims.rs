//! Verified TDX evidence as claims (names per DESIGN §4, bytes as lower-case hex).

use serde_json::{Value, json};

use super::abi::{
    TD_ATTR_DEBUG, TD_ATTR_KL, TD_ATTR_MIGRATABLE, TD_ATTR_PERFMON, TD_ATTR_PKS,
    TD_ATTR_SEPT_VE_DISABLE,
};
use super::verify::TdxEvidence;
use crate::verified::Verified;

/// Decoded TD_ATTRIBUTES bits (unknown bits kept in `other_bits`).
pub fn td_attributes_decoded(attrs: u64) -> Value {
    let known = TD_ATTR_DEBUG
        | TD_ATTR_SEPT_VE_DISABLE
        | TD_ATTR_MIGRATABLE
        | TD_ATTR_PKS
        | TD_ATTR_KL
        | TD_ATTR_PERFMON;
    json!({
        "debug": attrs & TD_ATTR_DEBUG != 0,
        "sept_ve_disable": attrs & TD_ATTR_SEPT_VE_DISABLE != 0,
        "migratable": attrs & TD_ATTR_MIGRATABLE != 0,
        "pks": attrs & TD_ATTR_PKS != 0,
        "kl": attrs & TD_ATTR_KL != 0,
        "perfmon": attrs & TD_ATTR_PERFMON != 0,
        "other_bits": format!("{:#x}", attrs & !known),
    })
}

/// The claims of verified TDX evidence.
pub fn claims(v: &Verified<TdxEvidence>) -> Value {
    let q = &v.quote;
    let b = &q.body;
    let x = &v.pck_extensions;
    let mut c = json!({
        "version": q.header.version,
        "tee_type": q.header.tee_type,
        "qe_vendor_id": hex::encode(q.header.qe_vendor_id),
        "body": b.kind.name(),
        "tee_tcb_svn": hex::encode(b.tee_tcb_svn),
        "mr_seam": hex::encode(b.mr_seam),
        "mr_signer_seam": hex::encode(b.mr_signer_seam),
        "seam_attributes": hex::encode(b.seam_attributes),
        "td_attributes": hex::encode(b.td_attributes),
        "td_attributes_decoded": td_attributes_decoded(b.td_attributes_u64()),
        "xfam": hex::encode(b.xfam),
        "mr_td": hex::encode(b.mr_td),
        "mr_config_id": hex::encode(b.mr_config_id),
        "mr_owner": hex::encode(b.mr_owner),
        "mr_owner_config": hex::encode(b.mr_owner_config),
        "rtmr0": hex::encode(b.rtmr[0]),
        "rtmr1": hex::encode(b.rtmr[1]),
        "rtmr2": hex::encode(b.rtmr[2]),
        "rtmr3": hex::encode(b.rtmr[3]),
        "report_data": hex::encode(b.report_data),
        "debug": b.debug(),
        "tdx_module": {
            "major_version": b.module_major(),
            "isvsvn": b.module_isvsvn(),
        },
        "fmspc": hex::encode(x.fmspc),
        "pce_id": hex::encode(x.pce_id),
        "pce_svn": x.pce_svn,
        "sgx_tcb_components": x.sgx_tcb_components,
        "sgx_type": x.sgx_type,
        "qe": {
            "mr_enclave": hex::encode(q.qe_report.mr_enclave),
            "mr_signer": hex::encode(q.qe_report.mr_signer),
            "isv_prod_id": q.qe_report.isv_prod_id,
            "isv_svn": q.qe_report.isv_svn,
        },
        "tcb_status": v.tcb.as_ref().map(|t| t.status.name()),
        "advisory_ids": v.tcb.as_ref().map(|t| t.advisory_ids.clone()).unwrap_or_default(),
        "collateral_checked": v.tcb.is_some(),
        "revocation_checked": v.revocation_checked,
        "trailing_bytes": q.trailing_len,
        "trailing_bytes_zero": q.trailing_all_zero,
    });
    if let (Some(svn2), Some(service_td)) = (b.tee_tcb_svn_2, b.mr_service_td) {
        c["tee_tcb_svn_2"] = json!(hex::encode(svn2));
        c["mr_service_td"] = json!(hex::encode(service_td));
    }
    if let Some(t) = &v.tcb {
        c["tcb"] = json!({
            "platform": t.platform,
            "tdx_module": t.module.as_ref().map(|(id, l)| json!({"id": id, "level": l})),
            "qe": t.qe,
            "tcb_evaluation_data_number": t.tcb_evaluation_data_number,
        });
    }
    c
}
