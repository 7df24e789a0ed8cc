//! Verified NVIDIA GPU evidence as claims: the names of DESIGN §4 (`spdm_version`, `nonce`,
//! `driver_version`, `vbios_version`, `measurements`, `measurement_count`, `architecture`,
//! `fwid`, `opaque`), NVIDIA's identity claims (`hwmodel`, `ueid`), and one boolean per
//! check under the names of NVIDIA's claims v3 (spec §7). Bytes are lower-case hex.

use serde_json::{Map, Value, json};

use super::abi::{OPAQUE_IDS, OpaqueData, opaque_id};
use super::verify::GpuEvidence;
use crate::verified::Verified;

/// The opaque data decoded: each known field under its lower-case name, typed where the
/// spec gives it a meaning, raw hex otherwise.
pub fn opaque(o: &OpaqueData) -> Value {
    let mut m = Map::new();
    for f in &o.fields {
        let name = OPAQUE_IDS
            .iter()
            .find(|(i, _)| *i == f.id)
            .map(|(_, n)| n.to_ascii_lowercase())
            .unwrap_or_else(|| format!("id_{}", f.id));
        let v = match f.id {
            opaque_id::DRIVER_VERSION => json!(o.driver_version()),
            opaque_id::VBIOS_VERSION => json!(o.vbios_version()),
            opaque_id::PROJECT => json!(o.project()),
            opaque_id::PROJECT_SKU => json!(o.project_sku()),
            opaque_id::PROJECT_SKU_MOD => json!(o.project_sku_mod()),
            opaque_id::CHIP_SKU => json!(o.chip_sku()),
            opaque_id::CHIP_SKU_MOD => json!(o.chip_sku_mod()),
            opaque_id::CHIP_INFO => json!(o.chip_info()),
            opaque_id::BOARD_ID => json!(o.board_id()),
            opaque_id::NVDEC0_STATUS => json!(o.nvdec0_status().map(|s| s.name())),
            opaque_id::PROTECTED_PCIE_STATUS => {
                json!(o.protected_pcie_status().map(|s| s.name()))
            }
            opaque_id::MSRSCNT => json!(o.msrscnt()),
            opaque_id::SWITCH_PDI => json!(o.switch_pdis()),
            opaque_id::OPAQUE_DATA_VERSION => json!(o.opaque_data_version()),
            opaque_id::FEATURE_FLAG => json!(o.feature_flag()),
            _ => json!(hex::encode(&f.data)),
        };
        m.insert(name, v);
    }
    Value::Object(m)
}

/// The claims of verified GPU evidence.
pub fn claims(v: &Verified<GpuEvidence>) -> Value {
    let r = &v.report;
    let measurements: Map<String, Value> = r
        .blocks
        .iter()
        .map(|b| (b.index.to_string(), json!(hex::encode(&b.value))))
        .collect();
    let (_, earliest_not_after) = v
        .chain
        .iter()
        .map(|c| c.validity())
        .min_by_key(|(_, na)| *na)
        .unwrap_or_default();
    json!({
        "spdm_version": format!("{}.{}", r.spdm_version >> 4, r.spdm_version & 0xf),
        "nonce": hex::encode(r.request.nonce),
        "responder_nonce": hex::encode(r.responder_nonce),
        "driver_version": r.opaque.driver_version(),
        "vbios_version": r.opaque.vbios_version(),
        "measurements": measurements,
        "measurement_count": r.blocks.len(),
        "architecture": v.arch.name(),
        "chip": v.chip,
        "fwid": r.opaque.fwid().map(hex::encode),
        "leaf_fwid": v.leaf_fwid.as_ref().map(hex::encode),
        "opaque": opaque(&r.opaque),
        "hwmodel": v.hwmodel(),
        "ueid": v.ueid(),
        "driver_rim_id": v.driver_rim_id(),
        "vbios_rim_id": v.vbios_rim_id(),
        // A GPU signs SPDM measurements for NVML only with confidential computing (or
        // Protected PCIe) on; whether that configuration is the approved one is decided by
        // the measurements against the RIMs. DEVTOOLS mode is not in the signed evidence.
        "cc_mode": true,
        "gpu_mode": if r.opaque.feature_flag() == Some(2) { json!("ppcie") } else { Value::Null },
        "revocation_checked": v.revocation_checked(),
        "x-nvidia-gpu-arch-check": true,
        "x-nvidia-gpu-attestation-report-parsed": true,
        "x-nvidia-gpu-attestation-report-signature-verified": true,
        "x-nvidia-gpu-attestation-report-nonce-match": if v.nonce_checked { json!(true) } else { Value::Null },
        "x-nvidia-gpu-attestation-report-cert-chain-fwid-match": true,
        "x-nvidia-gpu-attestation-report-cert-chain": {
            "x-nvidia-cert-status": "valid",
            "x-nvidia-cert-expiration-date": coco_core::time::format_rfc3339(earliest_not_after),
            "x-nvidia-cert-ocsp-status": if v.revocation_checked() { json!("good") } else { Value::Null },
            "x-nvidia-cert-ocsp-nonce-matches": if v.revocation_checked() { json!(v.ocsp.iter().all(|o| o.nonce_matched)) } else { Value::Null },
        },
    })
}
