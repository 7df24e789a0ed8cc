//! NVIDIA GPU evidence verification cost. Run: `cargo bench -p coco-benches --bench nvidia`.
//!
//! - `nvidia/verify_report`: parse + the device chain (four ECDSA P-384 certificate
//!   signatures to the pinned root) + the report's ECDSA P-384 signature + nonce + FWID, one
//!   H100 report (driver 550.90.07), cold.
//! - `nvidia/verify_report_chain_cached`: the same with the chain's four signatures remembered
//!   in an `x509::LinkCache` (the same GPU again): parse, report signature, nonce, FWID, names
//!   and validity.
//! - `nvidia/verify_8_gpus_wire`: the 8-GPU Protected-PCIe JSON document (base64, PEM, eight
//!   reports and chains).
//! - `nvidia/parse`: parsing alone.
//! - `nvidia/report_signature_{awslc,ring,rustcrypto}`: the report's P-384 check alone with
//!   AWS-LC (as coco does it), ring and RustCrypto's `p384`: the primitive floor.
//! - `nvidia/rim_verify`: a driver RIM (21 KiB SWID XML): parse, C14N of the document and of
//!   SignedInfo, SHA-384, the chain (three P-384 certificate signatures) and the XML signature.
//! - `nvidia/rim_c14n`: the document's canonicalization alone.
//! - `nvidia/rim_compare`: the measurement comparison of a report against both its RIMs.
//! - `nvidia/ocsp_chain_{cold,cached}`: OCSP for the two CAs of a device chain shaped like
//!   NVIDIA's (simulated PKI, one P-384 response from a delegated responder under the root, as
//!   NVIDIA's responder answers): everything verified, or with the responder's link and the
//!   response's signature remembered in the service's `LinkCache` (a cached answer reused by
//!   every release until it is refreshed): CertID, window, nonce and status only.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use coco_evidence::nvidia::{self, Report, VerifyOptions, rim, xml};
use coco_evidence::x509::load_certs;
use criterion::{Criterion, criterion_group, criterion_main};
use p384::ecdsa::signature::Verifier;

