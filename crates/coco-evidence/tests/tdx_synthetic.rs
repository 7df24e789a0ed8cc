//! Synthetic TDX evidence under a throwaway root generated here: a complete quote, PCK chain,
//! TCB Info, QE Identity and CRLs. With that root trusted explicitly, revocation and the TCB
//! algorithm are exercised where no real sample reaches (a revoked PCK, OutOfDate with
//! advisories, a revoked QE level); without it, the same evidence is rejected because the root
//! is not Intel's.

mod common;
use common::tdx_verify;

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use coco_evidence::tdx::{self, RawCollateral, TcbStatus, VerifyOptions};
use coco_evidence::x509::Cert;
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use coco_evidence::sim::CertProfile as Profile;

fn key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    SigningKey::from_slice(&seed).unwrap()
}

fn cert(
    subject: &str,
    issuer: &str,
    serial: u32,
    subject_key: &SigningKey,
    issuer_key: &SigningKey,
    extensions: Vec<Extension>,
) -> Cert {
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key.verifying_key()).unwrap();
    let profile = Profile {
        subject: Name::from_str(subject).unwrap(),
        issuer: Name::from_str(issuer).unwrap(),
        extensions,
    };
    let validity = Validity::from_now(Duration::from_secs(365 * 86400)).unwrap();
    let builder =
        CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki).unwrap();
    let c = builder.build::<_, DerSignature>(issuer_key).unwrap();
    Cert::from_der(&c.to_der().unwrap()).unwrap()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn entry(oid: &str, value: Vec<u8>) -> Vec<u8> {
    let mut c = ObjectIdentifier::new(&format!("1.2.840.113741.1.13.1.{oid}"))
        .unwrap()
        .to_der()
        .unwrap();
    c.extend(value);
    tlv(0x30, &c)
}

fn octets(b: &[u8]) -> Vec<u8> {
    OctetStringRef::new(b).unwrap().to_der().unwrap()
}

/// The SGX extension of a PCK certificate.
fn sgx_extension(comps: [u8; 16], pce_svn: u16, fmspc: [u8; 6]) -> Extension {
    let mut tcb = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        tcb.extend(entry(&format!("2.{}", i + 1), c.to_der().unwrap()));
    }
    tcb.extend(entry("2.17", pce_svn.to_der().unwrap()));
    tcb.extend(entry("2.18", octets(&comps)));
    let mut all = entry("1", octets(&[7; 16]));
    all.extend(entry("2", tlv(0x30, &tcb)));
    all.extend(entry("3", octets(&[0, 0])));
    all.extend(entry("4", octets(&fmspc)));
    all.extend(entry("5", vec![0x0a, 1, 1]));
    Extension {
        extn_id: tdx::pck::SGX_EXTENSION,
        critical: false,
        extn_value: der::asn1::OctetString::new(tlv(0x30, &all)).unwrap(),
    }
}

fn crl(issuer: &str, issuer_key: &SigningKey, revoked: &[&Cert]) -> Vec<u8> {
    common::crl(
        &Name::from_str(issuer).unwrap(),
        "1.2.840.10045.4.3.2",
        |tbs| {
            let sig: DerSignature = issuer_key.sign(tbs);
            sig.as_bytes().to_vec()
        },
        revoked,
        Duration::from_secs(30 * 86400),
    )
}

fn pem(c: &Cert) -> String {
    c.to_pem()
}

fn rfc3339(t: SystemTime) -> String {
    coco_core::time::format_rfc3339(coco_core::time::unix(t))
}

/// A throwaway Intel-shaped PKI and a platform with its quote.
struct World {
    root: Cert,
    root_key: SigningKey,
    pck_ca: Cert,
    pck_ca_key: SigningKey,
    pck: Cert,
    pck_key: SigningKey,
    tcb_signing: Cert,
    tcb_key: SigningKey,
    comps: [u8; 16],
    pce_svn: u16,
    fmspc: [u8; 6],
}

const ROOT: &str = "CN=Intel SGX Root CA,O=Throwaway";
const PCK_CA: &str = "CN=Intel SGX PCK Platform CA,O=Throwaway";

