//! Verified SNP evidence as claims (names per DESIGN §4, bytes as lower-case hex).

use serde_json::{Value, json};

use super::abi::Tcb;
use super::verify::SnpEvidence;
use crate::verified::Verified;

fn tcb(t: Tcb) -> Value {
    serde_json::to_value(t).expect("Tcb serializes")
}

/// Decoded POLICY bits.
pub fn policy_decoded(policy: u64) -> Value {
    let bit = |n: u32| policy & (1 << n) != 0;
    json!({
        "abi_minor": policy & 0xff,
        "abi_major": (policy >> 8) & 0xff,
        "smt": bit(16),
        "migrate_ma": bit(18),
        "debug": bit(19),
        "single_socket": bit(20),
        "cxl_allow": bit(21),
        "mem_aes_256_xts": bit(22),
        "rapl_dis": bit(23),
        "ciphertext_hiding": bit(24),
        "page_swap_disable": bit(25),
    })
}

/// Decoded PLATFORM_INFO bits (unknown bits are kept in `other_bits`, never rejected).
pub fn platform_info_decoded(info: u64) -> Value {
    let bit = |n: u32| info & (1 << n) != 0;
    json!({
        "smt_en": bit(0),
        "tsme_en": bit(1),
        "ecc_en": bit(2),
        "rapl_dis": bit(3),
        "ciphertext_hiding_dram_en": bit(4),
        "alias_check_complete": bit(5),
        "tio_en": bit(7),
        "other_bits": info & !0b1011_1111,
    })
}

/// The claims of verified SNP evidence.
pub fn claims(ev: &Verified<SnpEvidence>) -> Value {
    let r = &ev.report;
    let p = ev.product;
    let mut c = json!({
        "version": r.version,
        "guest_svn": r.guest_svn,
        "policy": r.policy,
        "policy_decoded": policy_decoded(r.policy),
        "debug": r.debug(),
        "vmpl": r.vmpl,
        "family_id": hex::encode(r.family_id),
        "image_id": hex::encode(r.image_id),
        "measurement": hex::encode(r.measurement),
        "host_data": hex::encode(r.host_data),
        "report_data": hex::encode(r.report_data),
        "id_key_digest": hex::encode(r.id_key_digest),
        "author_key_digest": hex::encode(r.author_key_digest),
        "report_id": hex::encode(r.report_id),
        "report_id_ma": hex::encode(r.report_id_ma),
        "chip_id": hex::encode(r.chip_id),
        "current_tcb": tcb(r.current_tcb.decode(p)),
        "reported_tcb": tcb(r.reported_tcb.decode(p)),
        "committed_tcb": tcb(r.committed_tcb.decode(p)),
        "launch_tcb": tcb(r.launch_tcb.decode(p)),
        "platform_info": r.platform_info,
        "platform_info_decoded": platform_info_decoded(r.platform_info),
        "author_key_en": r.author_key_en,
        "mask_chip_key": r.mask_chip_key,
        "current_version": format!("{}.{}.{}", r.current_version.0, r.current_version.1, r.current_version.2),
        "committed_version": format!("{}.{}.{}", r.committed_version.0, r.committed_version.1, r.committed_version.2),
        "product": p,
        "signing_key": r.signing_key,
    });
    if let Some((f, m, s)) = r.cpuid {
        c["cpuid"] = json!({"family": f, "model": m, "stepping": s});
    }
    if let (Some(l), Some(cur)) = (r.launch_mit_vector, r.current_mit_vector) {
        c["launch_mit_vector"] = json!(l);
        c["current_mit_vector"] = json!(cur);
    }
    c
}
