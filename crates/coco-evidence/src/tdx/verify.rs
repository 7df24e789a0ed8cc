//! Verification of a TDX quote: the PCK chain to the pinned Intel SGX Root CA, the QE report
//! signed by the PCK key, the QE report binding the attestation key, the quote signed by the
//! attestation key; with collateral, revocation and the TCB status.

use sha2::{Digest, Sha256};

use super::abi::Quote;
use super::cache::ChainCache;
use super::collateral::check_window;
use super::options::VerifyOptions;
use super::pck::{PckExtensions, SGX_EXTENSION};
use super::pcs::hex_n;
use super::roots::{check_issued_by_root, intel_root};
use super::tcb::{TcbEvaluation, evaluate};
use crate::crypto::{self, Scheme};
use crate::error::{ChainError, CollateralError, EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::{Cert, parse_certs_except};

/// A quote whose signatures, chain, binding and (with collateral) TCB status were checked.
#[derive(Debug, Clone)]
pub struct TdxEvidence {
    /// The quote.
    pub quote: Quote,
    /// The PCK leaf certificate.
    pub pck: Cert,
    /// The PCK CA (Platform or Processor CA).
    pub pck_ca: Cert,
    /// The trusted root the chain ends in.
    pub root: Cert,
    /// The PCK certificate's SGX extensions.
    pub pck_extensions: PckExtensions,
    /// The TCB evaluation; `None` when verified without collateral.
    pub tcb: Option<TcbEvaluation>,
    /// Whether the PCK and its CA were checked against both CRLs.
    pub revocation_checked: bool,
}

/// Verifies a parsed quote, with verified collateral when available. Without collateral only
/// signatures, chain and binding are checked (`tcb` is `None`), and revocation cannot be
/// checked: that is an error unless `opts.check_revocation` is off.
pub fn verify(quote: Quote, opts: &VerifyOptions<'_>) -> Result<Verified<TdxEvidence>> {
    let (collateral, cache) = (opts.collateral, opts.cache);
    let root = opts.root.as_ref().unwrap_or_else(|| intel_root());
    if let Some(c) = collateral
        && c.root != *root
    {
        return Err(EvidenceError::Chain(ChainError::CollateralRoot {
            verified_under: c.root.subject_cn(),
            trusted: root.subject_cn(),
        }));
    }

    // The PCK chain carried in the quote: the leaf is the certificate with the SGX
    // extension, its CA the certificate naming it; a root in the input is ignored.
    let certs = parse_certs_except(&quote.pck_chain, Some(root)).map_err(|e| {
        EvidenceError::Certificate {
            cert: "PCK chain in the quote".into(),
            reason: e.to_string(),
        }
    })?;
    let pck = certs
        .iter()
        .find(|c| c.extension(&SGX_EXTENSION).is_some())
        .ok_or_else(|| EvidenceError::Certificate {
            cert: "PCK".into(),
            reason: format!(
                "none of the {} certificates in the quote has the SGX extension",
                certs.len()
            ),
        })?;
    let pck_ca = certs
        .iter()
        .find(|c| {
            *c != pck
                && c.inner().tbs_certificate().subject() == pck.inner().tbs_certificate().issuer()
        })
        .ok_or_else(|| EvidenceError::Certificate {
            cert: "PCK CA".into(),
            reason: format!(
                "the PCK's issuer {:?} is not in the quote's chain",
                pck.issuer_cn()
            ),
        })?;
    // Whatever else the quote carries must be the trusted root itself, byte for byte: a
    // chain naming another root (or a corrupted copy of it) is not Intel's chain.
    if let Some(other) = certs
        .iter()
        .find(|c| *c != pck && *c != pck_ca && *c != root)
    {
        return Err(EvidenceError::Chain(ChainError::UntrustedRoot {
            chain: "the quote's PCK chain".into(),
            found: other.subject_cn(),
            fingerprint: other.fingerprint(),
            trusted: root.subject_cn(),
        }));
    }
    let key = cache.map(|_| ChainCache::key(&[pck, pck_ca, root], b"pck chain"));
    if !cache.zip(key.as_ref()).is_some_and(|(c, k)| c.contains(k)) {
        check_issued_by_root(pck_ca, root).map_err(|e| {
            EvidenceError::Chain(ChainError::NotSignedByRoot {
                cert: pck_ca.subject_cn(),
                root: root.subject_cn(),
                reason: e.to_string(),
            })
        })?;
        pck.verify_signed_by(pck_ca, None)?;
        if let Some((c, k)) = cache.zip(key) {
            c.insert(k);
        }
    }
    root.check_validity(opts.at, "root CA")?;
    pck_ca.check_validity(opts.at, "PCK CA")?;
    pck.check_validity(opts.at, "PCK")?;

    // Revocation.
    let mut revocation_checked = false;
    if let Some(c) = collateral {
        if let Some(crl) = &c.pck_crl {
            let key = cache.map(|_| ChainCache::key(&[pck_ca], crl.der()));
            if !cache.zip(key.as_ref()).is_some_and(|(c, k)| c.contains(k)) {
                crl.verify_signed_by(pck_ca)?;
                if let Some((c, k)) = cache.zip(key) {
                    c.insert(k);
                }
            }
            crl.check_window(opts.at, "PCK CRL")?;
            if crl.is_revoked(pck) {
                return Err(EvidenceError::Revoked {
                    cert: format!("PCK ({})", pck.subject_cn()),
                    serial: pck.serial_hex(),
                });
            }
        }
        if let Some(crl) = &c.root_ca_crl {
            crl.check_window(opts.at, "Root CA CRL")?;
            if crl.is_revoked(pck_ca) {
                return Err(EvidenceError::Revoked {
                    cert: format!("PCK CA ({})", pck_ca.subject_cn()),
                    serial: pck_ca.serial_hex(),
                });
            }
        }
        revocation_checked = c.pck_crl.is_some() && c.root_ca_crl.is_some();
    }
    if opts.check_revocation && !revocation_checked {
        return Err(EvidenceError::Collateral(
            CollateralError::RevocationMissing {
                missing: vec!["pck_crl.der".into(), "root_ca_crl.der".into()],
            },
        ));
    }

    // The QE report, signed by the PCK key, binds the attestation key.
    pck.verify_ecdsa_fixed(
        &quote.qe_report.raw,
        &quote.qe_report_signature,
        "QE report",
    )?;
    let mut h = Sha256::new();
    h.update(quote.attestation_key);
    h.update(&quote.qe_auth_data);
    let binding: [u8; 32] = h.finalize().into();
    if quote.qe_report.report_data[..32] != binding
        || quote.qe_report.report_data[32..].iter().any(|&b| b != 0)
    {
        return Err(EvidenceError::Mismatch {
            what: "QE report REPORTDATA vs. SHA-256(attestation key || QE auth data) || zeros"
                .into(),
            evidence: hex::encode(quote.qe_report.report_data),
            endorsement: hex::encode(binding),
        });
    }

    // The quote, signed by the attestation key.
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(&quote.attestation_key);
    if !crypto::verify(
        Scheme::P256Fixed,
        &sec1,
        quote.signed_bytes(),
        &quote.signature,
    ) {
        return Err(EvidenceError::signature(
            "TDX quote by the attestation key",
            crate::error::SignatureCause::Invalid,
        ));
    }

    // The platform and its TCB status.
    let pck_extensions = PckExtensions::from_cert(pck)?;
    let tcb = match collateral {
        None => None,
        Some(c) => {
            if c.fmspc != pck_extensions.fmspc {
                return Err(EvidenceError::Mismatch {
                    what: "FMSPC of the PCK vs. TCB Info".into(),
                    evidence: hex::encode(pck_extensions.fmspc),
                    endorsement: c.tcb_info.fmspc.to_ascii_lowercase(),
                });
            }
            let pce_id = hex_n::<2>(&c.tcb_info.pce_id, "TCB Info pceId")?;
            if pce_id != pck_extensions.pce_id {
                return Err(EvidenceError::Mismatch {
                    what: "PCE-ID of the PCK vs. TCB Info".into(),
                    evidence: hex::encode(pck_extensions.pce_id),
                    endorsement: c.tcb_info.pce_id.to_ascii_lowercase(),
                });
            }
            check_window(c.tcb_info_window, opts.at, "TCB Info")?;
            check_window(c.qe_identity_window, opts.at, "QE Identity")?;
            Some(evaluate(&quote.body, &quote.qe_report, &pck_extensions, c)?)
        }
    };

    Ok(Verified::new(TdxEvidence {
        pck: pck.clone(),
        pck_ca: pck_ca.clone(),
        root: root.clone(),
        quote,
        pck_extensions,
        tcb,
        revocation_checked,
    }))
}
