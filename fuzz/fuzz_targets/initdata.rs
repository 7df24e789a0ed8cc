//! Init-data documents (TOML): parsing and the digests of both TEE fields, never a panic.
#![no_main]
use coco_core::initdata::{Field, InitData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = InitData::parse(data) {
        assert_eq!(d.field_value(Field::TdxMrConfigId).len(), 48);
        assert_eq!(d.field_value(Field::SnpHostData).len(), 32);
        assert_eq!(d.bytes(), data);
    }
});
