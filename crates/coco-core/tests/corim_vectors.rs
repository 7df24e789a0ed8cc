//! Every file in `vectors/corim/corim/` decodes to the values its README lists; signatures
//! verify only under the published key and only inside their validity; profiles this crate does
//! not implement are refused for appraisal.

use std::path::PathBuf;

use ciborium::value::Value;
use coco_core::appraise::ReferenceValues;
use coco_core::corim::compare;
use coco_core::corim::cose::SignedCorim;
use coco_core::corim::{
    Alg, Comid, Corim, DecodeOptions, IntRange, Mkey, Profile, RawValue, RegisterId, Svn, TagId,
};
use coco_core::keys::PublicKey;
use coco_core::time::unix_rfc3339;

fn file(name: &str) -> PathBuf {
    coco_core::vectors::dir().join("corim/corim").join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key() -> PublicKey {
    PublicKey::parse(&read("veraison-corim-signing-key.pub.jwk.json")).unwrap()
}

fn strict() -> DecodeOptions {
    DecodeOptions::default()
}

fn digest_hex(c: &Comid, t: usize, m: usize) -> String {
    hex::encode(
        &c.reference[t].measurements[m]
            .mval
            .digests
            .as_ref()
            .unwrap()[0]
            .value,
    )
}

#[test]
fn unsigned_good_corim() {
    let c = Corim::decode(&read("veraison-unsigned-good-corim.cbor"), &strict()).unwrap();
    assert_eq!(c.id, TagId::Text("test corim id".into()));
    assert_eq!(c.profile, None);
    assert_eq!(c.comids.len(), 1);
    let m = &c.comids[0];
    assert_eq!(m.language.as_deref(), Some("en-GB"));
    assert_eq!(m.tag_id.to_text(), "43bbe37f-2e61-4b33-aed3-53cff1428b16");
    assert_eq!(m.entities.len(), 1);
    assert_eq!(m.entities[0].name, "ACME Ltd.");
    assert_eq!(
        m.entities[0].reg_id.as_deref(),
        Some("https://acme.example")
    );
    assert_eq!(m.entities[0].roles, [0, 1, 2]);
    assert_eq!(m.reference.len(), 1);
    assert!(m.endorsed.is_empty() && m.identity.is_empty() && m.attest_key.is_empty());
    let class = m.reference[0].environment.class.as_ref().unwrap();
    assert_eq!(
        class.class_id,
        Some(Value::Tag(
            560,
            Box::new(Value::Bytes(b"acme-implementation-id-000000001".to_vec()))
        ))
    );
    assert_eq!(class.vendor.as_deref(), Some("ACME"));
    assert_eq!(class.model.as_deref(), Some("RoadRunner"));
    let ms = &m.reference[0].measurements;
    assert_eq!(ms.len(), 3);
    for (i, want) in [
        "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7",
        "0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f",
        "a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            ms[i].mkey,
            Some(Mkey::Uuid(
                hex::decode("31fb5abf023e4992aa4e95f9c1503bfa").unwrap()
            ))
        );
        assert_eq!(ms[i].mval.digests.as_ref().unwrap()[0].alg, Alg::Int(1));
        assert_eq!(digest_hex(m, 0, i), *want);
    }
}

