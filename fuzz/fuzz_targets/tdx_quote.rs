//! TDX quote parsing (strict and lenient) and verification of whatever parses (PEM chain,
//! X.509, SGX extensions, signatures): never a panic.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use coco_evidence::tdx::{self, Quote, VerifyOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Quote::parse(data);
    if let Ok(q) = Quote::parse_allowing_trailing_data(data) {
        let _ = q.body.debug();
        let _ = q.signed_bytes();
        // 2025-07-01: inside the validity of the real PCK chains in the seed corpus.
        let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(1_751_328_000))
            .without_revocation_check();
        if let Ok(v) = tdx::verify(q, &opts) {
            let _ = tdx::claims::claims(&v);
        }
    }
});
