//! Certificates from bytes (PEM bundles or DER) and the AMD extension readers: never a panic.
#![no_main]
use coco_evidence::snp::{Product, verify::vek_extensions};
use coco_evidence::x509::parse_certs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = parse_certs(data) {
        for c in &certs {
            let _ = c.subject_cn();
            let _ = c.validity();
            let _ = vek_extensions(c, Product::Milan);
            let _ = vek_extensions(c, Product::Turin);
            let _ = c.verify_signed_by(c, None);
        }
    }
});
