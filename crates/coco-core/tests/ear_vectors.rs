//! Every EAR in `vectors/corim/ear/`: the valid ones verify under their published key with
//! the values the README lists, in both namings; the must-reject ones are rejected; expiry
//! follows the injected clock.

use coco_core::CoreError;
use coco_core::ear::{Ear, Status, cbor_claims_to_json};
use coco_core::keys::{PublicKey, SigningKey};
use serde_json::Value;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(coco_core::vectors::dir().join("corim/ear").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

fn veraison_key() -> PublicKey {
    PublicKey::parse(&read("veraison-ear-test-key.pub.jwk.json")).unwrap()
}

const AT: u64 = 1_700_000_000;

fn tv(ear: &Ear, sub: &str) -> Vec<Option<i8>> {
    ear.submods[sub].trust_vector.0.to_vec()
}

#[test]
fn veraison_jwts_verify_under_the_pinned_key() {
    for f in [
        "veraison-ear-jwt-es256-tv.jwt",
        "veraison-ear-jwt-es256-header-jwk.jwt",
    ] {
        let ear =
            Ear::from_jwt(&text(f), &[veraison_key()], AT).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(ear.profile, "tag:github.com,2023:veraison/ear");
        assert_eq!(ear.iat, 1666091373);
        let a = &ear.submods["test"];
        assert_eq!(a.status, Status::Affirming);
        assert_eq!(a.policy_ids, ["https://veraison.example/policy/1/60a0068d"]);
        assert_eq!(
            tv(&ear, "test"),
            [
                Some(2),
                Some(2),
                Some(3),
                Some(2),
                Some(2),
                Some(2),
                Some(2),
                Some(2)
            ]
        );
        assert_eq!(ear.extra["ear.raw-evidence"], "3q2-7w");
    }
    // The header-jwk token is not trusted because of its header: without the pinned key it fails.
    let other = SigningKey::generate_p384().unwrap().public();
    assert!(Ear::from_jwt(&text("veraison-ear-jwt-es256-header-jwk.jwt"), &[other], AT).is_err());

    let ear = Ear::from_jwt(
        &text("veraison-ear-jwt-es256-veraison-extensions.jwt"),
        &[veraison_key()],
        AT,
    )
    .unwrap();
    let a = &ear.submods["test"];
    assert_eq!(a.policy_ids, ["policy://test/01234"]);
    assert_eq!(a.extra["ear.veraison.policy-claims"]["foo"], "bar");
    // akpub is "akpub\n", not a SubjectPublicKeyInfo: the claims parse, the key does not.
    assert!(a.attested_key().is_err());
}

#[test]
fn invalid_jwts_are_rejected() {
    for (f, kind) in [
        ("veraison-ear-jwt-INVALID-hs256.jwt", "signature"),
        ("veraison-ear-jwt-INVALID-alg-none.jwt", "signature"),
        ("veraison-ear-jwt-INVALID-leading-dot.jwt", "ear"),
        ("veraison-ear-jwt-INVALID-trailing-rubbish.jwt", "ear"),
        ("veraison-ear-jwt-INVALID-empty-claims.jwt", "ear"),
    ] {
        let err = Ear::from_jwt(&text(f), &[veraison_key()], AT).unwrap_err();
        assert_eq!(err.kind(), kind, "{f}: {err}");
    }
}

#[test]
fn rust_ear_tokens_in_both_namings() {
    let key = PublicKey::parse(&read("rust-ear-test-key.pub.jwk.json")).unwrap();
    let ear = Ear::from_jwt(
        &text("ear-crate-0.6.0-readme-draft04-names.jwt"),
        std::slice::from_ref(&key),
        AT,
    )
    .unwrap();
    assert_eq!(ear.profile, "tag:ietf.org,2026:rats/ear#04");
    assert_eq!(ear.submods["test"].status, Status::None);
    assert_eq!(ear.verifier_id.build, "vsts 0.0.1");
    // The legacy README token's profile is "test": a profile-checking verifier refuses it,
    // after its signature verified.
    let err = Ear::from_jwt(&text("rust-ear-0.4-readme-legacy-names.jwt"), &[key], AT).unwrap_err();
    assert!(
        matches!(&err, CoreError::UnknownProfile { profile, .. } if profile == "test"),
        "{err}"
    );
}

#[test]
fn cwts_verify_and_map_to_the_same_model() {
    for f in [
        "derived-ear-cwt-es256-pre03.cbor",
        "derived-ear-cwt-es256-draft03.cbor",
    ] {
        let ear =
            Ear::from_cwt(&read(f), &[veraison_key()], AT).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(ear.iat, 1666529184);
        let a = &ear.submods["PSA"];
        assert_eq!(a.status, Status::Contraindicated);
        assert_eq!(
            tv(&ear, "PSA"),
            [Some(2), None, Some(96), None, Some(2), None, None, None]
        );
    }
    let mut bad = read("derived-ear-cwt-es256-draft03.cbor");
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        Ear::from_cwt(&bad, &[veraison_key()], AT)
            .unwrap_err()
            .kind(),
        "signature"
    );
    // The unsigned CBOR claims-sets map to JSON the same way.
    for f in [
        "derived-ietf-ear-pre03-ear-cbor-1.cbor",
        "derived-ietf-ear-draft03-ear-cbor-1.cbor",
        "derived-ietf-ear-draft03-ext-veraison-cbor-1.cbor",
    ] {
        let v = coco_core::cbor::decode(&read(f), f).unwrap();
        let ear = Ear::from_json(&cbor_claims_to_json(&v).unwrap())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!ear.submods.is_empty(), "{f}");
    }
}

