//! CoRIM / CoMID CBOR and signed CoRIM (COSE_Sign1) decoding, profile checks and matching of a
//! decoded reference against itself: never a panic.
#![no_main]
use coco_core::appraise::ReferenceValues;
use coco_core::corim::cose::SignedCorim;
use coco_core::corim::{Comid, Corim, DecodeOptions, compare};
use coco_core::keys::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for opts in [
        DecodeOptions::default(),
        DecodeOptions { legacy: true, bare_text_profile: true },
    ] {
        if let Ok(c) = Corim::decode(data, &opts) {
            let _ = c.to_json();
            for m in &c.comids {
                for t in &m.reference {
                    for x in &t.measurements {
                        let _ = compare::mval(&x.mval, &x.mval);
                    }
                }
            }
            let _ = ReferenceValues::from_corims(&[c]);
        }
        if let Ok(s) = SignedCorim::decode(data, &opts) {
            let key = PublicKey::parse(br#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#).unwrap();
            let _ = s.verify(&[key], 1_700_000_000);
        }
    }
    if let Ok(m) = Comid::decode(data) {
        let _ = m.to_json();
    }
});
