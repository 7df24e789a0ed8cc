//! Property tests for what this crate writes: EARs and CoRIMs read back to what was written.

use std::collections::BTreeMap;

use coco_core::appraise::ReferenceValues;
use coco_core::corim::{Corim, DecodeOptions, Mkey};
use coco_core::ear::{Appraisal, Ear, PROFILE, Status, TrustVector, VerifierId};
use coco_core::profile::build;
use proptest::prelude::*;

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::None),
        Just(Status::Affirming),
        Just(Status::Warning),
        Just(Status::Contraindicated)
    ]
}

fn appraisal() -> impl Strategy<Value = Appraisal> {
    (
        proptest::array::uniform8(proptest::option::of(any::<i8>())),
        proptest::collection::vec("[a-z:/0-9]{1,20}", 0..3),
        status(),
    )
        .prop_map(|(tv, policy_ids, floor)| {
            let trust_vector = TrustVector(tv);
            // A valid EAR never claims better than its vector: take the worse of the two.
            let status = floor.max(trust_vector.status());
            Appraisal {
                status,
                trust_vector,
                policy_ids,
                extra: Default::default(),
            }
        })
}

proptest! {
    #[test]
    fn ear_json_round_trips(
        iat in 0i64..4_000_000_000,
        ttl in proptest::option::of(0i64..100_000),
        subs in proptest::collection::btree_map("[a-z]{1,6}[0-9]", appraisal(), 1..4),
        nonce in proptest::option::of("[A-Za-z0-9_-]{8,40}"),
    ) {
        let ear = Ear {
            profile: PROFILE.into(),
            iat,
            exp: ttl.map(|t| iat + t),
            verifier_id: VerifierId { developer: "coco".into(), build: "test".into() },
            nonce,
            status: None,
            submods: subs.into_iter().collect::<BTreeMap<_, _>>(),
            extra: Default::default(),
        };
        let back = Ear::from_json(&ear.to_json()).unwrap();
        prop_assert_eq!(&back.submods, &ear.submods);
        prop_assert_eq!(back.iat, ear.iat);
        prop_assert_eq!(back.exp, ear.exp);
        prop_assert_eq!(&back.nonce, &ear.nonce);
        prop_assert_eq!(back.status, Some(ear.overall()));
    }

    #[test]
    fn corim_build_round_trips(
        mrtd in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 1..4),
        measurement in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 1..3),
        guest_svn in any::<u32>(),
        policy in any::<u64>(),
        mask in any::<u64>(),
    ) {
        let hex48 = |b: &[u8; 32]| hex::encode([&b[..], &b[..16]].concat());
        let list = |v: &[[u8; 32]]| v.iter().map(|b| format!("\"{}\"", hex48(b))).collect::<Vec<_>>().join(", ");
        let toml = format!(
            "id = \"prop\"\n[tdx]\nmrtd = [{}]\n[snp]\nmeasurement = [{}]\nguest_svn_min = {guest_svn}\npolicy = {{ value = \"0x{policy:x}\", mask = \"0x{mask:x}\" }}\n",
            list(&mrtd),
            list(&measurement)
        );
        let bytes = build::build(&toml).unwrap();
        let c = Corim::decode(&bytes, &DecodeOptions::default()).unwrap();
        prop_assert_eq!(c.comids.len(), 2);
        let by = |suffix: &str| c.comids.iter().find(|m| m.tag_id.to_text().ends_with(suffix)).unwrap();
        let tdx = by("/tdx");
        prop_assert_eq!(tdx.reference.len(), mrtd.len());
        for (t, want) in tdx.reference.iter().zip(&mrtd) {
            prop_assert_eq!(&t.measurements[0].mkey, &Some(Mkey::Text("mrtd".into())));
            prop_assert_eq!(hex::encode(&t.measurements[0].mval.digests.as_ref().unwrap()[0].value), hex48(want));
        }
        let snp = by("/snp");
        prop_assert_eq!(snp.reference.len(), measurement.len() + 2);
        let policy_triple = snp.reference.iter().find(|t| t.measurements[0].mkey == Some(Mkey::Uint(2))).unwrap();
        let raw = policy_triple.measurements[0].mval.raw.clone().unwrap();
        prop_assert_eq!(raw.value, policy.to_le_bytes().to_vec());
        prop_assert_eq!(raw.mask, Some(mask.to_le_bytes().to_vec()));
        prop_assert!(ReferenceValues::from_corims(std::slice::from_ref(&c)).is_ok());
    }
}
