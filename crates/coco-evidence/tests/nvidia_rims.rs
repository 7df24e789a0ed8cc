//! NVIDIA's signed RIMs in `vectors/nvidia/`: every one verifies (XML-DSig over C14N 1.1,
//! chain to the pinned RIM root) at a time inside its validity; the negatives fail with the
//! right error; reports compare against their RIMs as the vectors' READMEs record.

mod common;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use coco_evidence::EvidenceError;
use coco_evidence::SignatureCause;
use coco_evidence::nvidia::rim::{self, RimDocument, RimSource};
use coco_evidence::nvidia::{Report, VerifyOptions};
use coco_evidence::x509::load_certs;
use common::*;
use serde_json::Value;

fn rims_dir() -> PathBuf {
    vectors().join("nvidia/rims")
}

/// Every RIM of the corpus and of the samples (the tampered one excepted).
fn all_rims() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in [rims_dir().join("driver"), rims_dir().join("vbios")] {
        out.extend(std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()));
    }
    for s in ["hopper-h100-545.00-e2e", "hopper-h100-535.86.09"] {
        for f in std::fs::read_dir(vectors().join("nvidia").join(s)).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "swidtag") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A day after the signer certificate's notBefore: inside every certificate's validity.
fn inside_validity(path: &Path) -> SystemTime {
    // The signer is the first KeyInfo certificate.
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("X509Certificate>").unwrap() + "X509Certificate>".len();
    let end = start + text[start..].find('<').unwrap();
    let b64: String = text[start..end].split_whitespace().collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let leaf = coco_evidence::x509::Cert::from_der(&der).unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(leaf.validity().0 + 86400)
}

#[test]
fn every_rim_verifies_inside_its_validity() {
    let rims = all_rims();
    assert_eq!(rims.len(), 28, "25 corpus RIMs and 3 sample RIMs");
    for p in rims {
        let bytes = std::fs::read(&p).unwrap();
        let v = rim::RimDocument::parse(&bytes)
            .and_then(|doc| rim::verify(doc, inside_validity(&p)))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(v.chain.len(), 4, "{}", p.display());
        assert_eq!(v.chain[3].subject_cn(), "NVIDIA CoRIM signing Root CA");
        assert_eq!(v.firmware_manufacturer_id.as_deref(), Some("5703"));
        let active: Vec<u32> = v.active().map(|m| m.index).collect();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("NV_GPU_DRIVER") || name.starts_with("driver") {
            assert_eq!(active.len(), 21, "{name}");
        } else {
            assert_eq!(active, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12], "{name}");
            // The file name carries the VBIOS version.
            let ver: String = v.colloquial_version.replace('.', "");
            if name.ends_with("_PROD.swidtag") {
                assert!(name.to_ascii_uppercase().contains(&ver), "{name} vs {ver}");
            }
        }
    }
}

#[test]
fn expired_rim_certificates_fail_at_the_current_time() {
    let now = time("2026-11-27T00:00:00Z");
    let vbios = rims_dir().join("vbios/1010_0200_882_96005E0001_PROD.swidtag");
    let e = rim::RimDocument::parse(&std::fs::read(&vbios).unwrap())
        .and_then(|doc| rim::verify(doc, now))
        .unwrap_err();
    assert!(matches!(e, EvidenceError::Expired { .. }), "{e}");
    // The 550.144.03 driver RIM is valid until 2026-12-30.
    let driver = rims_dir().join("driver/NV_GPU_DRIVER_GH100_550.144.03.xml");
    let v = rim::RimDocument::parse(&std::fs::read(&driver).unwrap())
        .and_then(|doc| rim::verify(doc, now))
        .unwrap();
    assert_eq!(v.colloquial_version, "550.144.03");
    let e = rim::RimDocument::parse(&std::fs::read(&driver).unwrap())
        .and_then(|doc| rim::verify(doc, time("2027-01-01T00:00:00Z")))
        .unwrap_err();
    assert!(matches!(e, EvidenceError::Expired { .. }), "{e}");
}