impl World {
    fn new() -> Self {
        let root_key = key();
        let root = cert(ROOT, ROOT, 1, &root_key, &root_key, vec![]);
        let pck_ca_key = key();
        let pck_ca = cert(PCK_CA, ROOT, 2, &pck_ca_key, &root_key, vec![]);
        let tcb_key = key();
        let tcb_signing = cert(
            "CN=Intel SGX TCB Signing,O=Throwaway",
            ROOT,
            3,
            &tcb_key,
            &root_key,
            vec![],
        );
        let comps = [4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
        let fmspc = [0x90, 0xc0, 0x6f, 0, 0, 0];
        let pck_key = key();
        let pck = cert(
            "CN=Intel SGX PCK Certificate,O=Throwaway",
            PCK_CA,
            0x1234,
            &pck_key,
            &pck_ca_key,
            vec![sgx_extension(comps, 13, fmspc)],
        );
        Self {
            root,
            root_key,
            pck_ca,
            pck_ca_key,
            pck,
            pck_key,
            tcb_signing,
            tcb_key,
            comps,
            pce_svn: 13,
            fmspc,
        }
    }

    /// A v4 quote with `td_attributes` and TEE_TCB_SVN `[isvsvn, major, ...]`, QE ISVSVN `qe_svn`.
    fn quote(&self, td_attributes: u64, tee_tcb_svn: [u8; 16], qe_svn: u16) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend(4u16.to_le_bytes());
        q.extend(2u16.to_le_bytes());
        q.extend(0x81u32.to_le_bytes());
        q.extend([0; 4]);
        q.extend(tdx::abi::INTEL_QE_VENDOR_ID);
        q.extend([0; 20]);
        let mut body = vec![0u8; 584];
        body[..16].copy_from_slice(&tee_tcb_svn);
        body[120..128].copy_from_slice(&td_attributes.to_le_bytes());
        body[136..184].copy_from_slice(&[0x11; 48]); // MRTD
        body[520..584].copy_from_slice(&[0x22; 64]); // REPORTDATA
        q.extend(body);
        let att = key();
        let sig: Signature = att.sign(&q);
        let att_pub = att.verifying_key().to_sec1_point(false);
        let att_pub = &att_pub.as_bytes()[1..];
        let auth = [9u8; 32];
        let mut qe = [0u8; 384];
        qe[48] = 0x11; // ATTRIBUTES
        qe[128..160].copy_from_slice(&[0xdc; 32]); // MRSIGNER
        qe[256..258].copy_from_slice(&2u16.to_le_bytes());
        qe[258..260].copy_from_slice(&qe_svn.to_le_bytes());
        let mut h = Sha256::new();
        h.update(att_pub);
        h.update(auth);
        qe[320..352].copy_from_slice(&h.finalize());
        let qe_sig: Signature = self.pck_key.sign(&qe);
        let chain = format!("{}{}{}", pem(&self.pck), pem(&self.pck_ca), pem(&self.root));
        let mut cert_data = Vec::new();
        cert_data.extend(qe);
        cert_data.extend(qe_sig.to_bytes());
        cert_data.extend(32u16.to_le_bytes());
        cert_data.extend(auth);
        cert_data.extend(5u16.to_le_bytes());
        cert_data.extend((chain.len() as u32).to_le_bytes());
        cert_data.extend(chain.as_bytes());
        q.extend((134 + cert_data.len() as u32).to_le_bytes());
        q.extend(sig.to_bytes());
        q.extend(att_pub);
        q.extend(6u16.to_le_bytes());
        q.extend((cert_data.len() as u32).to_le_bytes());
        q.extend(cert_data);
        q
    }

    fn sign_json(&self, field: &str, object: &serde_json::Value) -> Vec<u8> {
        let text = object.to_string();
        let sig: Signature = self.tcb_key.sign(text.as_bytes());
        format!(
            "{{\"{field}\":{text},\"signature\":\"{}\"}}",
            hex::encode(sig.to_bytes())
        )
        .into_bytes()
    }

