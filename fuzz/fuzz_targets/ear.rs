//! EAR readers: JWT (compact), JSON claims-sets in both namings, CWT and CBOR claims-sets:
//! never a panic.
#![no_main]
use coco_core::ear::{Ear, cbor_claims_to_json};
use coco_core::keys::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = PublicKey::parse(br#"{"kty":"EC","crv":"P-256","x":"usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8","y":"IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4"}"#).unwrap();
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = Ear::from_jwt(t, std::slice::from_ref(&key), 1_700_000_000);
    }
    if let Ok(j) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(e) = Ear::from_json(&j)
    {
        let _ = e.to_json();
        for a in e.submods.values() {
            let _ = a.attested_key();
        }
    }
    let _ = Ear::from_cwt(data, &[key], 1_700_000_000);
    if let Ok(v) = coco_core::cbor::decode(data, "fuzz") {
        let _ = cbor_claims_to_json(&v);
    }
});