/// Parses and verifies a raw report as `coco evidence verify` does (the measured path).
fn nvidia_verify(
    bytes: &[u8],
    certs: &[coco_evidence::x509::Cert],
    opts: &coco_evidence::nvidia::VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<coco_evidence::nvidia::GpuEvidence>> {
    let o = opts.clone().with_certs(certs);
    coco_evidence::nvidia::verify(
        coco_evidence::nvidia::Report::parse_with(bytes, o.parse)?,
        &o,
    )
}

fn bench(c: &mut Criterion) {
    let v = coco_evidence::vectors::dir().join("nvidia");
    let s = v.join("hopper-h100-550.90.07");
    let bytes = std::fs::read(s.join("attestation_report.bin")).unwrap();
    let certs = load_certs(&s.join("cert_chain.pem")).unwrap();
    let nonce: [u8; 32] = hex::decode(std::fs::read_to_string(s.join("nonce.hex")).unwrap().trim())
        .unwrap()
        .try_into()
        .unwrap();
    // 2026-11-27.
    let at = UNIX_EPOCH + Duration::from_secs(1_795_737_600);
    let opts = VerifyOptions::at(at).with_nonce(nonce);
    nvidia_verify(&bytes, &certs, &opts).unwrap();

    let mut g = c.benchmark_group("nvidia");
    g.bench_function("verify_report", |b| {
        b.iter(|| black_box(nvidia_verify(black_box(&bytes), &certs, &opts).unwrap()))
    });
    let cache = coco_evidence::x509::LinkCache::new();
    g.bench_function("verify_report_chain_cached", |b| {
        b.iter(|| {
            black_box(
                nvidia_verify(black_box(&bytes), &certs, &opts.clone().with_cache(&cache)).unwrap(),
            )
        })
    });
    let wire = std::fs::read(v.join("hopper-hgx-8gpu-ppcie-590.12/gpu_evidence.json")).unwrap();
    let wopts = VerifyOptions::at(at);
    assert_eq!(nvidia::verify_wire(&wire, &wopts).unwrap().len(), 8);
    g.sample_size(20);
    g.bench_function("verify_8_gpus_wire", |b| {
        b.iter(|| black_box(nvidia::verify_wire(black_box(&wire), &wopts).unwrap()))
    });
    g.sample_size(100);
    g.bench_function("parse", |b| {
        b.iter(|| black_box(Report::parse(black_box(&bytes)).unwrap()))
    });

    let report = Report::parse(&bytes).unwrap();
    let leaf = &certs[0];
    let point = leaf.public_key_bits().to_vec();
    g.bench_function("report_signature_awslc", |b| {
        b.iter(|| {
            assert!(coco_evidence::crypto::verify(
                coco_evidence::crypto::Scheme::P384Fixed,
                &point,
                black_box(report.signed_bytes()),
                &report.signature
            ))
        })
    });
    g.bench_function("report_signature_ring", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P384_SHA384_FIXED,
                &point,
            )
            .verify(black_box(report.signed_bytes()), &report.signature)
            .unwrap()
        })
    });
    let key = leaf.p384_key().unwrap();
    let sig = p384::ecdsa::Signature::from_slice(&report.signature).unwrap();
    g.bench_function("report_signature_rustcrypto", |b| {
        b.iter(|| key.verify(black_box(report.signed_bytes()), &sig).unwrap())
    });

    let e2e = v.join("hopper-h100-545.00-e2e");
    let driver_xml = std::fs::read(e2e.join("driver_rim.swidtag")).unwrap();
    let vbios_xml = std::fs::read(e2e.join("vbios_rim.swidtag")).unwrap();
    // 2025-05-01: inside the RIM certificates' validity.
    let rim_at = UNIX_EPOCH + Duration::from_secs(1_746_057_600);
    g.bench_function("rim_verify", |b| {
        b.iter(|| {
            black_box(
                rim::RimDocument::parse(black_box(&driver_xml))
                    .and_then(|doc| rim::verify(doc, rim_at))
                    .unwrap(),
            )
        })
    });
    let root = xml::parse(&driver_xml).unwrap();
    g.bench_function("rim_c14n", |b| {
        b.iter(|| {
            black_box(xml::canonicalize(black_box(&root), &|e| {
                e.local == "Signature"
            }))
        })
    });
    let driver = rim::RimDocument::parse(&driver_xml)
        .and_then(|doc| rim::verify(doc, rim_at))
        .unwrap();
    let vbios = rim::RimDocument::parse(&vbios_xml)
        .and_then(|doc| rim::verify(doc, rim_at))
        .unwrap();
    let e2e_report = nvidia_verify(
        &std::fs::read(e2e.join("attestation_report.bin")).unwrap(),
        &load_certs(&e2e.join("cert_chain.pem")).unwrap(),
        &VerifyOptions::at(at),
    )
    .unwrap();
    g.bench_function("rim_compare", |b| {
        b.iter(|| {
            let c = rim::compare(black_box(&e2e_report.report), Some(&driver), Some(&vbios));
            assert!(c.success());
        })
    });
    let pki = coco_evidence::sim::ocsp::SimOcspPki::generate().unwrap();
    let nonce = [5u8; 32];
    let answer = coco_evidence::sim::ocsp::SimAnswer::good(&pki.cas(), Some(&nonce)).unwrap();
    let der = pki
        .responder
        .respond(&answer, &[&pki.responder.cert])
        .unwrap();
    let responses = [coco_evidence::ocsp::OcspResponse::from_der(&der).unwrap()];
    let links = coco_evidence::x509::LinkCache::new();
    let now = std::time::SystemTime::now();
    for (name, cache) in [
        ("ocsp_chain_cold", None),
        ("ocsp_chain_cached", Some(&links)),
    ] {
        let mut o = coco_evidence::ocsp::CheckOptions::at(now);
        o.nonce = Some(&nonce);
        o.cache = cache;
        g.bench_function(name, |b| {
            b.iter(|| {
                let got =
                    coco_evidence::ocsp::check_chain(&pki.chain, 1..3, black_box(&responses), &o)
                        .unwrap();
                assert_eq!(got.len(), 2);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
