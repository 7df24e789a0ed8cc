//! Certificates from bytes (PEM bundles or DER), the AMD extension readers and OCSP responses
//! (with the checks that read them against a chain): never a panic.
#![no_main]
use coco_evidence::ocsp::{self, CheckOptions, OcspResponse};
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
    if let Ok(r) = OcspResponse::from_der(data) {
        let _ = r.nonce();
        let _ = r.produced_at();
        // The response's own certificates stand in for a chain (responder, issuer, root).
        let certs = r.certs().to_vec();
        if let (Some(first), Some(last)) = (certs.first(), certs.last()) {
            let opts = CheckOptions::at(std::time::UNIX_EPOCH);
            let _ = ocsp::check(&r, first, last, last, &opts);
            let _ = ocsp::check_chain(&certs, 0..certs.len(), std::slice::from_ref(&r), &opts);
        }
    }
});
