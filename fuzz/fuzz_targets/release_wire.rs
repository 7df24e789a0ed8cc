//! Key-release wire types: challenge, evidence bundle, release response and TEE-key JWK JSON
//! never panic;
//! a bundle that parses is carried through the service (with a freshly issued challenge, so
//! the evidence parsers and verifiers behind it are reached) and must be refused, not panic.
#![no_main]
use std::sync::OnceLock;
use std::time::SystemTime;

use coco_core::appraise::ReferenceValues;
use coco_core::keys::SigningKey;
use coco_core::policy::Policy;
use coco_release::keystore::MemoryKeyStore;
use coco_release::service::{KeyReleaseService, ServiceConfig};
use coco_release::wire::{Challenge, EvidenceBundle, ReleaseResponse};
use libfuzzer_sys::fuzz_target;

fn service() -> &'static KeyReleaseService {
    static S: OnceLock<KeyReleaseService> = OnceLock::new();
    S.get_or_init(|| {
        KeyReleaseService::new(
            Box::new(MemoryKeyStore::default()),
            SigningKey::generate_p384().unwrap(),
            ServiceConfig {
                references: ReferenceValues::default(),
                policy: Policy::default(),
                sim_root: None,
                challenge_ttl_secs: 60,
            },
        )
        .unwrap()
        .with_audit(Box::new(std::io::sink()))
    })
}

fuzz_target!(|data: &[u8]| {
    // A TEE public key (JWK) as the KBS protocol carries it: parsed, and when accepted, used.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(k) = coco_release::jwe::TeeKey::from_jwk(&v)
    {
        let _ = coco_release::jwe::encrypt(&k, b"secret");
    }
    let _ = serde_json::from_slice::<Challenge>(data);
    let _ = serde_json::from_slice::<ReleaseResponse>(data);
    if let Ok(mut bundle) = serde_json::from_slice::<EvidenceBundle>(data) {
        let s = service();
        let now = SystemTime::now();
        bundle.token = s.challenge(now).unwrap().token;
        assert!(s.release(&bundle, now).is_err(), "no key is stored: nothing may be released");
    }
});
