//! Synthetic evidence under throwaway roots generated here: a complete, internally valid
//! ARK -> ASK -> VCEK -> report chain must still fail, because its ARK is not pinned.

mod common;

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use coco_evidence::EvidenceError;
use coco_evidence::snp::{self, VerifyOptions};
use coco_evidence::x509::Cert;
use common::*;
use der::Encode;
use der::asn1::{Ia5StringRef, ObjectIdentifier, OctetString};
use p384::ecdsa::signature::Signer;
use rand_core::UnwrapErr;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use coco_evidence::sim::CertProfile as Profile;

fn amd_ext(suffix: &str, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::from_str(&format!("1.3.6.1.4.1.3704.1.{suffix}")).unwrap(),
        critical: false,
        extn_value: OctetString::new(value).unwrap(),
    }
}

fn int(v: u8) -> Vec<u8> {
    u32::from(v).to_der().unwrap()
}

fn build(
    subject: &str,
    issuer: &str,
    spki: SubjectPublicKeyInfoOwned,
    extensions: Vec<Extension>,
    signer: &rsa::pss::SigningKey<sha2::Sha384>,
) -> Cert {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let profile = Profile {
        subject: Name::from_str(subject).unwrap(),
        issuer: Name::from_str(issuer).unwrap(),
        extensions,
    };
    let validity = Validity::from_now(Duration::from_secs(365 * 86400)).unwrap();
    let builder =
        CertificateBuilder::new(profile, SerialNumber::from(1u32), validity, spki).unwrap();
    let cert = builder
        .build_with_rng::<_, rsa::pss::Signature, _>(signer, &mut rng)
        .unwrap();
    Cert::from_der(&cert.to_der().unwrap()).unwrap()
}

fn rsa_key() -> (
    rsa::pss::SigningKey<sha2::Sha384>,
    SubjectPublicKeyInfoOwned,
) {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let spki = SubjectPublicKeyInfoOwned::from_key(&key.to_public_key()).unwrap();
    (rsa::pss::SigningKey::<sha2::Sha384>::new(key), spki)
}

type PssKey = rsa::pss::SigningKey<sha2::Sha384>;

/// A throwaway ARK-Milan (self-signed) and the ASK it signs, with their keys.
fn throwaway_ark_and_ask() -> (PssKey, Cert, PssKey, Cert) {
    let (ark_signer, ark_spki) = rsa_key();
    let ark = build(
        "CN=ARK-Milan",
        "CN=ARK-Milan",
        ark_spki,
        vec![],
        &ark_signer,
    );
    let (ask_signer, ask_spki) = rsa_key();
    let ask = build(
        "CN=SEV-Milan",
        "CN=ARK-Milan",
        ask_spki,
        vec![],
        &ark_signer,
    );
    (ark_signer, ark, ask_signer, ask)
}

