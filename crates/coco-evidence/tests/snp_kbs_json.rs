//! The real SNP evidence of a Confidential Containers KBS client (`vectors/kbs/trustee-snp-e2e`,
//! the `sev` crate's JSON form) rebuilds into the exact 1184 bytes the firmware signed: the
//! signature verifies through the VCEK -> ASK -> pinned ARK chain, the claims are the README's,
//! and every single changed JSON value fails.

mod common;

use coco_evidence::snp::{self, Report, VerifyOptions, sev_json};
use coco_evidence::x509::{Cert, load_certs};
use common::*;
use serde_json::Value;

fn evidence() -> Value {
    let path = vectors().join("kbs/trustee-snp-e2e/evidence.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The VCEK from the evidence's own `cert_chain` and the Genoa ASK.
fn chain(ev: &Value) -> Vec<Cert> {
    let vcek: Vec<u8> = ev["cert_chain"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| u8::try_from(x.as_u64().unwrap()).unwrap())
        .collect();
    let mut certs = vec![Cert::from_der(&vcek).unwrap()];
    certs.extend(load_certs(&vectors().join("roots/amd/ask-genoa.pem")).unwrap());
    certs
}

fn opts() -> VerifyOptions<'static> {
    VerifyOptions::at(time("2025-06-01T00:00:00Z"))
}

#[test]
fn the_trustee_evidence_rebuilds_into_the_signed_report() {
    let ev = evidence();
    let bytes = sev_json::to_report_bytes(&ev["attestation_report"]).unwrap();
    assert_eq!(bytes.len(), 1184);
    // The cert_chain's VCEK is the file of the vectors folder.
    let vcek = std::fs::read(vectors().join("kbs/trustee-snp-e2e/vcek.der")).unwrap();
    assert_eq!(chain(&ev)[0], Cert::from_der(&vcek).unwrap());
    let v = snp_verify(&bytes, &chain(&ev), &opts()).unwrap();
    let c = snp::claims::claims(&v);
    assert_eq!(c["product"], "genoa");
    assert_eq!(c["version"], 3);
    assert_eq!(c["vmpl"], 0);
    assert_eq!(c["debug"], false);
    assert_eq!(
        c["measurement"],
        "6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e"
    );
    assert_eq!(
        c["report_data"],
        "7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982f9a92b17c51b578d958cde6b0c92978f150cf9b0"
    );
    assert!(
        c["chip_id"]
            .as_str()
            .unwrap()
            .starts_with("371c55d6d15cb50f16dc31d39a24e300")
    );
    for t in ["current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"] {
        assert_eq!(
            c[t],
            serde_json::json!({"bootloader": 10, "tee": 0, "snp": 23, "microcode": 25}),
            "{t}"
        );
    }
    assert_eq!(c["current_version"], "1.55.40");
    // And back: the parsed report serialises to the very JSON the client sent.
    assert_eq!(
        sev_json::to_sev_json(&Report::parse(&bytes).unwrap()),
        ev["attestation_report"]
    );
}

/// Every leaf of the JSON (each integer, each element of each byte array), changed by one.
fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| leaves(x, format!("{path}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaves(x, format!("{path}/{i}"), out)),
        Value::Number(_) => out.push(path),
        _ => {}
    }
}

#[test]
fn every_changed_json_value_fails() {
    let ev = evidence();
    let report = &ev["attestation_report"];
    let certs = chain(&ev);
    let cache = snp::ChainCache::new();
    let good = sev_json::to_report_bytes(report).unwrap();
    snp_verify(&good, &certs, &opts().with_cache(&cache)).unwrap();
    let mut paths = Vec::new();
    leaves(report, String::new(), &mut paths);
    assert!(paths.len() > 550, "{} leaves", paths.len());
    let mut accepted = Vec::new();
    for p in &paths {
        let mut j = report.clone();
        let x = j.pointer_mut(p).unwrap();
        let n = x.as_u64().unwrap();
        // Within the field's range where possible (a byte stays a byte).
        *x = (if n == 0 { 1 } else { n - 1 }).into();
        let ok = sev_json::to_report_bytes(&j)
            .map(|b| snp_verify(&b, &certs, &opts().with_cache(&cache)).is_ok())
            .unwrap_or(false);
        if ok {
            accepted.push(p.clone());
        }
    }
    assert!(
        accepted.is_empty(),
        "changed values that verify: {accepted:?}"
    );
}
