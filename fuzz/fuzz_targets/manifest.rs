//! The model manifest (plain in-toto statement or DSSE envelope): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = coco_seal::manifest::StoredManifest::parse(data) {
        let _ = m.statement(None);
    }
});