#[test]
fn a_complete_chain_under_a_throwaway_ark_is_rejected() {
    // A real Milan report, re-signed below by our own VCEK.
    let s = vectors().join("snp/milan-v2-virtee-sev");
    let mut report = std::fs::read(s.join("report.bin")).unwrap();

    let (_, ark, ask_signer, ask) = throwaway_ark_and_ask();

    let mut seed = [0u8; 48];
    getrandom::fill(&mut seed).unwrap();
    seed[0] &= 0x7f;
    let vcek_key = p384::ecdsa::SigningKey::from_slice(&seed).unwrap();
    let vcek_spki = SubjectPublicKeyInfoOwned::from_key(vcek_key.verifying_key()).unwrap();
    let tcb = &report[0x180..0x188];
    let extensions = vec![
        amd_ext(
            "2",
            Ia5StringRef::new("Milan-B0").unwrap().to_der().unwrap(),
        ),
        amd_ext("3.1", int(tcb[0])),
        amd_ext("3.2", int(tcb[1])),
        amd_ext("3.3", int(tcb[6])),
        amd_ext("3.8", int(tcb[7])),
        amd_ext("4", report[0x1A0..0x1E0].to_vec()),
    ];
    let vcek = build(
        "CN=SEV-VCEK",
        "CN=SEV-Milan",
        vcek_spki,
        extensions,
        &ask_signer,
    );

    // Re-sign the report with our VCEK: r and s little-endian, 72 bytes each.
    let sig: p384::ecdsa::Signature = vcek_key.sign(&report[..0x2A0]);
    let (r, s_) = sig.split_bytes();
    for (off, part) in [(0x2A0, r), (0x2E8, s_)] {
        let mut le = part.to_vec();
        le.reverse();
        report[off..off + 48].copy_from_slice(&le);
    }

    // Every link of the synthetic chain is itself valid ...
    ark.verify_signed_by(&ark, None).unwrap();
    ask.verify_signed_by(&ark, None).unwrap();
    vcek.verify_signed_by(&ask, None).unwrap();
    // ... yet the chain is refused: the ARK is not one of AMD's pinned roots, and an ARK in
    // the input is never trusted.
    let opts = VerifyOptions::at(SystemTime::now() + Duration::from_secs(60));
    let err = snp_verify(&report, &[vcek.clone(), ask.clone(), ark.clone()], &opts).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::Chain(coco_evidence::ChainError::NotSignedByRoot { ref root, .. })
                if root == "ARK-Milan"
        ),
        "{err}"
    );
    // With the real AMD chain instead, our VCEK is not signed by the real ASK.
    let mut real = coco_evidence::x509::load_certs(&s.join("cert_chain.pem")).unwrap();
    real.push(vcek);
    assert!(snp_verify(&report, &real, &opts).is_err());
}

/// AMD's CRL under a throwaway ARK (the real CRL is not among the vectors; the pinned-ARK
/// wiring is tested in snp_vectors): a listed ASK or VCEK fails, a CRL signed by another key
/// or out of its window fails, a clean one passes.
#[test]
fn a_revoked_ask_or_vcek_fails_the_crl_check() {
    use rsa::signature::{RandomizedSigner, SignatureEncoding};
    let (ark_signer, ark, ask_signer, ask) = throwaway_ark_and_ask();
    let (_, vcek_spki) = rsa_key();
    let vcek = build(
        "CN=SEV-VCEK",
        "CN=SEV-Milan",
        vcek_spki,
        vec![],
        &ask_signer,
    );
    let month = Duration::from_secs(30 * 86400);
    let crl = |signer: &rsa::pss::SigningKey<sha2::Sha384>, revoked: &[&Cert]| {
        let der = common::crl(
            ark.inner().tbs_certificate().subject(),
            "1.2.840.113549.1.1.10",
            |tbs| {
                let mut rng = UnwrapErr(getrandom::SysRng);
                signer.sign_with_rng(&mut rng, tbs).to_vec()
            },
            revoked,
            month,
        );
        coco_evidence::x509::Crl::from_der(&der).unwrap()
    };
    let now = SystemTime::now();
    let certs = [(&ask, "ASK"), (&vcek, "VCEK")];
    snp::verify::check_crl(&crl(&ark_signer, &[]), &ark, now, &certs).unwrap();
    for revoked in [&ask, &vcek] {
        let e =
            snp::verify::check_crl(&crl(&ark_signer, &[revoked]), &ark, now, &certs).unwrap_err();
        assert!(matches!(e, EvidenceError::Revoked { .. }), "{e}");
    }
    let e = snp::verify::check_crl(&crl(&ask_signer, &[]), &ark, now, &certs).unwrap_err();
    assert!(matches!(e, EvidenceError::Signature { .. }), "{e}");
    let e =
        snp::verify::check_crl(&crl(&ark_signer, &[]), &ark, now + 2 * month, &certs).unwrap_err();
    assert!(matches!(e, EvidenceError::Expired { .. }), "{e}");
}