#[test]
fn json_claims_sets_in_both_namings() {
    let e = Ear::from_json(&json("veraison-ear-arc-ear-claims.json")).unwrap();
    assert_eq!(e.iat, 1666091373);
    assert_eq!(e.submods["test"].status, Status::Affirming);
    let e = Ear::from_json(&json("veraison-ear-arc-ear-claims-tv-ok.json")).unwrap();
    assert_eq!(e.submods["test"].trust_vector.get("executables"), Some(3));
    let e = Ear::from_json(&json("veraison-ear-arc-ear-claims-extension-ok.json")).unwrap();
    assert!(e.extra.contains_key("ear.veraison.annotated-evidence"));
    let e = Ear::from_json(&json("veraison-ear-arc-ear-claims-key-attestation-ok.json")).unwrap();
    assert!(matches!(
        e.submods["PARSEC_TPM"].attested_key().unwrap(),
        PublicKey::P256(_)
    ));
    let e = Ear::from_json(&json("veraison-ear-arc-ear-claims-key-attestation-ko.json")).unwrap();
    assert_eq!(e.submods["PARSEC_TPM"].status, Status::Contraindicated);
    assert!(e.submods["PARSEC_TPM"].attested_key().is_err());

    let e = Ear::from_json(&json("ietf-ear-pre03-ear-json-1.json")).unwrap();
    assert_eq!(
        e.submods["PSA"].policy_ids,
        ["https://veraison.example/policy/1/60a0068d"]
    );
    assert_eq!(e.submods["PSA"].status, Status::Contraindicated);
    let e = Ear::from_json(&json("ietf-ear-draft03-ear-json-1.json")).unwrap();
    assert_eq!(
        e.submods["PSA"].policy_ids,
        ["https://veraison.example/policy/1/60a0068d"]
    );
    let e = Ear::from_json(&json("ietf-ear-draft03-ear-json-2.json")).unwrap();
    assert_eq!(e.submods.len(), 2);
    assert_eq!(
        e.submods["CCA Realm"].trust_vector.get("instance-identity"),
        Some(2)
    );
    let e = Ear::from_json(&json("ietf-ear-draft03-ext-veraison-json-2.json")).unwrap();
    assert!(
        e.submods["PARSEC_TPM"].attested_key().is_err(),
        "truncated placeholder akpub"
    );
    let e = Ear::from_json(&json("rust-ear-misc-claims.json"));
    assert!(e.is_ok() || matches!(e, Err(CoreError::UnknownProfile { .. })));
}

#[test]
fn trustee_ear_expires_by_the_clock_and_its_status_is_its_worst_tier() {
    let e = Ear::from_json(&json("trustee-example-ear-claims.json")).unwrap();
    assert_eq!(
        e.profile,
        "tag:github.com,2024:confidential-containers/Trustee"
    );
    assert_eq!((e.iat, e.exp), (1760426134, Some(1760426434)));
    let a = &e.submods["cpu0"];
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(a.trust_vector.status(), Status::Contraindicated);
    assert_eq!(
        tv(&e, "cpu0"),
        [
            Some(0),
            Some(36),
            Some(33),
            Some(0),
            Some(97),
            Some(0),
            Some(0),
            Some(0)
        ]
    );
    assert_eq!(a.policy_ids, ["default"]);
    assert_eq!(
        a.extra["ear.veraison.annotated-evidence"]["sgx"]["advisory_ids"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    e.check_time(1760426200).unwrap();
    assert_eq!(e.check_time(1760426435).unwrap_err().kind(), "expired");
}

#[test]
fn our_own_jwt_round_trips_and_a_status_better_than_the_vector_is_refused() {
    let key = SigningKey::generate_p384().unwrap();
    let mut e = Ear::from_json(&json("veraison-ear-arc-ear-claims-tv-ok.json")).unwrap();
    e.profile = coco_core::ear::PROFILE.into();
    e.exp = Some(AT as i64 + 60);
    let token = e.to_jwt(&key);
    let back = Ear::from_jwt(&token, &[key.public()], AT).unwrap();
    assert_eq!(back.submods, e.submods);
    assert_eq!(
        Ear::from_jwt(&token, &[key.public()], AT + 61)
            .unwrap_err()
            .kind(),
        "expired"
    );
    // Written in the current naming only.
    let j = e.to_json();
    assert!(j["submods"]["test"].get("ear_status").is_some());
    assert!(j["submods"]["test"].get("ear.status").is_none());
    // A submod claiming affirming with a contraindicated vector is malformed.
    let mut j = json("veraison-ear-arc-ear-claims-tv-ok.json");
    j["submods"]["test"]["ear.trustworthiness-vector"]["hardware"] = 97.into();
    assert!(Ear::from_json(&j).is_err());
}
