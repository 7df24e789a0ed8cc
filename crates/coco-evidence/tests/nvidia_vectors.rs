//! Every real NVIDIA sample in `vectors/nvidia/` verifies with the values of its
//! `expected.json`; the negatives of the vectors' README fail as they must.

mod common;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use coco_evidence::EvidenceError;
use coco_evidence::nvidia::{self, ParseOptions, Report, VerifyOptions, claims::claims};
use coco_evidence::x509::{Cert, load_certs};
use common::*;
use serde_json::Value;

fn now() -> SystemTime {
    time("2026-11-27T00:00:00Z")
}

fn nonce(sample: &Path) -> [u8; 32] {
    nvidia_nonce(sample)
}

/// The single-report samples (the PPCIe sample is JSON, tested below).
fn report_samples() -> Vec<PathBuf> {
    samples("nvidia")
        .into_iter()
        .filter(|p| p.join("attestation_report.bin").is_file())
        .collect()
}

fn load(sample: &Path) -> (Vec<u8>, Vec<Cert>, VerifyOptions<'static>) {
    let exp = expected(sample);
    let mut opts = VerifyOptions::at(now()).with_nonce(nonce(sample));
    opts.parse.allow_trailing_data = exp["report"]["trailing_bytes_after_signature"] != 0;
    (
        std::fs::read(sample.join("attestation_report.bin")).unwrap(),
        load_certs(&sample.join("cert_chain.pem")).unwrap(),
        opts,
    )
}

fn check(name: &str, c: &Value, exp: &Value) {
    let eq = |claim: &str, want: &Value| assert_eq!(&c[claim], want, "{name}: {claim}");
    let sub = &exp["expected_claims_subset"];
    eq("driver_version", &sub["x-nvidia-gpu-driver-version"]);
    eq("vbios_version", &sub["x-nvidia-gpu-vbios-version"]);
    for k in [
        "hwmodel",
        "ueid",
        "x-nvidia-gpu-attestation-report-parsed",
        "x-nvidia-gpu-attestation-report-nonce-match",
        "x-nvidia-gpu-attestation-report-signature-verified",
        "x-nvidia-gpu-attestation-report-cert-chain-fwid-match",
        "x-nvidia-gpu-arch-check",
    ] {
        eq(k, &sub[k]);
    }
    eq("nonce", &exp["spdm_request"]["nonce"]);
    eq("responder_nonce", &exp["spdm_response"]["responder_nonce"]);
    eq(
        "architecture",
        &Value::from(exp["arch"].as_str().unwrap().to_ascii_lowercase()),
    );
    eq("spdm_version", &Value::from("1.1"));
    let m = &exp["measurements"];
    eq("measurement_count", &m["count"]);
    assert_eq!(
        c["measurements"], m["values_by_spdm_index"],
        "{name}: measurements"
    );
    let d = &exp["decoded"];
    let o = &c["opaque"];
    for k in [
        "driver_version",
        "vbios_version",
        "project",
        "project_sku",
        "chip_sku",
        "chip_sku_mod",
        "project_sku_mod",
        "msrscnt",
        "opaque_data_version",
        "feature_flag",
    ] {
        if !d[k].is_null() {
            assert_eq!(o[k], d[k], "{name}: opaque.{k}");
        }
    }
    assert_eq!(c["fwid"], d["fwid"], "{name}: fwid");
    assert_eq!(
        c["leaf_fwid"], exp["cert_chain"]["leaf_fwid"],
        "{name}: leaf fwid"
    );
    let status = |s: &Value| match s.as_str() {
        Some("0x55") => Value::from("disabled"),
        Some("0xaa") => Value::from("enabled"),
        _ => Value::Null,
    };
    assert_eq!(
        o["nvdec0_status"],
        status(&d["nvdec0_status"]),
        "{name}: nvdec0"
    );
    assert_eq!(
        o["protected_pcie_status"],
        status(&d["protected_pcie_status"]),
        "{name}: ppcie"
    );
    assert_eq!(
        c["driver_rim_id"], exp["rim_ids"]["driver"],
        "{name}: driver RIM id"
    );
    assert_eq!(
        c["vbios_rim_id"], exp["rim_ids"]["vbios"],
        "{name}: VBIOS RIM id"
    );
}

