//! SEV-SNP verification cost. Run: `cargo bench -p coco-benches --bench evidence`.
//!
//! - `snp/verify_full`: parse + VCEK -> ASK -> pinned ARK (two RSA-PSS-4096 checks) + validity
//!   + TCB/chip-id checks + the report's ECDSA P-384 signature, one report, cold.
//! - `snp/verify_chain_cached`: the same with the chain's signature checks cached.
//! - `snp/sev_crate_verify`: the peer, virtee's `sev` 6.3 (RustCrypto back end), parsing the
//!   same report and verifying it with the same chain (it also re-checks the ARK's
//!   self-signature: one RSA-PSS-4096 check more than coco, which pins the ARK).
//! - `snp/parse`: parsing alone.
//! - `snp/report_signature_awslc`: the ECDSA P-384 check alone as coco does it (AWS-LC; the
//!   floor for a cached chain).
//! - `snp/report_signature_ring` and `snp/report_signature_rustcrypto`: the same check with
//!   ring and with RustCrypto's `p384`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use coco_evidence::snp::{self, Report, VerifyOptions};
use coco_evidence::x509::load_certs;
use criterion::{Criterion, criterion_group, criterion_main};
use p384::ecdsa::signature::Verifier;

/// Parses and verifies a report as `coco evidence verify` does (the measured path).
fn snp_verify(
    bytes: &[u8],
    certs: &[coco_evidence::x509::Cert],
    opts: &coco_evidence::snp::VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<coco_evidence::snp::SnpEvidence>> {
    let o = opts.clone().with_certs(certs);
    coco_evidence::snp::verify(coco_evidence::snp::parse(bytes, &o)?, &o)
}

fn sample() -> PathBuf {
    coco_evidence::vectors::dir().join("snp/milan-v2-virtee-sev")
}

fn bench(c: &mut Criterion) {
    let s = sample();
    let bytes = std::fs::read(s.join("report.bin")).unwrap();
    let mut certs = load_certs(&s.join("cert_chain.pem")).unwrap();
    certs.extend(load_certs(&s.join("vcek.der")).unwrap());
    // 2024-01-01: inside the VCEK's validity.
    let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(1_704_067_200));
    snp_verify(&bytes, &certs, &opts).unwrap();

    let mut g = c.benchmark_group("snp");
    g.bench_function("verify_full", |b| {
        b.iter(|| black_box(snp_verify(black_box(&bytes), &certs, &opts).unwrap()))
    });
    let cache = snp::ChainCache::new();
    g.bench_function("verify_chain_cached", |b| {
        b.iter(|| {
            black_box(
                snp_verify(black_box(&bytes), &certs, &opts.clone().with_cache(&cache)).unwrap(),
            )
        })
    });
    {
        use sev::certs::snp::{Certificate, Chain, Verifiable, ca};
        let ark = certs
            .iter()
            .find(|c| c.subject_cn().starts_with("ARK"))
            .unwrap();
        let ask = certs
            .iter()
            .find(|c| c.subject_cn().starts_with("SEV-") && c.subject_cn() != "SEV-VCEK")
            .unwrap();
        let vcek = certs.iter().find(|c| c.subject_cn() == "SEV-VCEK").unwrap();
        let chain = Chain {
            ca: ca::Chain {
                ark: Certificate::from_der(ark.der()).unwrap(),
                ask: Certificate::from_der(ask.der()).unwrap(),
            },
            vek: Certificate::from_der(vcek.der()).unwrap(),
        };
        let verify = |b: &[u8]| {
            let report = sev::firmware::guest::AttestationReport::from_bytes(b).unwrap();
            (&chain, &report).verify().unwrap();
        };
        verify(&bytes);
        g.bench_function("sev_crate_verify", |b| b.iter(|| verify(black_box(&bytes))));
    }
    g.bench_function("parse", |b| {
        b.iter(|| black_box(Report::parse(black_box(&bytes)).unwrap()))
    });
    let report = Report::parse(&bytes).unwrap();
    let key = certs
        .iter()
        .find(|c| c.has_ec_key())
        .unwrap()
        .p384_key()
        .unwrap();
    let sig = p384::ecdsa::Signature::from_scalars(report.signature_r, report.signature_s).unwrap();
    g.bench_function("report_signature_rustcrypto", |b| {
        b.iter(|| key.verify(black_box(report.signed_bytes()), &sig).unwrap())
    });
    let point = key.to_sec1_point(false);
    let fixed = sig.to_bytes();
    g.bench_function("report_signature_ring", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P384_SHA384_FIXED,
                point.as_bytes(),
            )
            .verify(black_box(report.signed_bytes()), &fixed)
            .unwrap()
        })
    });
    g.bench_function("report_signature_awslc", |b| {
        b.iter(|| {
            assert!(coco_evidence::crypto::verify(
                coco_evidence::crypto::Scheme::P384Fixed,
                point.as_bytes(),
                black_box(report.signed_bytes()),
                &fixed
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