    /// Collateral with `levels` (each: SGX component SVNs, status, advisories), one TDX_01
    /// module level and QE levels.
    fn collateral(
        &self,
        levels: &[([u8; 16], &str, &[&str])],
        module_levels: &[(u16, &str)],
        qe_levels: &[(u16, &str)],
        revoked: &[&Cert],
    ) -> RawCollateral {
        let now = SystemTime::now();
        let issue = rfc3339(now - Duration::from_secs(86400));
        let next = rfc3339(now + Duration::from_secs(30 * 86400));
        let zero48 = "0".repeat(96);
        let comps = |c: &[u8; 16]| c.iter().map(|s| json!({"svn": s})).collect::<Vec<_>>();
        let tcb_info = json!({
            "id": "TDX", "version": 3, "issueDate": issue, "nextUpdate": next,
            "fmspc": hex::encode_upper(self.fmspc), "pceId": "0000", "tcbType": 0,
            "tcbEvaluationDataNumber": 42,
            "tdxModule": {"mrsigner": zero48, "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF"},
            "tdxModuleIdentities": [{
                "id": "TDX_01", "mrsigner": zero48, "attributes": "0000000000000000",
                "attributesMask": "FFFFFFFFFFFFFFFF",
                "tcbLevels": module_levels.iter().map(|(svn, st)| json!({
                    "tcb": {"isvsvn": svn}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": st
                })).collect::<Vec<_>>()
            }],
            "tcbLevels": levels.iter().map(|(c, st, adv)| json!({
                "tcb": {"sgxtcbcomponents": comps(c), "pcesvn": self.pce_svn,
                        "tdxtcbcomponents": comps(&[0; 16])},
                "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": st, "advisoryIDs": adv
            })).collect::<Vec<_>>()
        });
        let qe_identity = json!({
            "id": "TD_QE", "version": 2, "issueDate": issue, "nextUpdate": next,
            "tcbEvaluationDataNumber": 42, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": hex::encode_upper([0xdc; 32]), "isvprodid": 2,
            "tcbLevels": qe_levels.iter().map(|(svn, st)| json!({
                "tcb": {"isvsvn": svn}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": st,
                "advisoryIDs": if *st == "UpToDate" { vec![] } else { vec!["INTEL-SA-QE"] }
            })).collect::<Vec<_>>()
        });
        RawCollateral {
            tcb_info: self.sign_json("tcbInfo", &tcb_info),
            qe_identity: self.sign_json("enclaveIdentity", &qe_identity),
            tcb_signing_chain: format!("{}{}", pem(&self.tcb_signing), pem(&self.root))
                .into_bytes(),
            pck_crl: Some(crl(PCK_CA, &self.pck_ca_key, revoked)),
            root_ca_crl: Some(crl(ROOT, &self.root_key, &[])),
        }
    }

    fn opts(&self) -> VerifyOptions<'static> {
        VerifyOptions::at(SystemTime::now() + Duration::from_secs(60))
            .with_trusted_root(self.root.clone())
    }

    fn verify(
        &self,
        quote: &[u8],
        raw: &RawCollateral,
    ) -> Result<coco_evidence::Verified<tdx::TdxEvidence>, coco_evidence::EvidenceError> {
        let opts = self.opts();
        let c = tdx::verify_collateral(raw, &opts)?;
        tdx_verify(quote, Some(&c), &opts)
    }
}

