//! The signer of NVIDIA's TCG-era CoRIMs (the RIM service's NIC/DPU firmware reference values):
//! such a document names its signer's certificate only by URL and thumbprint (a corim-locator
//! in `dependent-rims`). A certificate chain fetched from that URL (PEM, leaf first) is the
//! signer when the hash of its leaf's DER, with the thumbprint's algorithm, is the thumbprint
//! and the chain leads to NVIDIA's pinned CoRIM signing root ([`roots::rim_root`]); the leaf's
//! key is then the one key the CoRIM may verify under.
//!
//! [`roots::rim_root`]: super::roots::rim_root

use std::time::SystemTime;

use coco_core::keys::PublicKey;
use der::Encode;
use sha2::Digest;

use crate::error::{EvidenceError, Result};
use crate::x509::{Cert, build_chain, parse_certs};

/// The hash of a thumbprint's algorithm id (IANA Named Information Hash Algorithm Registry:
/// 1 SHA-256, 7 SHA-384, 8 SHA-512), or `None` for another.
fn digest(alg: i64, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        1 => sha2::Sha256::digest(data).to_vec(),
        7 => sha2::Sha384::digest(data).to_vec(),
        8 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// The signer key of a CoRIM whose locator gives `thumbprint` (`(algorithm, digest)`), from
/// the certificate chain `pem` (leaf first) checked against `root` at `at`. Returns the key and
/// the signer's certificate.
pub fn signer_key(
    pem: &[u8],
    thumbprint: &(i64, Vec<u8>),
    root: &Cert,
    at: SystemTime,
) -> Result<(PublicKey, Cert)> {
    let certs = parse_certs(pem)?;
    let leaf = certs.first().ok_or_else(|| EvidenceError::Certificate {
        cert: "CoRIM signer".into(),
        reason: "no certificate given".into(),
    })?;
    let (alg, expected) = thumbprint;
    let got = digest(*alg, leaf.der()).ok_or_else(|| EvidenceError::Certificate {
        cert: "CoRIM signer".into(),
        reason: format!("thumbprint algorithm {alg} (SHA-256 = 1, SHA-384 = 7, SHA-512 = 8)"),
    })?;
    if got != *expected {
        return Err(EvidenceError::Mismatch {
            what: format!(
                "CoRIM signer certificate {:?} thumbprint",
                leaf.subject_cn()
            ),
            evidence: hex::encode(&got),
            endorsement: hex::encode(expected),
        });
    }
    let chain = build_chain(&certs, root, at, "CoRIM signer", None)?;
    if chain[0] != *leaf {
        return Err(EvidenceError::Certificate {
            cert: "CoRIM signer".into(),
            reason: format!(
                "the thumbprinted certificate {:?} is not the chain's leaf ({:?})",
                leaf.subject_cn(),
                chain[0].subject_cn()
            ),
        });
    }
    let spki = leaf
        .inner()
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| EvidenceError::Certificate {
            cert: leaf.subject_cn(),
            reason: format!("public key: {e}"),
        })?;
    let key = PublicKey::from_spki_der(&spki).map_err(|e| EvidenceError::Certificate {
        cert: leaf.subject_cn(),
        reason: format!("public key: {e}"),
    })?;
    Ok((key, leaf.clone()))
}