#[test]
fn signed_good_corim_verifies_only_under_its_key_and_in_its_window() {
    let s = SignedCorim::decode(&read("veraison-signed-good-corim.cbor"), &strict()).unwrap();
    assert_eq!(s.alg, -7);
    assert_eq!(s.kid.as_deref(), Some(&b"1"[..]));
    let signer = s.signer.as_ref().unwrap();
    assert_eq!(signer.name, "ACME Ltd signing key");
    assert_eq!(signer.uri.as_deref(), Some("https://acme.example"));
    let v = s.signature_validity.unwrap();
    assert_eq!(v.not_before, unix_rfc3339("2021-12-31T00:00:00Z"));
    assert_eq!(v.not_after, unix_rfc3339("2025-12-31T00:00:00Z"));
    // Same content as the unsigned file (different key order on the wire).
    let unsigned = Corim::decode(&read("veraison-unsigned-good-corim.cbor"), &strict()).unwrap();
    assert_eq!(s.corim, unsigned);

    let at = unix_rfc3339("2024-01-01T00:00:00Z").unwrap();
    s.verify(&[key()], at).unwrap();
    let late = unix_rfc3339("2026-01-01T00:00:00Z").unwrap();
    assert_eq!(s.verify(&[key()], late).unwrap_err().kind(), "expired");
    // No trusted key, or another key: refused.
    assert_eq!(s.verify(&[], at).unwrap_err().kind(), "signature");
    let other = PublicKey::parse(
        &std::fs::read(
            coco_core::vectors::dir().join("corim/ear/veraison-ear-test-key.pub.jwk.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(s.verify(&[other], at).unwrap_err().kind(), "signature");
}

#[test]
fn bad_signature_and_tampered_payload_fail() {
    let at = unix_rfc3339("2024-01-01T00:00:00Z").unwrap();
    for f in [
        "derived-signed-good-corim-bad-signature.cbor",
        "derived-signed-good-corim-tampered-payload.cbor",
    ] {
        let s = SignedCorim::decode(&read(f), &strict()).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(
            s.verify(&[key()], at).unwrap_err().kind(),
            "signature",
            "{f}"
        );
    }
    let tampered = SignedCorim::decode(
        &read("derived-signed-good-corim-tampered-payload.cbor"),
        &strict(),
    )
    .unwrap();
    assert!(
        hex::encode(
            &tampered.corim.comids[0].reference[0].measurements[0]
                .mval
                .digests
                .as_ref()
                .unwrap()[0]
                .value
        )
        .starts_with("86")
    );
}

#[test]
fn example_corims_with_an_unknown_profile_decode_and_are_refused_for_appraisal() {
    let c = Corim::decode(&read("veraison-unsigned-example-corim.cbor"), &strict()).unwrap();
    assert_eq!(
        c.profile,
        Some(Profile::Uri("http://example.com/example-profile".into()))
    );
    assert_eq!(c.extensions, vec![(-1, Value::Text("foo".into()))]);
    assert_eq!(
        c.comids[0].entities[0].extensions,
        vec![(-1, Value::Text("123 Fake Street".into()))]
    );
    for m in &c.comids[0].reference[0].measurements {
        assert_eq!(
            m.mval.extensions,
            vec![(-1, Value::Integer(1720782190.into()))]
        );
    }
    let err = ReferenceValues::from_corims(&[c]).unwrap_err();
    assert_eq!(err.kind(), "profile", "{err}");
    let s = SignedCorim::decode(&read("veraison-signed-example-corim.cbor"), &strict()).unwrap();
    s.verify(&[key()], unix_rfc3339("2024-01-01T00:00:00Z").unwrap())
        .unwrap();
    // Trustee's copy has the profile as bare text: strict decoding refuses it, lenient accepts.
    let t = read("trustee-rvps-unsigned-example-corim.cbor");
    assert_eq!(
        Corim::decode(&t, &strict()).unwrap_err().kind(),
        "malformed"
    );
    let lenient = DecodeOptions {
        bare_text_profile: true,
        ..DecodeOptions::default()
    };
    let c = Corim::decode(&t, &lenient).unwrap();
    assert_eq!(
        c.profile,
        Some(Profile::Uri("http://example.com/example-profile".into()))
    );
}

#[test]
fn corim_2_with_a_uuid_id_and_an_endorsement() {
    let c = Corim::decode(&read("veraison-corim-2.cbor"), &strict()).unwrap();
    assert_eq!(
        c.id,
        TagId::Uuid(
            hex::decode("284e6c3e5d9f4f6b851f5a4247f243a7")
                .unwrap()
                .try_into()
                .unwrap()
        )
    );
    let m = &c.comids[0];
    assert!(m.tag_id.to_text().starts_with("3f06af63"));
    assert_eq!(m.reference.len(), 3);
    assert_eq!(m.endorsed.len(), 1);
    let c0 = m.reference[0].environment.class.as_ref().unwrap();
    assert_eq!(
        c0.class_id,
        Some(Value::Tag(
            37,
            Box::new(Value::Bytes(
                hex::decode("67b28b6c34cc40a19117ab5b05911e37").unwrap()
            ))
        ))
    );
    assert_eq!(c0.vendor.as_deref(), Some("ACME Inc."));
    assert_eq!(c0.model.as_deref(), Some("ACME RoadRunner Firmware"));
    assert_eq!(c0.layer, Some(1));
    assert_eq!(
        digest_hex(m, 0, 0),
        "44aa336af4cb14a879432e53dd6571c7fa9bccafb75f488259262d6ea3a4d91b"
    );
    for (i, idx) in [(1, 0), (2, 1)] {
        let c = m.reference[i].environment.class.as_ref().unwrap();
        assert_eq!(c.vendor.as_deref(), Some("WYLIE Inc."));
        assert_eq!(c.model.as_deref(), Some("WYLIE Coyote Trusted OS"));
        assert_eq!((c.layer, c.index), (Some(2), Some(idx)));
        assert!(digest_hex(m, i, 0).starts_with("bb71198e"));
    }
    let e = m.endorsed[0].environment.class.as_ref().unwrap();
    assert_eq!(e.model.as_deref(), Some("ACME RoadRunner Root of Trust"));
    assert_eq!(e.layer, Some(0));
    assert_eq!(m.endorsed[0].measurements[0].mval.svn, Some(Svn::Exact(1)));
}

#[test]
fn raw_values_match_by_the_draft_rules() {
    let m = Comid::decode(&read("veraison-comid-raw-value.cbor")).unwrap();
    assert_eq!(m.reference.len(), 3);
    let raws: Vec<RawValue> = m
        .reference
        .iter()
        .map(|t| {
            assert!(t.measurements[0].mkey.is_none());
            t.measurements[0].mval.raw.clone().unwrap()
        })
        .collect();
    assert_eq!(
        raws[0],
        RawValue {
            value: hex::decode("12345678").unwrap(),
            mask: None
        }
    );
    assert_eq!(
        raws[1],
        RawValue {
            value: hex::decode("12340000").unwrap(),
            mask: Some(hex::decode("ffff0000").unwrap())
        }
    );
    assert_eq!(raws[2], raws[1], "deprecated key 5 is the same mask");
    let m = |e: &str| {
        raws.iter()
            .map(|r| compare::raw(r, &hex::decode(e).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(m("12345678"), [true, true, true]);
    assert_eq!(m("1234abcd"), [false, true, true]);
    assert_eq!(m("123456"), [false, false, false]);
}

#[test]
fn integrity_registers_keep_uint_and_text_ids_apart() {
    let m = Comid::decode(&read("veraison-comid-integrity-registers.cbor")).unwrap();
    let regs = m.reference[0].measurements[0]
        .mval
        .integrity_registers
        .as_ref()
        .unwrap();
    assert_eq!(regs.len(), 2);
    assert_eq!(regs[0].0, RegisterId::Uint(0));
    assert_eq!(regs[1].0, RegisterId::Text("my-ir".into()));
    assert_eq!(regs[0].1[0].alg, Alg::Int(1));
    assert_eq!(
        hex::encode(&regs[0].1[0].value),
        "44aa336af4cb14a879432e53dd6571c7fa9bccafb75f488259262d6ea3a4d91b"
    );
    assert_eq!(regs[0].1[1].alg, Alg::Text("my-alg-id".into()));
    assert_eq!(regs[0].1[1].value, hex::decode("deadbeef").unwrap());
    assert_eq!(regs[1].1[1].value, hex::decode("fefefafa").unwrap());
}

#[test]
fn every_mkey_form_and_key_triples() {
    let m = Comid::decode(&read("veraison-comid-2.cbor")).unwrap();
    assert_eq!(m.endorsed.len(), 1);
    let svns: Vec<_> = m.endorsed[0]
        .measurements
        .iter()
        .map(|x| x.mval.svn)
        .collect();
    assert_eq!(svns, [Some(Svn::Exact(1)), Some(Svn::Exact(2))]);

    let m = Comid::decode(&read("veraison-comid-3.cbor")).unwrap();
    assert_eq!(
        m.tag_id,
        TagId::Text("my-ns:acme-roadrunner-supplement".into())
    );
    assert_eq!(m.entities[0].roles, [1, 0, 2]);
    let keys: Vec<_> = m.reference[0]
        .measurements
        .iter()
        .map(|x| x.mkey.clone())
        .collect();
    assert_eq!(keys[0], Some(Mkey::Uint(700)));
    assert_eq!(keys[1], Some(Mkey::Text("my_element".into())));
    assert_eq!(keys[2], Some(Mkey::Oid(hex::decode("5502c001").unwrap())));
    assert!(matches!(keys[3], Some(Mkey::Uuid(_))));
    assert_eq!(keys[4], None);
    let vals: Vec<_> = m.reference[0]
        .measurements
        .iter()
        .map(|x| {
            let d = &x.mval.digests.as_ref().unwrap()[0];
            assert_eq!(d.alg, Alg::Int(6));
            hex::encode(&d.value)
        })
        .collect();
    assert_eq!(
        vals,
        ["abcdef00", "00fedcba", "00fedcba", "00fedcba", "11223344"]
    );

    let m = Comid::decode(&read("veraison-comid-5.cbor")).unwrap();
    assert!(m.entities.is_empty());
    assert_eq!(
        m.reference[0].measurements[0].mkey,
        Some(Mkey::Text("thing 2".into()))
    );
    assert_eq!(
        m.reference[0].measurements[0]
            .mval
            .cryptokeys
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(m.identity.len(), 4);
    assert_eq!(m.attest_key.len(), 4);
    let tags: Vec<u64> = m.identity[0]
        .keys
        .iter()
        .map(|k| match k {
            Value::Tag(t, _) => *t,
            _ => 0,
        })
        .collect();
    assert_eq!(tags, [554, 555, 556, 557, 558, 559, 561]);
    assert!(m.identity[0].conditions.is_none());
    assert!(m.identity[1..].iter().all(|t| t.conditions.is_some()));
    assert!(m.attest_key[1..].iter().all(|t| t.conditions.is_some()));
}

#[test]
fn flags_and_linked_tags() {
    let m = Comid::decode(&read("veraison-comid-flags.cbor")).unwrap();
    assert_eq!(m.linked_tags.len(), 2);
    assert!(m.linked_tags.iter().all(|(_, rel)| *rel == 0));
    let class = m.endorsed[0].environment.class.as_ref().unwrap();
    assert_eq!(
        class.class_id,
        Some(Value::Tag(
            111,
            Box::new(Value::Bytes(
                hex::decode("060c6086480186f84d010f046301").unwrap()
            ))
        ))
    );
    assert_eq!(class.vendor.as_deref(), Some("fwmfginc.example"));
    let flags = m.endorsed[0].measurements[0].mval.flags.as_ref().unwrap();
    assert_eq!(flags.len(), 10);
    let want = [true, true, true, false, true, true, true, true, true, true];
    for (i, (k, v)) in flags.iter().enumerate() {
        assert_eq!((*k, *v), (i as u64, want[i]));
    }
}

#[test]
fn intel_profile_extensions_are_kept_and_never_matched() {
    let m = Comid::decode(&read("veraison-intel-profile-comid-seam-refval.cbor")).unwrap();
    let class = m.reference[0].environment.class.as_ref().unwrap();
    assert_eq!(class.model.as_deref(), Some("TDX SEAM"));
    let mm = &m.reference[0].measurements[0];
    assert!(
        mm.authorized_by
            .as_ref()
            .is_some_and(|a| matches!(&a[0], Value::Tag(554, _)))
    );
    let keys: Vec<i64> = mm.mval.extensions.iter().map(|(k, _)| *k).collect();
    for k in [-82, -85, -73, -83, -84, -86] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    // Even evidence carrying the very same values does not match: the keys are not understood.
    assert!(compare::mval(&mm.mval, &mm.mval).is_err());
}

#[test]
fn snp_profile_rules_refuse_the_bad_veraison_corims() {
    for (f, id_suffix) in [
        ("veraison-services-corim-sevsnp-bad-refval-no-key.cbor", "4"),
        ("veraison-services-corim-sevsnp-bad-refval-key.cbor", "5"),
        ("veraison-services-corim-sevsnp-bad-ta-no-model.cbor", "3"),
        ("veraison-services-corim-sevsnp-bad-ta-no-vendor.cbor", "2"),
    ] {
        let c = Corim::decode(&read(f), &strict()).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(
            c.id.to_text(),
            format!("00000000-0000-0000-5596-000000000000{id_suffix}"),
            "{f}"
        );
        assert_eq!(
            c.profile,
            Some(Profile::Uri("tag:amd.com,2024:snp-corim-profile".into()))
        );
        let err = ReferenceValues::from_corims(&[c]).unwrap_err();
        assert_eq!(err.kind(), "profile", "{f}: {err}");
    }
    let c = Corim::decode(
        &read("veraison-services-corim-sevsnp-bad-refval-no-key.cbor"),
        &strict(),
    )
    .unwrap();
    let t = &c.comids[0].reference[0];
    assert_eq!(
        t.measurements[0].mval.svn,
        Some(Svn::Exact(6059311823650291722))
    );
    assert!(
        matches!(&t.environment.instance, Some(Value::Tag(560, b)) if matches!(&**b, Value::Bytes(x) if x.len() == 64))
    );
}

#[test]
fn malformed_input_is_an_error_with_a_path_never_a_panic() {
    let good = read("veraison-unsigned-good-corim.cbor");
    for n in 0..good.len() {
        let _ = Corim::decode(&good[..n], &strict());
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0xff;
        let _ = Corim::decode(&b, &strict());
    }
    let err = Corim::decode(&good[..good.len() - 1], &strict()).unwrap_err();
    assert_eq!(err.kind(), "malformed");
    // An int-range bound check that uses the full range.
    assert!(compare::int(
        IntRange::Range(Some(0), None),
        u64::MAX.into()
    ));
}
