//! TDX quote verification, coco against dcap-qvl on the same quote and collateral in the same
//! run. Run: `cargo bench -p coco-benches --bench tdx`.
//!
//! - `tdx/coco_full_cold`: collateral (TCB signing chain, TCB Info and QE Identity signatures,
//!   both CRLs) + quote (PCK chain, PCK CRL, QE report, binding, quote signature, TCB status),
//!   nothing cached: what one verification of one quote costs from bytes.
//! - `tdx/coco_cached`: collateral verified once (one `Verified<Collateral>` per FMSPC) and the
//!   PCK chain and PCK CRL checks cached: what each further quote from a known platform costs.
//! - `tdx/dcap_qvl_ring`, `tdx/dcap_qvl_rustcrypto`: `dcap_qvl` 0.7 `verify` with its default
//!   ring back end and its RustCrypto back end (dcap-qvl has no collateral cache).
//! - `tdx/p256_verify_ring`: one ECDSA P-256 verification with ring (what coco uses), the unit
//!   of all of the above: a cold verification does 7, a cached one 2.
//! - `tdx/p256_verify_rustcrypto`: the same with RustCrypto's `p256`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use coco_evidence::tdx::{self, RawCollateral, VerifyOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Verifier;

/// Parses and verifies a quote as `coco evidence verify` does (the measured path).
fn tdx_verify(
    bytes: &[u8],
    collateral: Option<&coco_evidence::Verified<tdx::Collateral>>,
    opts: &VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<tdx::TdxEvidence>> {
    let mut o = opts.clone();
    if let Some(c) = collateral {
        o = o.with_collateral(c);
    }
    tdx::verify(tdx::parse(bytes, &o)?, &o)
}

fn bench(c: &mut Criterion) {
    let s = coco_evidence::vectors::dir().join("tdx/v4-dcap-qvl-uptodate");
    let quote = std::fs::read(s.join("quote.bin")).unwrap();
    let raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    // 2025-07-01T00:00:00Z: inside every collateral window.
    let now = 1_751_328_000u64;
    let opts = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(now));
    let collateral = tdx::verify_collateral(&raw, &opts).unwrap();
    let v = tdx_verify(&quote, Some(&collateral), &opts).unwrap();
    assert_eq!(v.tcb.as_ref().unwrap().status, tdx::TcbStatus::UpToDate);

    let peer: dcap_qvl::QuoteCollateralV3 = serde_json::from_slice(
        &std::fs::read(s.join("collateral/collateral_dcap_qvl.json")).unwrap(),
    )
    .unwrap();
    let ring =
        dcap_qvl::verify::QuoteVerifier::new_prod().with_config::<dcap_qvl::configs::RingConfig>();
    let rustcrypto = dcap_qvl::verify::QuoteVerifier::new_prod()
        .with_config::<dcap_qvl::configs::RustCryptoConfig>();
    let r = ring.verify(&quote, &peer, now).unwrap();
    assert_eq!(r.status, "UpToDate");
    rustcrypto.verify(&quote, &peer, now).unwrap();

    let mut g = c.benchmark_group("tdx");
    g.bench_function("coco_full_cold", |b| {
        b.iter(|| {
            let c = tdx::verify_collateral(black_box(&raw), &opts).unwrap();
            black_box(tdx_verify(black_box(&quote), Some(&c), &opts).unwrap())
        })
    });
    let cache = tdx::ChainCache::new();
    g.bench_function("coco_cached", |b| {
        b.iter(|| {
            black_box(
                tdx_verify(
                    black_box(&quote),
                    Some(&collateral),
                    &opts.clone().with_cache(&cache),
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("dcap_qvl_ring", |b| {
        b.iter(|| black_box(ring.verify(black_box(&quote), &peer, now).unwrap()))
    });
    g.bench_function("dcap_qvl_rustcrypto", |b| {
        b.iter(|| black_box(rustcrypto.verify(black_box(&quote), &peer, now).unwrap()))
    });
    let q = tdx::Quote::parse(&quote).unwrap();
    let mut sec1 = [4u8; 65];
    sec1[1..].copy_from_slice(&q.attestation_key);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&q.signature).unwrap();
    g.bench_function("p256_verify_rustcrypto", |b| {
        b.iter(|| key.verify(black_box(q.signed_bytes()), &sig).unwrap())
    });
    g.bench_function("p256_verify_ring", |b| {
        b.iter(|| {
            assert!(coco_evidence::crypto::verify(
                coco_evidence::crypto::Scheme::P256Fixed,
                &sec1,
                black_box(q.signed_bytes()),
                &q.signature
            ))
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(tdx::Quote::parse(black_box(&quote)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
