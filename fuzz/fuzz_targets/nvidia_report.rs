//! NVIDIA GPU attestation reports (SPDM request ‖ response, opaque TLVs) and the multi-GPU
//! JSON wire format: never a panic; every accessor of a parsed report is total.
#![no_main]
use coco_evidence::nvidia::{self, ParseOptions, Report, claims};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for allow_trailing_data in [false, true] {
        if let Ok(r) = Report::parse_with(data, ParseOptions { allow_trailing_data }) {
            let _ = claims::opaque(&r.opaque);
            let _ = (r.opaque.vbios_version(), r.opaque.switch_pdis(), r.opaque.msrscnt());
            let _ = r.measurement(36);
            assert_eq!(r.signed_bytes().len() + 96, r.bytes().len());
        }
    }
    if let Ok(list) = nvidia::parse_wire(data) {
        let opts = nvidia::VerifyOptions::at(std::time::SystemTime::UNIX_EPOCH);
        for w in list.iter().take(2) {
            let _ = w.verify(&opts);
        }
    }
});
