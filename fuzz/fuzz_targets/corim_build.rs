//! `coco corim build` over arbitrary TOML, and the policy reader: never a panic; whatever
//! builds must decode again under coco's profile.
#![no_main]
use coco_core::appraise::ReferenceValues;
use coco_core::corim::{Corim, DecodeOptions};
use coco_core::profile::build;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(bytes) = build::build(text) {
        let c = Corim::decode(&bytes, &DecodeOptions::default()).expect("built CoRIMs decode");
        ReferenceValues::from_corims(&[c]).expect("built CoRIMs are of the profile");
    }
    let _ = coco_core::policy::Policy::from_toml(text);
});
