//! Every real TDX quote in `vectors/tdx/` parses to exactly the fields of its `expected.json`
//! and verifies with its TCB result (UpToDate, OutOfDate, no matching level); the negative
//! cases of the vectors' README fail as they must.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use coco_evidence::EvidenceError;
use coco_evidence::tdx::{self, Quote, RawCollateral, VerifyOptions};
use common::*;
use serde_json::Value;

fn quote_bytes(sample: &Path) -> Vec<u8> {
    std::fs::read(sample.join("quote.bin")).unwrap()
}

/// The verification time: the README's "verify as of" for samples with collateral, else a
/// day after the PCK's notBefore.
fn as_of(exp: &Value) -> SystemTime {
    match exp["collateral_evaluation"]["suggested_as_of"].as_str() {
        Some(t) => time(t),
        None => {
            time(exp["pck_certificate"]["not_before"].as_str().unwrap())
                + Duration::from_secs(86400)
        }
    }
}

fn collateral_dir(sample: &Path) -> Option<PathBuf> {
    let d = sample.join("collateral");
    d.join("tcb_info.json").is_file().then_some(d)
}

/// go-tdx-guest's SPR quote carries a line of text after the structure: it parses only
/// when trailing data is allowed explicitly.
fn has_text_after(sample: &Path) -> bool {
    expected(sample)["signature_data"]["trailing_bytes_all_zero"] == false
}

fn opts_for(sample: &Path, at: SystemTime) -> VerifyOptions<'static> {
    let mut opts = VerifyOptions::at(at);
    if has_text_after(sample) {
        opts = opts.allowing_trailing_data();
    }
    let has_crls = collateral_dir(sample).is_some_and(|d| d.join("pck_crl.der").is_file());
    if has_crls {
        opts
    } else {
        opts.without_revocation_check()
    }
}

fn verify_sample(
    sample: &Path,
    at: SystemTime,
) -> Result<coco_evidence::Verified<tdx::TdxEvidence>, EvidenceError> {
    let opts = opts_for(sample, at);
    let collateral = match collateral_dir(sample) {
        Some(d) => Some(tdx::verify_collateral(
            &RawCollateral::from_dir(&d)?,
            &opts,
        )?),
        None => None,
    };
    tdx_verify(&quote_bytes(sample), collateral.as_ref(), &opts)
}