#[test]
fn negative_rims_fail_with_the_right_error() {
    let neg = vectors().join("nvidia/negative/rims");
    let at = time("2025-03-01T00:00:00Z");
    let e = rim::RimDocument::parse(&std::fs::read(neg.join("rim_bad_signature.xml")).unwrap())
        .and_then(|doc| rim::verify(doc, at))
        .unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Signature { what, cause: SignatureCause::Invalid } if what.contains("SignedInfo")),
        "{e}"
    );
    let e = rim::RimDocument::parse(&std::fs::read(neg.join("rim_bad_cert_chain.xml")).unwrap())
        .and_then(|doc| rim::verify(doc, at))
        .unwrap_err();
    assert!(matches!(e, EvidenceError::Chain(_)), "{e}");
    let tampered =
        vectors().join("nvidia/hopper-h100-535.86.09/driver_rim_TAMPERED_measurement_mismatch.xml");
    let e = rim::RimDocument::parse(&std::fs::read(tampered).unwrap())
        .and_then(|doc| rim::verify(doc, at))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            EvidenceError::Signature {
                cause: SignatureCause::DigestMismatch { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn any_edit_of_a_signed_rim_fails() {
    let p = rims_dir().join("driver/NV_GPU_DRIVER_GH100_550.144.03.xml");
    let text = std::fs::read_to_string(&p).unwrap();
    let at = time("2026-01-01T00:00:00Z");
    rim::RimDocument::parse(text.as_bytes())
        .and_then(|doc| rim::verify(doc, at))
        .unwrap();
    for (from, to) in [
        ("active=\"False\"", "active=\"True\""),
        (
            "colloquialVersion=\"550.144.03\"",
            "colloquialVersion=\"550.144.04\"",
        ),
        ("index=\"7\"", "index=\"63\""),
        ("<ns0:Entity ", "<ns0:Entity extra=\"1\" "),
    ] {
        assert!(text.contains(from), "{from}");
        let edited = text.replacen(from, to, 1);
        assert!(
            rim::RimDocument::parse(edited.as_bytes())
                .and_then(|doc| rim::verify(doc, at))
                .is_err(),
            "{from} -> {to}"
        );
    }
    // Whitespace and attribute order outside the signed canonical form do not matter:
    // C14N sorts attributes, so a reordered start tag still verifies.
    let reordered = text.replacen(
        "<ns0:Entity name=\"NVIDIA Corporation\" role=\"softwareCreator tagCreator\"/>",
        "<ns0:Entity role=\"softwareCreator tagCreator\"   name=\"NVIDIA Corporation\"></ns0:Entity>",
        1,
    );
    assert_ne!(reordered, text);
    rim::RimDocument::parse(reordered.as_bytes())
        .and_then(|doc| rim::verify(doc, at))
        .unwrap();
}

fn sample_report(name: &str) -> Report {
    let s = vectors().join("nvidia").join(name);
    let opts = VerifyOptions::at(time("2026-11-27T00:00:00Z"));
    let v = nvidia_verify(
        &std::fs::read(s.join("attestation_report.bin")).unwrap(),
        &load_certs(&s.join("cert_chain.pem")).unwrap(),
        &opts,
    )
    .unwrap();
    v.into_inner().report
}

fn indices(c: &rim::Comparison, src: RimSource) -> Vec<u64> {
    c.mismatches
        .iter()
        .filter(|m| m.source == src)
        .map(|m| m.index as u64)
        .collect()
}

fn expected_mismatches(sample: &str, which: &str) -> Vec<u64> {
    let exp = expected(&vectors().join("nvidia").join(sample));
    exp["rim_comparison"][which]["mismatched_rim_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[test]
fn the_545_sample_matches_both_its_rims() {
    let (driver, vbios) = e2e_rims();
    assert_eq!(driver.active().count(), 21);
    assert_eq!(vbios.active().count(), 12);
    let report = sample_report("hopper-h100-545.00-e2e");
    let c = rim::compare(&report, Some(&driver), Some(&vbios));
    assert!(c.success(), "{:?}", c.to_json());
    assert_eq!(c.compared + c.skipped.len(), 33);
    assert_eq!(c.driver_version_match, Some(true));
    assert_eq!(c.vbios_version_match, Some(true));
    assert_eq!(c.to_json()["measres"], "success");
    // The RIMs as reference values: a CoRIM built from them has one triple per alternative.
    let toml = rim::reference_toml("GH100", Some(&driver), Some(&vbios)).unwrap();
    assert!(toml.contains("driver_version = [\"545.00\"]"), "{toml}");
    assert!(
        toml.contains("\"8\" = ["),
        "RIM index 7 is SPDM block 8: {toml}"
    );
    let cbor = coco_core::profile::build::build(&format!("id = \"rims\"\n{toml}")).unwrap();
    let corim = coco_core::corim::Corim::decode(&cbor, &Default::default()).unwrap();
    assert_eq!(corim.comids.len(), 1);
    // Swapping the RIMs' roles is an index conflict.
    assert!(rim::reference_toml("GH100", Some(&driver), Some(&driver)).is_err());
    let c = rim::compare(&report, Some(&driver), Some(&driver));
    assert!(!c.conflicts.is_empty() && !c.success());
}

#[test]
fn the_535_sample_matches_its_vbios_rim_and_not_the_tampered_driver_rim() {
    let s = vectors().join("nvidia/hopper-h100-535.86.09");
    let report = sample_report("hopper-h100-535.86.09");
    let vbios = rim::RimDocument::parse(&std::fs::read(s.join("vbios_rim.swidtag")).unwrap())
        .and_then(|doc| rim::verify(doc, time("2025-05-01T00:00:00Z")))
        .unwrap();
    // The tampered RIM does not verify; its contents, read unverified, mismatch where the
    // vectors say.
    let tampered = RimDocument::parse(
        &std::fs::read(s.join("driver_rim_TAMPERED_measurement_mismatch.xml")).unwrap(),
    )
    .unwrap()
    .rim;
    let c = rim::compare(&report, Some(&tampered), Some(&vbios));
    assert_eq!(
        indices(&c, RimSource::Vbios),
        expected_mismatches("hopper-h100-535.86.09", "vbios")
    );
    assert_eq!(
        indices(&c, RimSource::Driver),
        expected_mismatches("hopper-h100-535.86.09", "driver")
    );
    assert_eq!(
        c.skipped,
        [35],
        "NVDEC0 is disabled: RIM index 35 is skipped"
    );
    assert!(!c.success());
    let j = c.to_json();
    assert_eq!(j["measres"], "fail");
    let rec = &j["x-nvidia-mismatch-measurement-records"][0];
    assert_eq!(rec["index"], 7);
    assert_eq!(rec["spdm_index"], 8);
    assert_eq!(
        rec["runtimeValue"],
        Value::from(hex::encode(report.measurement(8).unwrap()))
    );
}

#[test]
fn an_unrelated_driver_rim_mismatches_where_the_readme_says() {
    let driver = rim::RimDocument::parse(
        &std::fs::read(rims_dir().join("driver/NV_GPU_DRIVER_GH100_550.144.03.xml")).unwrap(),
    )
    .and_then(|doc| rim::verify(doc, time("2026-11-27T00:00:00Z")))
    .unwrap();
    let c = rim::compare(&sample_report("hopper-h100-550.90.07"), Some(&driver), None);
    assert_eq!(indices(&c, RimSource::Driver), [7, 22, 31, 39, 40]);
    assert_eq!(c.driver_version_match, Some(false));
}
