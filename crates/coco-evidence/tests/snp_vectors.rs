//! Every real SNP sample in `vectors/snp/` verifies with exactly the claims of its
//! `expected.json`; the negative cases of the vectors' README fail as they must.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use coco_evidence::EvidenceError;
use coco_evidence::snp::{self, Report, VerifyOptions};
use coco_evidence::x509::{Cert, load_certs};
use common::*;
use serde_json::Value;

fn certs(sample: &Path) -> Vec<Cert> {
    sample_certs(sample)
}

/// A time inside the endorsement key's validity (a day after notBefore).
fn valid_time(exp: &Value) -> SystemTime {
    time(exp["endorsement_key"]["not_before"].as_str().unwrap()) + Duration::from_secs(86400)
}

fn hexint(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn strip_raw(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("raw");
    v
}

fn check_claims(name: &str, c: &Value, exp: &Value) {
    let r = &exp["report"];
    let eq = |field: &str, want: &Value| assert_eq!(&c[field], want, "{name}: {field}");
    eq("version", &r["version"]);
    eq("guest_svn", &r["guest_svn"]);
    assert_eq!(
        c["policy"].as_u64().unwrap(),
        hexint(&r["policy"]),
        "{name}: policy"
    );
    eq("policy_decoded", &r["policy_decoded"]);
    assert_eq!(c["debug"], r["policy_decoded"]["debug"], "{name}: debug");
    eq("vmpl", &r["vmpl"]);
    for f in [
        "family_id",
        "image_id",
        "measurement",
        "host_data",
        "report_data",
        "id_key_digest",
        "author_key_digest",
        "report_id",
        "report_id_ma",
        "chip_id",
        "current_version",
        "committed_version",
    ] {
        eq(f, &r[f]);
    }
    for f in ["current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"] {
        eq(f, &strip_raw(&r[f]));
    }
    assert_eq!(
        c["platform_info"].as_u64().unwrap(),
        hexint(&r["platform_info"]),
        "{name}"
    );
    for (k, v) in r["platform_info_decoded"].as_object().unwrap() {
        if c["platform_info_decoded"].get(k).is_some() && k != "other_bits" {
            assert_eq!(
                &c["platform_info_decoded"][k], v,
                "{name}: platform_info.{k}"
            );
        }
    }
    assert_eq!(
        c["product"].as_str().unwrap(),
        exp["product"].as_str().unwrap().to_lowercase(),
        "{name}: product"
    );
    assert_eq!(
        c["signing_key"].as_str().unwrap(),
        r["flags"]["signing_key"].as_str().unwrap().to_lowercase(),
        "{name}: signing_key"
    );
    if let Some(l) = r.get("launch_mit_vector") {
        assert_eq!(
            c["launch_mit_vector"].as_u64().unwrap(),
            hexint(l),
            "{name}"
        );
        assert_eq!(
            c["current_mit_vector"].as_u64().unwrap(),
            hexint(&r["current_mit_vector"]),
            "{name}"
        );
    }
}

#[test]
fn every_sample_verifies_with_its_expected_claims() {
    let mut n = 0;
    for sample in samples("snp") {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let exp = expected(&sample);
        let certs = certs(&sample);
        let opts = VerifyOptions::at(valid_time(&exp));
        let bytes = std::fs::read(sample.join("report.bin")).unwrap();
        let v = snp_verify(&bytes, &certs, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_claims(&name, &snp::claims::claims(&v), &exp);
        // Azure: the HCL wrapper verifies too, binding the runtime data.
        let hcl = sample.join("hcl_report.bin");
        if hcl.is_file() {
            let hcl_bytes = std::fs::read(&hcl).unwrap();
            let v = snp_verify(&hcl_bytes, &certs, &opts)
                .unwrap_or_else(|e| panic!("{name} (HCL): {e}"));
            check_claims(&name, &snp::claims::claims(&v), &exp);
        }
        n += 1;
    }
    assert!(n >= 8, "expected at least 8 SNP samples, found {n}");
}

fn sample(name: &str) -> (Vec<u8>, Vec<Cert>, Value) {
    let s = vectors().join("snp").join(name);
    (
        std::fs::read(s.join("report.bin")).unwrap(),
        certs(&s),
        expected(&s),
    )
}

#[test]
fn the_debug_sample_says_debug() {
    let (bytes, certs, exp) = sample("milan-v2-debug-go-sev-guest");
    let v = snp_verify(&bytes, &certs, &VerifyOptions::at(valid_time(&exp))).unwrap();
    assert_eq!(snp::claims::claims(&v)["debug"], true);
}

#[test]
fn the_tampered_vceks_fail() {
    let s = vectors().join("snp/milan-v2-trustee");
    let (bytes, good, exp) = sample("milan-v2-trustee");
    let chain: Vec<Cert> = good.into_iter().filter(|c| !c.has_ec_key()).collect();
    for bad in ["vcek-invalid-legacy.der", "vcek-invalid-new.der"] {
        let mut certs = chain.clone();
        certs.extend(load_certs(&s.join(bad)).unwrap());
        let err = snp_verify(&bytes, &certs, &VerifyOptions::at(valid_time(&exp))).unwrap_err();
        assert!(
            matches!(err, EvidenceError::Signature { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_vlek_sample_verifies_only_inside_its_validity() {
    let (bytes, certs, _) = sample("milan-v3-vlek-aws-trustee");
    snp_verify(
        &bytes,
        &certs,
        &VerifyOptions::at(time("2025-06-01T00:00:00Z")),
    )
    .unwrap();
    let err = snp_verify(
        &bytes,
        &certs,
        &VerifyOptions::at(time("2025-12-11T00:00:00Z")),
    )
    .unwrap_err();
    assert!(matches!(err, EvidenceError::Expired { .. }), "{err}");
}

#[test]
fn every_single_bit_flip_in_the_signed_region_or_signature_fails() {
    let (bytes, certs, exp) = sample("milan-v2-virtee-sev");
    let opts = VerifyOptions::at(valid_time(&exp));
    let cache = snp::ChainCache::new();
    snp_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
    // Exhaustive: the signed region 0x000..0x2A0 and the signature's R and S (72 bytes each,
    // little-endian); the VCEK chain is cached, each flip costs a parse and the P-384 check.
    let still_verify = bit_flips_that_verify(&bytes, 0..0x330, |b| {
        snp_verify(b, &certs, &opts.clone().with_cache(&cache)).is_ok()
    });
    assert!(
        still_verify.is_empty(),
        "flips that verify: {still_verify:?}"
    );
    // The signature itself fails as a signature.
    let mut b = bytes.clone();
    b[0x2A0] ^= 1;
    assert!(matches!(
        snp_verify(&b, &certs, &opts),
        Err(EvidenceError::Signature { .. })
    ));
}

/// A real report captured with 20 unsigned bytes after it: refused by default (the message
/// says how many and what to do), read by its first 1184 bytes under `allow_trailing_data`,
/// with the claims of the report itself; a short capture stays refused.
#[test]
fn trailing_bytes_after_a_real_report_only_when_allowed() {
    let (bytes, certs, exp) = sample("milan-v2-virtee-sev");
    let at = valid_time(&exp);
    let mut long = bytes.clone();
    long.extend_from_slice(&[0xAB; 20]);
    let strict = VerifyOptions::at(at);
    match snp_verify(&long, &certs, &strict) {
        Err(EvidenceError::Malformed {
            offset: 0, reason, ..
        }) => {
            assert!(
                reason.contains("1204 bytes") && reason.contains("20 more"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    let lax = VerifyOptions::at(at).allowing_trailing_data();
    let v = snp_verify(&long, &certs, &lax).unwrap();
    let plain = snp_verify(&bytes, &certs, &strict).unwrap();
    assert_eq!(v.report.raw, plain.report.raw);
    assert!(snp_verify(&bytes[..1183], &certs, &lax).is_err());
}

#[test]
fn wrong_length_and_version_name_the_offset() {
    let (bytes, _, _) = sample("milan-v2-virtee-sev");
    let err = Report::parse(&bytes[..1183]).unwrap_err();
    assert!(
        matches!(err, EvidenceError::Malformed { offset: 0, .. }),
        "{err}"
    );
    let mut b = bytes.clone();
    b.push(0);
    assert!(Report::parse(&b).is_err());
    let mut b = bytes.clone();
    b[0] = 9;
    assert!(matches!(
        Report::parse(&b),
        Err(EvidenceError::UnsupportedVersion { version: 9, .. })
    ));
    let mut b = bytes.clone();
    b[0x034] = 2;
    let err = Report::parse(&b).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::Malformed {
                field: "SIGNATURE_ALGO",
                offset: 0x34,
                ..
            }
        ),
        "{err}"
    );
    let mut b = bytes;
    b[0x04C] = 1;
    let err = Report::parse(&b).unwrap_err();
    assert!(
        matches!(err, EvidenceError::Malformed { offset: 0x4c, .. }),
        "{err}"
    );
}

#[test]
fn missing_or_foreign_certificates_fail() {
    let (bytes, certs, exp) = sample("milan-v2-virtee-sev");
    let opts = VerifyOptions::at(valid_time(&exp));
    let no_vcek: Vec<Cert> = certs.iter().filter(|c| !c.has_ec_key()).cloned().collect();
    assert!(matches!(
        snp_verify(&bytes, &no_vcek, &opts),
        Err(EvidenceError::Certificate { .. })
    ));
    // A VCEK of another chip: the hwID and TCB do not match this report.
    let (_, other, _) = sample("milan-v2-trustee");
    let mut mixed: Vec<Cert> = no_vcek.clone();
    mixed.extend(other.into_iter().filter(|c| c.has_ec_key()));
    assert!(snp_verify(&bytes, &mixed, &opts).is_err());
    // Revoked VCEK.
    let vcek = certs.iter().find(|c| c.has_ec_key()).unwrap();
    let revoked = VerifyOptions {
        revoked_serials: Some(vec![vcek.serial_hex()]),
        ..opts.clone()
    };
    assert!(matches!(
        snp_verify(&bytes, &certs, &revoked),
        Err(EvidenceError::Revoked { .. })
    ));
}

#[test]
fn azure_runtime_data_is_bound() {
    let s = vectors().join("snp/genoa-v3-azure-hcl-trustee");
    let (_, certs, exp) = sample("genoa-v3-azure-hcl-trustee");
    let mut hcl = std::fs::read(s.join("hcl_report.bin")).unwrap();
    let at = 0x4C0 + 20 + 10;
    hcl[at] ^= 1; // one byte of the runtime JSON
    let err = snp_verify(&hcl, &certs, &VerifyOptions::at(valid_time(&exp))).unwrap_err();
    assert!(matches!(err, EvidenceError::Mismatch { .. }), "{err}");
}

#[test]
fn the_chain_cache_skips_only_chain_signatures() {
    let (bytes, certs, exp) = sample("milan-v2-trustee");
    let opts = VerifyOptions::at(valid_time(&exp));
    let cache = snp::ChainCache::new();
    let a = snp_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
    let b = snp_verify(&bytes, &certs, &opts.clone().with_cache(&cache)).unwrap();
    assert_eq!(snp::claims::claims(&a), snp::claims::claims(&b));
    // A tampered VCEK is a different certificate: never served from the cache.
    let s = vectors().join("snp/milan-v2-trustee");
    let mut bad: Vec<Cert> = certs.iter().filter(|c| !c.has_ec_key()).cloned().collect();
    bad.extend(load_certs(&s.join("vcek-invalid-legacy.der")).unwrap());
    assert!(snp_verify(&bytes, &bad, &opts.clone().with_cache(&cache)).is_err());
    // Validity and the report signature are still checked on a cache hit.
    let late = VerifyOptions::at(time("2031-01-01T00:00:00Z"));
    assert!(matches!(
        snp_verify(&bytes, &certs, &late.clone().with_cache(&cache)),
        Err(EvidenceError::Expired { .. })
    ));
    let mut flipped = bytes.clone();
    flipped[0x90] ^= 1;
    assert!(matches!(
        snp_verify(&flipped, &certs, &opts.clone().with_cache(&cache)),
        Err(EvidenceError::Signature { .. })
    ));
}

/// AMD's CRL must be signed by the pinned ARK: a CRL naming ARK-Milan but signed by another
/// key, or naming another issuer, is refused; without a CRL the evidence says revocation was
/// not checked. (The positive path, a revoked ASK or VCEK failing, is a unit test of
/// `snp::verify` under a throwaway root: AMD's real CRL is not among the vectors.)
#[test]
fn amd_crl_must_come_from_the_pinned_ark() {
    use p384::ecdsa::signature::Signer;
    let s = vectors().join("snp/milan-v2-virtee-sev");
    let bytes = std::fs::read(s.join("report.bin")).unwrap();
    let certs = certs(&s);
    let opts = VerifyOptions::at(valid_time(&expected(&s)));
    let v = snp_verify(&bytes, &certs, &opts).unwrap();
    assert!(!v.revocation_checked);
    assert_eq!(
        coco_evidence::attester::snp("cpu0", &v).view()["revocation_checked"],
        false
    );
    let ark = &v.ark;
    let key = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
    let sign = |tbs: &[u8]| {
        let sig: p384::ecdsa::DerSignature = key.sign(tbs);
        sig.as_bytes().to_vec()
    };
    let month = Duration::from_secs(30 * 86400);
    let forged = crl(
        ark.inner().tbs_certificate().subject(),
        "1.2.840.10045.4.3.3",
        sign,
        &[],
        month,
    );
    let o = opts
        .clone()
        .with_crl(coco_evidence::x509::Crl::from_der(&forged).unwrap());
    let e = snp_verify(&bytes, &certs, &o).unwrap_err();
    assert!(
        matches!(
            e,
            EvidenceError::Certificate { .. } | EvidenceError::Signature { .. }
        ),
        "{e}"
    );
    let other = crl(
        v.vek.inner().tbs_certificate().subject(),
        "1.2.840.10045.4.3.3",
        sign,
        &[],
        month,
    );
    let o = opts.with_crl(coco_evidence::x509::Crl::from_der(&other).unwrap());
    let e = snp_verify(&bytes, &certs, &o).unwrap_err();
    assert!(matches!(e, EvidenceError::Chain(_)), "{e}");
}

#[test]
fn no_panic_on_any_truncation_or_bit_flip_of_every_real_report() {
    let mut n_files = 0;
    for s in samples("snp") {
        for name in ["report.bin", "hcl_report.bin"] {
            let Ok(bytes) = std::fs::read(s.join(name)) else {
                continue;
            };
            n_files += 1;
            let hcl = name == "hcl_report.bin";
            let parse = |b: &[u8]| -> bool {
                if hcl {
                    snp::azure::HclReport::parse(b)
                        .and_then(|h| h.snp_report())
                        .is_ok()
                } else {
                    Report::parse(b).is_ok()
                }
            };
            // An HCL buffer is zero-padded after its declared size; everything shorter fails.
            let size = if hcl {
                u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize
            } else {
                bytes.len()
            };
            for n in 0..size {
                assert!(
                    !parse(&bytes[..n]),
                    "{}: prefix of {n} bytes parsed",
                    s.display()
                );
            }
            let mut b = bytes.clone();
            for bit in 0..bytes.len() * 8 {
                b[bit / 8] ^= 1 << (bit % 8);
                let _ = parse(&b);
                b[bit / 8] ^= 1 << (bit % 8);
            }
        }
    }
    assert!(n_files >= 4, "only {n_files} SNP reports found");
}

#[test]
fn a_host_certificate_table_gives_its_known_certificates() {
    // The table configfs-tsm returns in `auxblob`: here the real VCEK and ASK of a sample, an
    // entry with an unknown GUID (skipped), then the all-zero entry.
    use coco_evidence::snp::cert_table::{CERT_GUIDS, to_pem};
    let s = vectors().join("snp/milan-v2-trustee");
    let vcek = std::fs::read(s.join("vcek.der")).unwrap();
    let chain = coco_evidence::x509::load_certs(&s.join("cert_chain.pem")).unwrap();
    let ask = chain
        .iter()
        .find(|c| c.subject_cn() == "SEV-Milan")
        .unwrap()
        .der()
        .to_vec();
    let entries = [
        (CERT_GUIDS[0].1, &vcek),
        ([0x5a; 16], &ask),
        (CERT_GUIDS[2].1, &ask),
    ];
    let mut offset = 24 * (entries.len() + 1);
    let (mut table, mut blobs) = (Vec::new(), Vec::new());
    for (guid, blob) in entries {
        table.extend_from_slice(&guid);
        table.extend_from_slice(&(offset as u32).to_le_bytes());
        table.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        offset += blob.len();
        blobs.extend_from_slice(blob);
    }
    table.extend_from_slice(&[0; 24]);
    table.extend_from_slice(&blobs);
    let pem = to_pem(&table).unwrap();
    let certs = coco_evidence::x509::parse_certs(pem.as_bytes()).unwrap();
    let names: Vec<String> = certs.iter().map(|c| c.subject_cn()).collect();
    assert_eq!(names, ["SEV-VCEK", "SEV-Milan"]);
    // Cut inside the last certificate: its entry points outside the table.
    let e = to_pem(&table[..table.len() - 1]).unwrap_err();
    assert!(
        matches!(
            e,
            EvidenceError::Malformed {
                field: "offset",
                offset: 64,
                ..
            }
        ),
        "{e:?}"
    );
}