#[test]
fn every_sample_verifies_with_its_expected_values() {
    let mut n = 0;
    for s in report_samples() {
        let name = s.file_name().unwrap().to_string_lossy().into_owned();
        let exp = expected(&s);
        let (bytes, certs, opts) = load(&s);
        let r = Report::parse_with(&bytes, opts.parse).unwrap();
        assert_eq!(
            r.signed_len as u64, exp["report"]["signed_region"]["length"],
            "{name}"
        );
        let ids: Vec<u64> = r.opaque.fields.iter().map(|f| f.id as u64).collect();
        let want: Vec<u64> = exp["opaque_fields_in_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, want, "{name}: TLV order");
        for (f, e) in r
            .opaque
            .fields
            .iter()
            .zip(exp["opaque_fields_in_order"].as_array().unwrap())
        {
            assert_eq!(
                hex::encode(&f.data),
                e["hex"].as_str().unwrap(),
                "{name}: TLV {}",
                f.id
            );
        }
        let v = nvidia::verify(r, &opts.clone().with_certs(&certs))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&name, &claims(&v), &exp);
        n += 1;
    }
    assert_eq!(n, 5, "five single-report samples");
}

#[test]
fn the_trailing_byte_is_rejected_unless_allowed() {
    let s = vectors().join("nvidia/hopper-h100-580.95.05-trailing-byte");
    let (bytes, certs, mut opts) = load(&s);
    opts.parse = ParseOptions::default();
    let e = nvidia_verify(&bytes, &certs, &opts).unwrap_err();
    assert!(
        matches!(e, EvidenceError::Malformed { offset: 4129, .. }),
        "{e}"
    );
}

#[test]
fn the_invalid_signature_sample_fails() {
    let s = vectors().join("nvidia/negative/hopper-invalid-signature-560.00");
    let (bytes, certs, opts) = load(&s);
    let e = nvidia_verify(&bytes, &certs, &opts).unwrap_err();
    assert!(matches!(e, EvidenceError::Signature { .. }), "{e}");
}

#[test]
fn a_wrong_nonce_fails() {
    let s = vectors().join("nvidia/hopper-h100-550.90.07");
    let (bytes, certs, opts) = load(&s);
    let mut n = nonce(&s);
    n[31] ^= 1;
    let e = nvidia_verify(&bytes, &certs, &opts.clone().with_nonce(n)).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Mismatch { what, .. } if what == "GPU report nonce"),
        "{e}"
    );
    // Without an expected nonce it verifies, and the claims say freshness was not checked.
    let mut o = opts;
    o.nonce = None;
    let v = nvidia_verify(&bytes, &certs, &o).unwrap();
    assert!(claims(&v)["x-nvidia-gpu-attestation-report-nonce-match"].is_null());
}

#[test]
fn every_single_bit_flip_in_the_signed_region_or_signature_fails() {
    // Exhaustive: all 8 bits of every byte of the signed region and of the signature, of one
    // Hopper and one Blackwell report. The chain's signatures are cached (they are not what is
    // flipped), so each flip costs a parse and the report's own P-384 check.
    for name in ["hopper-h100-550.90.07", "blackwell-gb100-575.32"] {
        let s = vectors().join("nvidia").join(name);
        let (bytes, certs, opts) = load(&s);
        let cache = coco_evidence::x509::LinkCache::new();
        nvidia_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
        let end = Report::parse(&bytes).unwrap().signed_len + 96;
        let still_verify = bit_flips_that_verify(&bytes, 0..end, |b| {
            nvidia_verify(b, &certs, &opts.clone().with_cache(&cache)).is_ok()
        });
        assert!(
            still_verify.is_empty(),
            "{name}: {} of {} flips still verify, first at bit {:?}",
            still_verify.len(),
            end * 8,
            still_verify.first()
        );
    }
}

#[test]
fn the_chain_must_end_in_the_pinned_root() {
    let s = vectors().join("nvidia/hopper-h100-550.90.07");
    let (bytes, certs, opts) = load(&s);
    // Any order works; the root copy is optional.
    let mut shuffled = certs.clone();
    shuffled.reverse();
    nvidia_verify(&bytes, &shuffled, &opts).unwrap();
    nvidia_verify(&bytes, &certs[..4], &opts).unwrap();
    // A missing intermediate, or another GPU's leaf, fails.
    let mut gap = certs.clone();
    gap.remove(2);
    let e = nvidia_verify(&bytes, &gap, &opts).unwrap_err();
    assert!(matches!(e, EvidenceError::Chain(_)), "{e}");
    let other =
        load_certs(&vectors().join("nvidia/hopper-h100-545.00-e2e/cert_chain.pem")).unwrap();
    let mut swapped = certs.clone();
    swapped[0] = other[0].clone();
    assert!(nvidia_verify(&bytes, &swapped, &opts).is_err());
    // Declaring the wrong architecture fails.
    let mut o = opts.clone();
    o.arch = Some(nvidia::Arch::Blackwell);
    let e = nvidia_verify(&bytes, &certs, &o).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Mismatch { what, .. } if what == "GPU architecture"),
        "{e}"
    );
}

