//! The shared loader of real evidence vectors (`COCO_VECTORS`, default `../shared/vectors`
//! beside the repository). A missing vector is a failure, never a skip.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::SystemTime;

pub fn vectors() -> PathBuf {
    coco_evidence::vectors::dir()
}

/// The sample folders of one platform, sorted.
pub fn samples(platform: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(vectors().join(platform))
        .unwrap_or_else(|e| panic!("vectors/{platform}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no samples in vectors/{platform}");
    out
}

pub fn expected(sample: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sample.join("expected.json")).unwrap()).unwrap()
}

/// Parses "YYYY-MM-DD HH:MM:SS+00:00" or "YYYY-MM-DDTHH:MM:SSZ".
pub fn time(s: &str) -> SystemTime {
    coco_evidence::time::parse_rfc3339(s).unwrap()
}

/// The certificates of an SNP sample (every PEM/DER file except deliberately invalid ones).
pub fn sample_certs(sample: &std::path::Path) -> Vec<coco_evidence::x509::Cert> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(sample)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if (name.ends_with(".pem") || name.ends_with(".der")) && !name.contains("invalid") {
            out.extend(coco_evidence::x509::load_certs(&p).unwrap());
        }
    }
    out
}

/// The nonce of an NVIDIA sample (`nonce.hex`).
pub fn nvidia_nonce(sample: &std::path::Path) -> [u8; 32] {
    let hex = std::fs::read_to_string(sample.join("nonce.hex")).unwrap();
    coco_evidence::nvidia::abi::parse_nonce(&hex).unwrap()
}

/// The driver and VBIOS RIMs of the end-to-end NVIDIA sample (545.00), verified at a time
/// inside their certificates' validity (they expired in 2025).
pub fn e2e_rims() -> (
    coco_evidence::Verified<coco_evidence::nvidia::rim::SignedRim>,
    coco_evidence::Verified<coco_evidence::nvidia::rim::SignedRim>,
) {
    use coco_evidence::nvidia::rim;
    let s = vectors().join("nvidia/hopper-h100-545.00-e2e");
    let at = time("2025-05-01T00:00:00Z");
    let load = |f: &str| {
        rim::RimDocument::parse(&std::fs::read(s.join(f)).unwrap())
            .and_then(|doc| rim::verify(doc, at))
            .unwrap()
    };
    (load("driver_rim.swidtag"), load("vbios_rim.swidtag"))
}

/// A DER CRL named as issued by `issuer`, signed with `sign` (DER ECDSA
/// signature of the given algorithm OID over the TBS bytes), valid from an hour ago for
/// `next_update`, listing `revoked`.
pub fn crl(
    issuer: &x509_cert::name::Name,
    alg_oid: &str,
    sign: impl Fn(&[u8]) -> Vec<u8>,
    revoked: &[&coco_evidence::x509::Cert],
    next_update: std::time::Duration,
) -> Vec<u8> {
    use der::Encode;
    use std::time::Duration;
    use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
    use x509_cert::time::Time;
    let now = SystemTime::now();
    let alg = spki::AlgorithmIdentifierOwned {
        oid: der::asn1::ObjectIdentifier::new_unwrap(alg_oid),
        parameters: None,
    };
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: alg.clone(),
        issuer: issuer.clone(),
        this_update: Time::try_from(now - Duration::from_secs(3600)).unwrap(),
        next_update: Some(Time::try_from(now + next_update).unwrap()),
        revoked_certificates: (!revoked.is_empty()).then(|| {
            revoked
                .iter()
                .map(|c| RevokedCert {
                    serial_number: c.inner().tbs_certificate().serial_number().clone(),
                    revocation_date: Time::try_from(now - Duration::from_secs(60)).unwrap(),
                    crl_entry_extensions: None,
                })
                .collect()
        }),
        crl_extensions: None,
    };
    let sig = sign(&tbs.to_der().unwrap());
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: alg,
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// Flips every bit of `bytes` in `range`, one at a time, and returns the bit positions at which
/// `verifies` still held (none, for a verifier worth its name). Runs on every core.
#[allow(dead_code)]
pub fn bit_flips_that_verify(
    bytes: &[u8],
    range: std::ops::Range<usize>,
    verifies: impl Fn(&[u8]) -> bool + Sync,
) -> Vec<usize> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let verifies = &verifies;
    std::thread::scope(|sc| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let range = range.clone();
                sc.spawn(move || {
                    let mut b = bytes.to_vec();
                    let mut bad = Vec::new();
                    for bit in (range.start * 8 + t..range.end * 8).step_by(threads) {
                        b[bit / 8] ^= 1 << (bit % 8);
                        if verifies(&b) {
                            bad.push(bit);
                        }
                        b[bit / 8] ^= 1 << (bit % 8);
                    }
                    bad
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// Parses SNP evidence bytes (a raw report or an Azure HCL report) and verifies them with
/// `certs` under `opts`.
pub fn snp_verify(
    bytes: &[u8],
    certs: &[coco_evidence::x509::Cert],
    opts: &coco_evidence::snp::VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<coco_evidence::snp::SnpEvidence>> {
    use coco_evidence::snp;
    let o = opts.clone().with_certs(certs);
    snp::verify(snp::parse(bytes, &o)?, &o)
}

/// Parses a TDX quote and verifies it with `collateral` (when given) under `opts`.
pub fn tdx_verify(
    bytes: &[u8],
    collateral: Option<&coco_evidence::Verified<coco_evidence::tdx::Collateral>>,
    opts: &coco_evidence::tdx::VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<coco_evidence::tdx::TdxEvidence>> {
    use coco_evidence::tdx;
    let mut o = opts.clone();
    if let Some(c) = collateral {
        o = o.with_collateral(c);
    }
    tdx::verify(tdx::parse(bytes, &o)?, &o)
}

/// Parses a raw NVIDIA report and verifies it with its device chain `certs` under `opts`.
pub fn nvidia_verify(
    bytes: &[u8],
    certs: &[coco_evidence::x509::Cert],
    opts: &coco_evidence::nvidia::VerifyOptions<'_>,
) -> coco_evidence::Result<coco_evidence::Verified<coco_evidence::nvidia::GpuEvidence>> {
    use coco_evidence::nvidia;
    let o = opts.clone().with_certs(certs);
    nvidia::verify(nvidia::Report::parse_with(bytes, o.parse)?, &o)
}
