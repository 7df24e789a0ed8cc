//! SEV-SNP report, Azure HCL wrapper and host certificate table parsing: never a panic.
#![no_main]
use coco_evidence::snp::{Report, azure, cert_table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Report::parse(data) {
        let _ = r.cpuid_product();
        let _ = r.debug();
    }
    if let Ok(h) = azure::HclReport::parse(data) {
        let _ = h.snp_report();
    }
    let _ = cert_table::to_pem(data);
});
