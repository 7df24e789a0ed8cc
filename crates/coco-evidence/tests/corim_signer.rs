//! The signer of a TCG-era NVIDIA CoRIM, named only by URL and thumbprint: a certificate chain
//! is its signer when the leaf's thumbprint matches and the chain leads to the trusted root,
//! and the CoRIM then verifies under the leaf's key. Synthetic documents under a throwaway
//! root (the real sample's signer certificate is not published beside it); the pinned NVIDIA
//! root refuses them.

use std::time::SystemTime;

use ciborium::Value;
use coco_core::corim::DecodeOptions;
use coco_core::corim::cose::{self, SignedCorim};
use coco_core::keys::SigningKey;
use coco_evidence::EvidenceError;
use coco_evidence::nvidia::corim_signer::signer_key;
use coco_evidence::nvidia::roots;
use coco_evidence::sim::ocsp::{CertKind, issue};
use coco_evidence::x509::Cert;
use sha2::Digest;

fn p384() -> p384::ecdsa::SigningKey {
    let mut seed = [0u8; 48];
    loop {
        getrandom::fill(&mut seed).unwrap();
        if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&seed) {
            return k;
        }
    }
}

const HREF: &str = "https://docs.example/certs/corim/signer.pem";

struct Pki {
    root: Cert,
    ica: Cert,
    leaf: Cert,
    leaf_key: p384::ecdsa::SigningKey,
    other_leaf: Cert,
}

fn pki() -> Pki {
    let (root_key, ica_key, leaf_key, other_key) = (p384(), p384(), p384(), p384());
    let root = issue(
        "CN=Test CoRIM Root",
        "CN=Test CoRIM Root",
        1,
        &root_key,
        &root_key,
        CertKind::Ca,
    )
    .unwrap();
    let ica = issue(
        "CN=Test CoRIM CA",
        "CN=Test CoRIM Root",
        2,
        &ica_key,
        &root_key,
        CertKind::Ca,
    )
    .unwrap();
    let leaf = issue(
        "CN=Test CoRIM Signer",
        "CN=Test CoRIM CA",
        3,
        &leaf_key,
        &ica_key,
        CertKind::EndEntity,
    )
    .unwrap();
    let other_leaf = issue(
        "CN=Test CoRIM Signer 2",
        "CN=Test CoRIM CA",
        4,
        &other_key,
        &ica_key,
        CertKind::EndEntity,
    )
    .unwrap();
    Pki {
        root,
        ica,
        leaf,
        leaf_key,
        other_leaf,
    }
}

fn pem(certs: &[&Cert]) -> Vec<u8> {
    certs
        .iter()
        .map(|c| c.to_pem())
        .collect::<String>()
        .into_bytes()
}

/// A CoRIM naming its signer by [`HREF`] and the SHA-256 of `signer`'s DER, signed with `key`
/// and wrapped as NVIDIA's RIM service sends it: 500(502(18(...))).
fn tcg_era_corim(signer: &Cert, key: &p384::ecdsa::SigningKey) -> Vec<u8> {
    let built = coco_core::profile::build::build(
        "id = \"signer-test\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"abababababababababababababababababababababababababababababababababababababababababababababababab\"]\n",
    )
    .unwrap();
    let mut v: Value = ciborium::from_reader(built.as_slice()).unwrap();
    let Value::Tag(501, inner) = &mut v else {
        panic!("not 501")
    };
    let Value::Map(m) = inner.as_mut() else {
        panic!("not a map")
    };
    m.push((
        Value::Integer(2.into()),
        Value::Array(vec![Value::Map(vec![
            (Value::Integer(0.into()), Value::Text(HREF.into())),
            (
                Value::Integer(1.into()),
                Value::Array(vec![
                    Value::Integer(1.into()),
                    Value::Bytes(sha2::Sha256::digest(signer.der()).to_vec()),
                ]),
            ),
        ])]),
    ));
    let mut corim = Vec::new();
    ciborium::into_writer(&v, &mut corim).unwrap();
    let signed = cose::sign(
        &corim,
        &SigningKey::from_p384(key.clone()).unwrap(),
        "NVIDIA",
        None,
    )
    .unwrap();
    [&[0xd9, 0x01, 0xf4, 0xd9, 0x01, 0xf6][..], &signed].concat()
}

fn decode(bytes: &[u8]) -> SignedCorim {
    SignedCorim::decode(
        bytes,
        &DecodeOptions {
            legacy: true,
            bare_text_profile: true,
        },
    )
    .unwrap()
}

#[test]
fn the_thumbprinted_certificate_under_the_root_is_the_signer() {
    let p = pki();
    let s = decode(&tcg_era_corim(&p.leaf, &p.leaf_key));
    let loc = &s.corim.dependent_rims[0];
    assert_eq!(loc.href, HREF);
    let thumb = loc.thumbprint.as_ref().unwrap();
    let now = SystemTime::now();
    let (key, cert) = signer_key(&pem(&[&p.leaf, &p.ica]), thumb, &p.root, now).unwrap();
    assert_eq!(cert.subject_cn(), "Test CoRIM Signer");
    s.verify(std::slice::from_ref(&key), coco_core::time::unix(now))
        .unwrap();
    // The chain in any order, root included: the same.
    signer_key(&pem(&[&p.leaf, &p.root, &p.ica]), thumb, &p.root, now).unwrap();
}

#[test]
fn another_certificate_root_or_key_is_refused() {
    let p = pki();
    let now = SystemTime::now();
    let s = decode(&tcg_era_corim(&p.leaf, &p.leaf_key));
    let thumb = s.corim.dependent_rims[0].thumbprint.clone().unwrap();
    // Another certificate of the same CA: not the thumbprinted one.
    let e = signer_key(&pem(&[&p.other_leaf, &p.ica]), &thumb, &p.root, now).unwrap_err();
    assert!(
        matches!(&e, EvidenceError::Mismatch { what, .. } if what.contains("thumbprint")),
        "{e}"
    );
    // The right certificate, but the pinned NVIDIA root: it does not chain.
    let e = signer_key(&pem(&[&p.leaf, &p.ica]), &thumb, roots::rim_root(), now).unwrap_err();
    assert_eq!(e.kind(), "chain", "{e}");
    // Without its CA.
    let e = signer_key(&pem(&[&p.leaf]), &thumb, &p.root, now).unwrap_err();
    assert_eq!(e.kind(), "chain", "{e}");
    // An unknown thumbprint algorithm.
    let e = signer_key(
        &pem(&[&p.leaf, &p.ica]),
        &(99, thumb.1.clone()),
        &p.root,
        now,
    )
    .unwrap_err();
    assert_eq!(e.kind(), "certificate", "{e}");
    // A CoRIM naming the certificate but signed by another key does not verify under it.
    let forged = decode(&tcg_era_corim(&p.leaf, &p384()));
    let (key, _) = signer_key(&pem(&[&p.leaf, &p.ica]), &thumb, &p.root, now).unwrap();
    assert!(
        forged
            .verify(std::slice::from_ref(&key), coco_core::time::unix(now))
            .is_err()
    );
}