const MODULE: [u8; 16] = [5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn up_to_date(w: &World) -> RawCollateral {
    w.collateral(
        &[(w.comps, "UpToDate", &[])],
        &[(5, "UpToDate")],
        &[(4, "UpToDate")],
        &[],
    )
}

#[test]
fn synthetic_evidence_verifies_only_under_its_root_named_explicitly() {
    let w = World::new();
    let q = w.quote(0, MODULE, 4);
    let raw = up_to_date(&w);
    let v = w.verify(&q, &raw).unwrap();
    assert_eq!(v.tcb.as_ref().unwrap().status, TcbStatus::UpToDate);
    assert!(v.revocation_checked);
    assert_eq!(tdx::claims::claims(&v)["mr_td"], hex::encode([0x11; 48]));

    // Default options trust Intel's pinned root alone: the throwaway root is rejected, for
    // the collateral and for the quote.
    let intel = VerifyOptions::at(SystemTime::now() + Duration::from_secs(60));
    let err = tdx::verify_collateral(&raw, &intel).unwrap_err();
    assert_eq!(err.kind(), "chain", "{err}");
    let err = tdx_verify(&q, None, &intel.clone().without_revocation_check()).unwrap_err();
    assert_eq!(err.kind(), "chain", "{err}");
    // Collateral verified under one root is not accepted for a quote checked under another.
    let c = tdx::verify_collateral(&raw, &w.opts()).unwrap();
    assert!(tdx_verify(&q, Some(&c), &intel).is_err());
}

#[test]
fn a_quote_under_a_wrong_root_fails() {
    let w = World::new();
    let other = World::new();
    let q = other.quote(0, MODULE, 4);
    let err = w.verify(&q, &up_to_date(&w)).unwrap_err();
    assert_eq!(err.kind(), "chain", "{err}");
}

#[test]
fn a_revoked_pck_fails() {
    let w = World::new();
    let q = w.quote(0, MODULE, 4);
    let raw = w.collateral(
        &[(w.comps, "UpToDate", &[])],
        &[(5, "UpToDate")],
        &[(4, "UpToDate")],
        &[&w.pck],
    );
    let err = w.verify(&q, &raw).unwrap_err();
    assert_eq!(err.kind(), "revoked", "{err}");
    assert!(
        matches!(&err, coco_evidence::EvidenceError::Revoked { serial, .. } if serial.contains("1234")),
        "{err}"
    );
    // A CRL signed by someone else than the PCK CA is refused outright.
    let mut forged = up_to_date(&w);
    forged.pck_crl = Some(crl(PCK_CA, &w.root_key, &[]));
    assert_eq!(w.verify(&q, &forged).unwrap_err().kind(), "signature");
}

#[test]
fn out_of_date_levels_report_their_status_and_advisories() {
    let w = World::new();
    let q = w.quote(0, MODULE, 4);
    let mut newer = w.comps;
    newer[7] += 1;
    let raw = w.collateral(
        &[
            (newer, "UpToDate", &[]),
            (w.comps, "OutOfDate", &["INTEL-SA-00837", "INTEL-SA-00615"]),
        ],
        &[(5, "UpToDate")],
        &[(4, "UpToDate")],
        &[],
    );
    let v = w.verify(&q, &raw).unwrap();
    let t = v.tcb.as_ref().unwrap();
    assert_eq!(t.status, TcbStatus::OutOfDate);
    assert_eq!(t.advisory_ids, ["INTEL-SA-00615", "INTEL-SA-00837"]);
    let c = tdx::claims::claims(&v);
    assert_eq!(c["tcb_status"], "OutOfDate");
    assert_eq!(
        c["advisory_ids"],
        json!(["INTEL-SA-00615", "INTEL-SA-00837"])
    );
}

#[test]
fn module_and_qe_levels_converge_into_the_final_status() {
    let w = World::new();
    let q = w.quote(0, MODULE, 4);
    // Module ISVSVN 5 is below the UpToDate level 6: OutOfDate.
    let raw = w.collateral(
        &[(w.comps, "ConfigurationNeeded", &[])],
        &[(6, "UpToDate"), (3, "OutOfDate")],
        &[(4, "UpToDate")],
        &[],
    );
    let t = w.verify(&q, &raw).unwrap().tcb.clone().unwrap();
    assert_eq!(t.module.as_ref().unwrap().1.status, TcbStatus::OutOfDate);
    assert_eq!(t.status, TcbStatus::OutOfDateConfigurationNeeded);
    // QE ISVSVN 4 below every QE level: Revoked, with the advisories of the platform level.
    let raw = w.collateral(
        &[(w.comps, "UpToDate", &[])],
        &[(5, "UpToDate")],
        &[(8, "UpToDate")],
        &[],
    );
    let t = w.verify(&q, &raw).unwrap().tcb.clone().unwrap();
    assert_eq!(t.qe.status, TcbStatus::Revoked);
    assert_eq!(t.status, TcbStatus::Revoked);
    // QE ISVSVN 4 at an OutOfDate QE level: OutOfDate, with the QE level's advisories.
    let raw = w.collateral(
        &[(w.comps, "UpToDate", &[])],
        &[(5, "UpToDate")],
        &[(6, "UpToDate"), (2, "OutOfDate")],
        &[],
    );
    let t = w.verify(&q, &raw).unwrap().tcb.clone().unwrap();
    assert_eq!(t.status, TcbStatus::OutOfDate);
    assert_eq!(t.advisory_ids, ["INTEL-SA-QE"]);
    // Module ISVSVN below every module level: no matching level.
    let raw = w.collateral(
        &[(w.comps, "UpToDate", &[])],
        &[(9, "UpToDate")],
        &[(4, "UpToDate")],
        &[],
    );
    assert_eq!(w.verify(&q, &raw).unwrap_err().kind(), "no_tcb_level");
    // Module major version 2 without a TDX_02 identity: no matching level.
    let q2 = w.quote(0, [5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 4);
    assert_eq!(
        w.verify(&q2, &up_to_date(&w)).unwrap_err().kind(),
        "no_tcb_level"
    );
}

#[test]
fn the_debug_bit_is_reported() {
    let w = World::new();
    let q = w.quote(1, MODULE, 4);
    let v = w.verify(&q, &up_to_date(&w)).unwrap();
    assert!(v.quote.body.debug());
    assert_eq!(tdx::claims::claims(&v)["debug"], true);
}

#[test]
fn crls_are_parsed_exactly() {
    let w = World::new();
    let raw = crl(PCK_CA, &w.pck_ca_key, &[&w.pck]);
    let c = coco_evidence::x509::Crl::from_der(&raw).unwrap();
    assert_eq!(c.len(), 1);
    assert!(c.is_revoked(&w.pck));
    assert!(!c.is_revoked(&w.pck_ca));
    c.verify_signed_by(&w.pck_ca).unwrap();
    assert!(c.verify_signed_by(&w.root).is_err());
    assert!(CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&raw).is_ok());
}
