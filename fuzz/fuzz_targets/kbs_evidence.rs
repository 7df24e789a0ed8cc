//! What a KBS client sends: the attestation request, its SNP report in the `sev` crate's JSON
//! form (rebuilt into bytes, which must then parse back to the same JSON), its TDX and sample
//! evidence and its GPUs' `additional_evidence`, the session cookie, the JCS binding. Never a
//! panic.
#![no_main]
use coco_evidence::snp::{Report, sev_json};
use coco_release::kbs::{binding, evidence, jcs, session, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coco_evidence::sample::parse(data);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = evidence::gpus(s, None);
            let _ = session::SessionKey::new(zeroize::Zeroizing::new([0; 32])).open(s, 0);
        }
        return;
    };
    if let Ok(bytes) = sev_json::to_report_bytes(&v)
        && let Ok(r) = Report::parse(&bytes)
    {
        assert_eq!(sev_json::to_report_bytes(&sev_json::to_sev_json(&r)).unwrap(), bytes);
    }
    let _ = jcs::canonical(&v);
    for tee in ["snp", "tdx", "sample"] {
        let _ = evidence::cpu(tee, &v, None);
    }
    if let Ok(a) = serde_json::from_value::<wire::Attestation>(v) {
        let rd = &a.runtime_data;
        let h = coco_core::initdata::Algorithm::Sha384;
        let _ = binding::report_data(h, &rd.nonce, &rd.tee_pubkey, &a.tee_evidence.additional_evidence);
        let _ = binding::gpu_nonce(h, &rd.nonce, &rd.tee_pubkey);
        let _ = coco_release::jwe::TeeKey::from_jwk(&rd.tee_pubkey);
        let _ = evidence::gpus(&a.tee_evidence.additional_evidence, None);
    }
});