#[test]
fn the_ppcie_json_verifies_every_gpu() {
    let s = vectors().join("nvidia/hopper-hgx-8gpu-ppcie-590.12");
    let exp = expected(&s);
    let json = std::fs::read(s.join("gpu_evidence.json")).unwrap();
    let opts = VerifyOptions::at(now()).with_nonce(nonce(&s));
    let gpus = nvidia::verify_wire(&json, &opts).unwrap();
    assert_eq!(gpus.len(), 8);
    let mut union = Vec::new();
    for (g, e) in gpus.iter().zip(exp["gpus"].as_array().unwrap()) {
        let c = claims(g);
        assert_eq!(c["ueid"], e["expected_claims_subset"]["ueid"]);
        assert_eq!(c["driver_version"], "590.12");
        assert_eq!(c["vbios_version"], "96.00.A5.00.01");
        assert_eq!(c["gpu_mode"], "ppcie");
        assert_eq!(c["opaque"]["protected_pcie_status"], "enabled");
        assert_eq!(c["fwid"], e["decoded"]["fwid"]);
        union.extend(
            c["opaque"]["switch_pdi"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
    }
    union.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    union.dedup();
    assert_eq!(
        union,
        [
            "03DBA23B3C11BD8A",
            "3A53B743D811E977",
            "666E93E19DEC7D2D",
            "9AE3BEBA9E673275"
        ]
    );
    // Another nonce fails, naming the GPU.
    let mut n = nonce(&s);
    n[0] ^= 0xff;
    let e = nvidia::verify_wire(&json, &VerifyOptions::at(now()).with_nonce(n)).unwrap_err();
    assert!(
        matches!(
            &e,
            EvidenceError::Gpu { index: 0, source } if matches!(**source, EvidenceError::Mismatch { .. })
        ),
        "{e}"
    );
    assert_eq!(e.kind(), "mismatch");

    // The same GPUs in the shape NVIDIA's remote-attestation clients send to NRAS: the nonce
    // once at the top, `evidence_list` without per-GPU nonces.
    let list: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
    let remote = serde_json::json!({
        "arch": list[0]["arch"],
        "nonce": list[0]["nonce"],
        "claims_version": "3.0",
        "evidence_list": list
            .iter()
            .map(|g| serde_json::json!({"certificate": g["certificate"], "evidence": g["evidence"]}))
            .collect::<Vec<_>>(),
    });
    let remote = serde_json::to_vec(&remote).unwrap();
    let same = nvidia::verify_wire(&remote, &opts).unwrap();
    assert_eq!(same.len(), 8);
    for (a, b) in same.iter().zip(&gpus) {
        assert_eq!(claims(a), claims(b));
    }
}

#[test]
fn no_panic_on_truncation_or_flips_of_real_reports() {
    for s in report_samples() {
        let bytes = std::fs::read(s.join("attestation_report.bin")).unwrap();
        for n in 0..bytes.len() {
            let _ = Report::parse(&bytes[..n]);
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x80;
            let _ = Report::parse(&b);
        }
    }
}

#[test]
fn a_link_cache_skips_only_the_chain_signatures() {
    let s = vectors().join("nvidia/hopper-h100-550.90.07");
    let (bytes, certs, opts) = load(&s);
    let cache = coco_evidence::x509::LinkCache::new();
    nvidia_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
    assert_eq!(
        cache.len(),
        4,
        "leaf -> BROM -> ICA -> Identity -> pinned root"
    );
    nvidia_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
    assert_eq!(cache.len(), 4);
    // The report signature, nonce and the chain's shape are still checked every time.
    let mut b = bytes.clone();
    b[10] ^= 1;
    assert!(matches!(
        nvidia_verify(&b, &certs, &opts.clone().with_cache(&cache)).unwrap_err(),
        EvidenceError::Signature { .. }
    ));
    let mut gap = certs.clone();
    gap.remove(2);
    assert!(nvidia_verify(&bytes, &gap, &opts.clone().with_cache(&cache)).is_err());
    let mut n = nonce(&s);
    n[0] ^= 1;
    assert!(
        nvidia_verify(
            &bytes,
            &certs,
            &opts.clone().with_nonce(n).with_cache(&cache)
        )
        .is_err()
    );
}