fn check_parse(name: &str, q: &Quote, exp: &Value) {
    let h = &exp["header"];
    assert_eq!(
        q.header.version as u64,
        h["version"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        q.header.att_key_type as u64,
        h["att_key_type"].as_u64().unwrap()
    );
    assert_eq!(
        format!("{:#x}", q.header.tee_type),
        h["tee_type"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(q.header.qe_vendor_id),
        h["qe_vendor_id"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(q.header.user_data),
        h["user_data"].as_str().unwrap()
    );
    let b = &q.body;
    let body_start = if q.header.version == 4 { 48 } else { 54 };
    let fields: Vec<(&str, Vec<u8>)> = vec![
        ("tee_tcb_svn", b.tee_tcb_svn.to_vec()),
        ("mrseam", b.mr_seam.to_vec()),
        ("mrsignerseam", b.mr_signer_seam.to_vec()),
        ("seam_attributes", b.seam_attributes.to_vec()),
        ("td_attributes", b.td_attributes.to_vec()),
        ("xfam", b.xfam.to_vec()),
        ("mrtd", b.mr_td.to_vec()),
        ("mrconfigid", b.mr_config_id.to_vec()),
        ("mrowner", b.mr_owner.to_vec()),
        ("mrownerconfig", b.mr_owner_config.to_vec()),
        ("rtmr0", b.rtmr[0].to_vec()),
        ("rtmr1", b.rtmr[1].to_vec()),
        ("rtmr2", b.rtmr[2].to_vec()),
        ("rtmr3", b.rtmr[3].to_vec()),
        ("report_data", b.report_data.to_vec()),
    ];
    let mut expected_fields = exp["body"].as_object().unwrap().clone();
    for (f, v) in fields {
        let e = expected_fields
            .remove(f)
            .unwrap_or_else(|| panic!("{name}: {f} missing"));
        assert_eq!(hex::encode(&v), e["hex"].as_str().unwrap(), "{name}: {f}");
        // Offsets are given relative to the body start of a v4 quote (48) or absolute.
        let off = e["offset"].as_u64().unwrap() as usize;
        assert!(
            off == off.max(body_start) || off >= 48,
            "{name}: {f} offset {off}"
        );
    }
    match q.body.kind {
        tdx::BodyKind::Td15 => {
            assert_eq!(exp["body_type"], "TD15", "{name}");
            let svn2 = expected_fields.remove("tee_tcb_svn_2").unwrap();
            assert_eq!(
                hex::encode(b.tee_tcb_svn_2.unwrap()),
                svn2["hex"].as_str().unwrap()
            );
            let st = expected_fields.remove("mrservicetd").unwrap();
            assert_eq!(
                hex::encode(b.mr_service_td.unwrap()),
                st["hex"].as_str().unwrap()
            );
            let d = &exp["body_descriptor"];
            assert_eq!(
                q.body_descriptor,
                Some((
                    d["type"].as_u64().unwrap() as u16,
                    d["size"].as_u64().unwrap() as u32
                ))
            );
        }
        tdx::BodyKind::Td10 => assert!(exp["body_type"].as_str().unwrap().starts_with("TD10")),
    }
    assert!(
        expected_fields.is_empty(),
        "{name}: unchecked fields {expected_fields:?}"
    );

    let s = &exp["signature_data"];
    assert_eq!(
        q.signed_len as u64,
        s["length_field_offset"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        hex::encode(q.attestation_key),
        s["attestation_pubkey"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(&q.qe_auth_data),
        s["qe_auth_data_hex"].as_str().unwrap()
    );
    assert_eq!(
        q.pck_chain.len() as u64,
        s["inner_certification_data_size"].as_u64().unwrap()
    );
    assert_eq!(
        q.trailing_len as u64,
        s["trailing_bytes_after_structure"].as_u64().unwrap(),
        "{name}: trailing bytes"
    );
    assert_eq!(
        q.trailing_all_zero,
        s["trailing_bytes_all_zero"] != false,
        "{name}"
    );
    let r = &exp["qe_report"];
    assert_eq!(
        hex::encode(q.qe_report.cpu_svn),
        r["cpusvn"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(q.qe_report.mr_enclave),
        r["mrenclave"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(q.qe_report.mr_signer),
        r["mrsigner"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(q.qe_report.attributes),
        r["attributes"].as_str().unwrap()
    );
    assert_eq!(
        q.qe_report.isv_prod_id as u64,
        r["isvprodid"].as_u64().unwrap()
    );
    assert_eq!(q.qe_report.isv_svn as u64, r["isvsvn"].as_u64().unwrap());
    assert_eq!(
        hex::encode(q.qe_report.report_data),
        r["reportdata"].as_str().unwrap()
    );
}

fn check_claims(name: &str, v: &coco_evidence::Verified<tdx::TdxEvidence>, exp: &Value) {
    let c = tdx::claims::claims(v);
    let b = &exp["body"];
    for (claim, field) in [
        ("tee_tcb_svn", "tee_tcb_svn"),
        ("mr_seam", "mrseam"),
        ("mr_signer_seam", "mrsignerseam"),
        ("seam_attributes", "seam_attributes"),
        ("td_attributes", "td_attributes"),
        ("xfam", "xfam"),
        ("mr_td", "mrtd"),
        ("mr_config_id", "mrconfigid"),
        ("mr_owner", "mrowner"),
        ("mr_owner_config", "mrownerconfig"),
        ("rtmr0", "rtmr0"),
        ("rtmr1", "rtmr1"),
        ("rtmr2", "rtmr2"),
        ("rtmr3", "rtmr3"),
        ("report_data", "report_data"),
    ] {
        assert_eq!(c[claim], b[field]["hex"], "{name}: {claim}");
    }
    assert_eq!(c["version"], exp["header"]["version"], "{name}");
    assert_eq!(
        c["debug"], exp["td_attributes_decoded"]["DEBUG"],
        "{name}: debug"
    );
    assert_eq!(
        c["td_attributes_decoded"]["sept_ve_disable"],
        exp["td_attributes_decoded"]["SEPT_VE_DISABLE"]
    );
    let p = &exp["pck_certificate"];
    assert_eq!(c["fmspc"], p["FMSPC"], "{name}: fmspc");
    assert_eq!(c["pce_id"], p["PCE_ID"], "{name}");
    assert_eq!(c["pce_svn"], p["PCESVN"], "{name}");
    assert_eq!(
        c["sgx_tcb_components"], p["SGX_TCB_COMP_SVN_01_16"],
        "{name}"
    );
    assert_eq!(
        c["sgx_type"].as_u64().unwrap(),
        u64::from_str_radix(p["SGX_TYPE"].as_str().unwrap(), 16).unwrap()
    );
    assert_eq!(
        v.pck.serial_hex().trim_start_matches('0'),
        p["serial"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x")
            .trim_start_matches('0')
    );
    assert_eq!(
        hex::encode(v.pck_extensions.cpu_svn),
        p["CPUSVN"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(&v.pck_extensions.ppid),
        p["PPID"].as_str().unwrap()
    );
    let chain = exp["pck_chain_in_quote"].as_array().unwrap();
    assert_eq!(
        v.pck.fingerprint(),
        chain[0]["sha256_der"].as_str().unwrap()
    );
    assert_eq!(
        v.pck_ca.fingerprint(),
        chain[1]["sha256_der"].as_str().unwrap()
    );
    assert_eq!(
        v.root.fingerprint(),
        chain[2]["sha256_der"].as_str().unwrap()
    );
    let svn = &exp["tee_tcb_svn_decoded"];
    assert_eq!(c["tdx_module"]["isvsvn"], svn["tdx_module_isvsvn"]);
    assert_eq!(
        c["tdx_module"]["major_version"],
        svn["tdx_module_major_version"]
    );
}

#[test]
fn every_sample_parses_and_verifies_with_its_expected_tcb_result() {
    let mut seen = 0;
    for sample in samples("tdx") {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let exp = expected(&sample);
        let q = if has_text_after(&sample) {
            let err = Quote::parse(&quote_bytes(&sample)).unwrap_err();
            assert_eq!(err.kind(), "malformed", "{name}");
            Quote::parse_allowing_trailing_data(&quote_bytes(&sample)).unwrap()
        } else {
            Quote::parse(&quote_bytes(&sample)).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        check_parse(&name, &q, &exp);
        let at = as_of(&exp);
        let eval = &exp["collateral_evaluation"]["tcb_evaluation"];
        match verify_sample(&sample, at) {
            Ok(v) => {
                check_claims(&name, &v, &exp);
                let c = tdx::claims::claims(&v);
                match eval["final_status"].as_str() {
                    Some(status) => {
                        assert_eq!(c["tcb_status"], status, "{name}");
                        assert_eq!(c["advisory_ids"], eval["advisories"], "{name}");
                        assert_eq!(
                            v.tcb.as_ref().unwrap().platform.tcb_date,
                            eval["platform_level"]["tcbDate"].as_str().unwrap(),
                            "{name}"
                        );
                        if let Some(m) = eval["module_level"].as_object() {
                            let (id, level) = v.tcb.as_ref().unwrap().module.as_ref().unwrap();
                            assert_eq!(id, m["id"].as_str().unwrap(), "{name}");
                            assert_eq!(level.status.name(), m["status"].as_str().unwrap());
                        }
                        assert_eq!(
                            v.tcb.as_ref().unwrap().qe.status.name(),
                            eval["qe_level"]["status"].as_str().unwrap()
                        );
                    }
                    None => {
                        assert!(collateral_dir(&sample).is_none(), "{name}: no TCB result");
                        assert_eq!(c["tcb_status"], Value::Null);
                        assert_eq!(c["collateral_checked"], false);
                    }
                }
                assert_eq!(
                    c["revocation_checked"],
                    collateral_dir(&sample).is_some_and(|d| d.join("pck_crl.der").is_file()),
                    "{name}"
                );
            }
            Err(EvidenceError::NoTcbLevel(msg)) => {
                assert_eq!(eval["platform"], "NoMatch", "{name}: {msg}");
            }
            Err(e) => panic!("{name}: {e}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 8);
}

fn sample(name: &str) -> PathBuf {
    vectors().join("tdx").join(name)
}

#[test]
fn go_tdx_guest_tcb_info_for_the_v5_sample_also_gives_up_to_date() {
    let s = sample("v5-td15-go-tdx-guest-uptodate");
    let mut raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    raw.tcb_info = std::fs::read(s.join("tcb_info_go_tdx_guest.json")).unwrap();
    // Its window is 2026-02-01 .. 2026-03-03, the rest of the collateral 2026-02-18 ..
    let opts = VerifyOptions::at(time("2026-03-01T00:00:00Z"));
    let c = tdx::verify_collateral(&raw, &opts).unwrap();
    let v = tdx_verify(&quote_bytes(&s), Some(&c), &opts).unwrap();
    assert_eq!(v.tcb.as_ref().unwrap().status, tdx::TcbStatus::UpToDate);
    assert_eq!(c.tcb_info.tcb_evaluation_data_number, 18);
}

#[test]
fn go_tdx_guest_single_byte_overwrites_all_fail() {
    // go-tdx-guest verify_test.go TestNegativeVerification, on the SPR E4 quote, verified
    // without collateral as go-tdx-guest does.
    let s = sample("v4-go-tdx-guest-spr-no-tcb-level");
    let exp = expected(&s);
    let at =
        time(exp["pck_certificate"]["not_before"].as_str().unwrap()) + Duration::from_secs(86400);
    let opts = VerifyOptions::at(at)
        .without_revocation_check()
        .allowing_trailing_data();
    let good = quote_bytes(&s);
    tdx_verify(&good, None, &opts).unwrap();
    for (off, val, kind) in [
        (0x00, 3, "unsupported_version"),
        (0x278, 0x10, "malformed"),
        (0x1343, 0x32, ""),
        (0x1329, 0x32, "chain"),
        (0xF5F, 0x32, ""),
        (0xB77, 0x32, ""),
        (0x1E, 0x32, "signature"),
        (0x3C, 0x32, "signature"),
    ] {
        let mut q = good.clone();
        q[off] = val;
        let err =
            tdx_verify(&q, None, &opts).expect_err(&format!("overwrite at {off:#x} must fail"));
        if !kind.is_empty() {
            assert_eq!(err.kind(), kind, "{off:#x}: {err}");
        }
        if off == 0x278 {
            assert!(
                matches!(
                    err,
                    EvidenceError::Malformed {
                        field: "signature_data_len",
                        offset: 0x278,
                        ..
                    }
                ),
                "{err}"
            );
        }
    }
}

#[test]
fn collateral_outside_its_window_fails() {
    let s = sample("v4-dcap-qvl-uptodate");
    let raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    for t in ["2025-06-01T00:00:00Z", "2025-08-01T00:00:00Z"] {
        let err = tdx::verify_collateral(&raw, &VerifyOptions::at(time(t))).unwrap_err();
        assert_eq!(err.kind(), "expired", "{t}: {err}");
    }
    // Collateral verified once stays bound to its window for later quotes.
    let ok = VerifyOptions::at(time("2025-07-01T00:00:00Z"));
    let c = tdx::verify_collateral(&raw, &ok).unwrap();
    let late = VerifyOptions::at(time("2025-08-01T00:00:00Z"));
    let err = tdx_verify(&quote_bytes(&s), Some(&c), &late).unwrap_err();
    assert_eq!(err.kind(), "expired", "{err}");
}

#[test]
fn missing_revocation_data_is_an_error_unless_waived() {
    let s = sample("v4-trustee-module-tdx03-outofdate");
    let raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    let at = time("2025-11-01T00:00:00Z");
    let err = tdx::verify_collateral(&raw, &VerifyOptions::at(at)).unwrap_err();
    assert!(
        matches!(&err, EvidenceError::Collateral(coco_evidence::CollateralError::RevocationMissing { missing })
            if missing.contains(&"pck_crl.der".to_string())),
        "{err}"
    );
    // Without collateral at all, revocation cannot be checked either.
    let err = tdx_verify(&quote_bytes(&s), None, &VerifyOptions::at(at)).unwrap_err();
    assert_eq!(err.kind(), "collateral", "{err}");
    let v = verify_sample(&s, at).unwrap();
    assert!(!v.revocation_checked);
    assert_eq!(tdx::claims::claims(&v)["revocation_checked"], false);
}

#[test]
fn tampered_collateral_fails() {
    let s = sample("v4-dcap-qvl-uptodate");
    let raw = RawCollateral::from_dir(&s.join("collateral")).unwrap();
    let opts = VerifyOptions::at(time("2025-07-01T00:00:00Z"));
    // A status edited inside the signed tcbInfo object.
    let mut bad = raw.clone();
    let text = String::from_utf8(bad.tcb_info.clone()).unwrap();
    let edited = text.replacen("\"OutOfDate\"", "\"UpToDate\"", 1);
    assert_ne!(edited, text);
    bad.tcb_info = edited.into_bytes();
    assert_eq!(
        tdx::verify_collateral(&bad, &opts).unwrap_err().kind(),
        "signature"
    );
    // QE identity signature byte flipped.
    let mut bad = raw.clone();
    let n = bad.qe_identity.len();
    let pos = n - 4; // inside the signature hex
    bad.qe_identity[pos] = if bad.qe_identity[pos] == b'0' {
        b'1'
    } else {
        b'0'
    };
    assert_eq!(
        tdx::verify_collateral(&bad, &opts).unwrap_err().kind(),
        "signature"
    );
    // A CRL byte flipped.
    let mut bad = raw.clone();
    let crl = bad.root_ca_crl.as_mut().unwrap();
    let last = crl.len() - 3;
    crl[last] ^= 1;
    assert!(tdx::verify_collateral(&bad, &opts).is_err());
    // Collateral of another FMSPC.
    let other =
        RawCollateral::from_dir(&sample("v5-td15-go-tdx-guest-uptodate").join("collateral"))
            .unwrap();
    let opts26 = VerifyOptions::at(time("2026-03-01T00:00:00Z"));
    let c = tdx::verify_collateral(&other, &opts26).unwrap();
    // (the dcap-qvl quote's PCK is valid in 2026 too)
    let err = tdx_verify(&quote_bytes(&s), Some(&c), &opts26).unwrap_err();
    assert!(
        matches!(&err, EvidenceError::Mismatch { what, .. } if what.contains("FMSPC")),
        "{err}"
    );
}

#[test]
fn every_bit_of_the_signed_region_matters() {
    let s = sample("v4-dcap-qvl-uptodate");
    let good = quote_bytes(&s);
    let q = Quote::parse(&good).unwrap();
    let opts = VerifyOptions::at(time("2025-07-01T00:00:00Z")).without_revocation_check();
    let cache = tdx::ChainCache::new();
    tdx_verify(&good, None, &opts.clone().with_cache(&cache)).unwrap();
    // Every bit of header ‖ body and of the QE report, one at a time.
    let verifies = |b: &[u8]| tdx_verify(b, None, &opts.clone().with_cache(&cache)).is_ok();
    let qe_at = q.signed_len + 4 + 134;
    let mut still_verify = bit_flips_that_verify(&good, 0..q.signed_len, verifies);
    still_verify.extend(bit_flips_that_verify(&good, qe_at..qe_at + 384, verifies));
    assert!(
        still_verify.is_empty(),
        "flips that verify: {still_verify:?}"
    );
}

#[test]
fn trailing_bytes_must_be_zero_and_lengths_exact() {
    let s = sample("v4-gcp-cos-padded-go-tdx-guest");
    let good = quote_bytes(&s);
    let q = Quote::parse(&good).unwrap();
    assert_eq!(q.trailing_len, 3065);
    assert!(q.trailing_all_zero);
    let end = good.len() - q.trailing_len;
    let mut b = good.clone();
    b[end + 100] = 1;
    let err = Quote::parse(&b).unwrap_err();
    assert!(
        matches!(err, EvidenceError::Malformed { offset, .. } if offset == end + 100),
        "{err}"
    );
    // Every truncation fails cleanly.
    for n in (0..end).step_by(7) {
        assert!(Quote::parse(&good[..n]).is_err(), "truncated to {n}");
    }
    // Version 3 and an SGX TEE type are named.
    let mut b = good.clone();
    b[0] = 3;
    assert_eq!(Quote::parse(&b).unwrap_err().kind(), "unsupported_version");
    let mut b = good.clone();
    b[4] = 0;
    let err = Quote::parse(&b).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::Malformed {
                field: "tee_type",
                offset: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_debug_td_is_reported_as_debug() {
    let s = sample("v4-trustee-debug-td-uptodate");
    let v = verify_sample(&s, time("2023-07-01T01:00:00Z")).unwrap();
    let c = tdx::claims::claims(&v);
    assert_eq!(c["debug"], true);
    assert_eq!(c["tcb_status"], "UpToDate");
    // trustee's own expected claims for this quote agree on the measured values.
    let t: Value =
        serde_json::from_slice(&std::fs::read(s.join("expected_claims_trustee.json")).unwrap())
            .unwrap();
    let body = &t["quote"]["body"];
    assert_eq!(c["mr_td"], body["mr_td"], "{t}");
    assert_eq!(c["report_data"], body["report_data"]);
}

#[test]
fn no_panic_on_any_truncation_or_bit_flip_of_every_real_quote() {
    let mut n = 0;
    for s in samples("tdx") {
        let good = quote_bytes(&s);
        n += 1;
        let q = Quote::parse_allowing_trailing_data(&good).unwrap();
        let end = good.len() - q.trailing_len;
        for len in 0..end {
            assert!(
                Quote::parse_allowing_trailing_data(&good[..len]).is_err(),
                "{}: prefix of {len} bytes parsed",
                s.display()
            );
        }
        let mut b = good.clone();
        for bit in 0..good.len() * 8 {
            b[bit / 8] ^= 1 << (bit % 8);
            let _ = Quote::parse(&b);
            let _ = Quote::parse_allowing_trailing_data(&b);
            b[bit / 8] ^= 1 << (bit % 8);
        }
    }
    assert!(n >= 3, "only {n} TDX quotes found");
}
