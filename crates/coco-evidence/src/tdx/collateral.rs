//! Verification of Intel PCS collateral for TDX: the TCB signing chain, both JSON signatures
//! over their exact bytes, validity windows and the CRLs. [`verify_collateral`] checks every
//! signature once and returns a [`Verified<Collateral>`](crate::Verified) that can be cached
//! and reused for every quote of the same FMSPC; validity windows are checked again for each
//! quote at that quote's time ([`check_window`]).

use std::time::SystemTime;

use super::options::VerifyOptions;
use super::pcs::{
    Collateral, QeIdentity, QeIdentityBody, RawCollateral, TcbInfo, TcbInfoBody, coll, hex_n,
    window,
};
use super::roots::{check_issued_by_root, intel_root};
use crate::error::{ChainError, CollateralError, EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::{Cert, Crl, parse_certs_except, unix};

/// Checks Intel's JSON signature: ECDSA P-256/SHA-256, hex r‖s, over the exact bytes of the
/// signed object as they appear in the response body.
fn check_json_signature(signed: &str, sig_hex: &str, signer: &Cert, what: &str) -> Result<()> {
    let sig = hex::decode(sig_hex)
        .ok()
        .filter(|b| b.len() == 64)
        .ok_or_else(|| coll(what, "the signature is not 64 bytes of hex r||s"))?;
    signer.verify_ecdsa_fixed(signed.as_bytes(), &sig, what)
}

/// Fails unless `at` lies in `[issue, next]`.
pub(crate) fn check_window(w: (u64, u64), at: SystemTime, what: &str) -> Result<()> {
    let t = unix(at);
    if t < w.0 || t > w.1 {
        return Err(EvidenceError::Expired {
            cert: what.into(),
            at: t,
            not_before: w.0,
            not_after: w.1,
        });
    }
    Ok(())
}

/// Verifies collateral at `opts.at`: the TCB signing chain to the trusted root (pinned Intel
/// SGX Root CA unless the options name another explicitly), both JSON signatures over their
/// exact bytes, issue/next-update windows, the Root CA CRL (signature, window, TCB Signing
/// cert not revoked) and the PCK CRL's window. Missing CRLs are an error unless
/// `opts.check_revocation` is off.
pub fn verify_collateral(
    raw: &RawCollateral,
    opts: &VerifyOptions,
) -> Result<Verified<Collateral>> {
    let root = opts.root.clone().unwrap_or_else(|| intel_root().clone());

    let chain = parse_certs_except(&raw.tcb_signing_chain, Some(&root))?;
    let tcb_signing = tcb_signing_cert(&chain, &root, opts.at)?;

    let tcb_body: TcbInfoBody<'_> =
        serde_json::from_slice(&raw.tcb_info).map_err(|e| coll("tcb_info.json", e.to_string()))?;
    check_json_signature(
        tcb_body.tcb_info.get(),
        &tcb_body.signature,
        tcb_signing,
        "TCB Info",
    )?;
    let tcb_info: TcbInfo = serde_json::from_str(tcb_body.tcb_info.get())
        .map_err(|e| coll("tcb_info.json", format!("tcbInfo: {e}")))?;
    if tcb_info.id != "TDX" || tcb_info.version != 3 {
        return Err(coll(
            "tcb_info.json",
            format!(
                "TCB Info is id {:?} version {}; TDX needs id \"TDX\" version 3",
                tcb_info.id, tcb_info.version
            ),
        ));
    }
    for (i, l) in tcb_info.tcb_levels.iter().enumerate() {
        if l.tcb.sgxtcbcomponents.len() != 16 || l.tcb.tdxtcbcomponents.len() != 16 {
            return Err(coll(
                "tcb_info.json",
                format!(
                    "TCB Info level {i} has {} SGX and {} TDX components, not 16 each",
                    l.tcb.sgxtcbcomponents.len(),
                    l.tcb.tdxtcbcomponents.len()
                ),
            ));
        }
    }
    let fmspc = hex_n::<6>(&tcb_info.fmspc, "TCB Info fmspc")?;
    let tcb_info_window = window(&tcb_info.issue_date, &tcb_info.next_update, "TCB Info")?;
    check_window(tcb_info_window, opts.at, "TCB Info")?;

    let (qe_identity, qe_identity_window) =
        check_qe_identity(&raw.qe_identity, tcb_signing, opts.at)?;

    let root_ca_crl = raw.root_ca_crl.as_deref().map(Crl::from_der).transpose()?;
    let pck_crl = raw.pck_crl.as_deref().map(Crl::from_der).transpose()?;
    if opts.check_revocation {
        let missing: Vec<&str> = [
            ("pck_crl.der", pck_crl.is_none()),
            ("root_ca_crl.der", root_ca_crl.is_none()),
        ]
        .into_iter()
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
        if !missing.is_empty() {
            return Err(EvidenceError::Collateral(
                CollateralError::RevocationMissing {
                    missing: missing.iter().map(|m| m.to_string()).collect(),
                },
            ));
        }
    }
    if let Some(crl) = &root_ca_crl {
        crl.verify_signed_by(&root)?;
        crl.check_window(opts.at, "Root CA CRL")?;
        if crl.is_revoked(tcb_signing) {
            return Err(EvidenceError::Revoked {
                cert: format!("TCB Signing ({})", tcb_signing.subject_cn()),
                serial: tcb_signing.serial_hex(),
            });
        }
    }
    if let Some(crl) = &pck_crl {
        crl.check_window(opts.at, "PCK CRL")?;
    }
    Ok(Verified::new(Collateral {
        tcb_info,
        qe_identity,
        tcb_signing: tcb_signing.clone(),
        root,
        pck_crl,
        root_ca_crl,
        fmspc,
        tcb_info_window,
        qe_identity_window,
    }))
}

/// The TCB Signing certificate of `chain` at `at`: a certificate issued by `root` (Intel
/// re-issued it in 2025 with the same key and serial: an edition valid at `at` is picked),
/// whose signature by `root` verifies; and `root` valid at `at`.
fn tcb_signing_cert<'a>(chain: &'a [Cert], root: &Cert, at: SystemTime) -> Result<&'a Cert> {
    let candidates: Vec<&Cert> = chain
        .iter()
        .filter(|c| {
            *c != root
                && c.inner().tbs_certificate().issuer() == root.inner().tbs_certificate().subject()
        })
        .collect();
    let first = candidates.first().ok_or_else(|| {
        EvidenceError::Chain(ChainError::NoneIssuedByRoot {
            chain: "TCB signing chain".into(),
            root: root.subject_cn(),
            certs: chain.iter().map(Cert::subject_cn).collect(),
        })
    })?;
    let tcb_signing = candidates
        .iter()
        .find(|c| c.check_validity(at, "TCB Signing").is_ok())
        .copied()
        .map_or_else(
            || first.check_validity(at, "TCB Signing").map(|_| *first),
            Ok,
        )?;
    check_issued_by_root(tcb_signing, root).map_err(|e| {
        EvidenceError::Chain(ChainError::NotSignedByRoot {
            cert: tcb_signing.subject_cn(),
            root: root.subject_cn(),
            reason: e.to_string(),
        })
    })?;
    root.check_validity(at, "root CA")?;

    Ok(tcb_signing)
}

/// Checks a QE Identity document (`qe_identity.json` as the PCS serves it) signed by `signer`:
/// the signature over the exact bytes, id `TD_QE` version 2, and its window at `at`.
fn check_qe_identity(
    raw: &[u8],
    signer: &Cert,
    at: SystemTime,
) -> Result<(QeIdentity, (u64, u64))> {
    let qe_body: QeIdentityBody<'_> =
        serde_json::from_slice(raw).map_err(|e| coll("qe_identity.json", e.to_string()))?;
    check_json_signature(
        qe_body.enclave_identity.get(),
        &qe_body.signature,
        signer,
        "QE Identity",
    )?;
    let qe_identity: QeIdentity = serde_json::from_str(qe_body.enclave_identity.get())
        .map_err(|e| coll("qe_identity.json", format!("enclaveIdentity: {e}")))?;
    if qe_identity.id != "TD_QE" || qe_identity.version != 2 {
        return Err(coll(
            "qe_identity.json",
            format!(
                "QE Identity is id {:?} version {}; TDX needs id \"TD_QE\" version 2",
                qe_identity.id, qe_identity.version
            ),
        ));
    }
    let qe_identity_window = window(
        &qe_identity.issue_date,
        &qe_identity.next_update,
        "QE Identity",
    )?;
    check_window(qe_identity_window, at, "QE Identity")?;

    Ok((qe_identity, qe_identity_window))
}

/// Verifies a QE Identity document on its own (a caching service asked for it before any
/// TCB Info): `tcb_signing_chain` (PEM, the issuer chain the PCS sends beside it) to the
/// trusted root, the signature over the exact bytes, id and version, and the window at
/// `opts.at`. Returns the window `(issueDate, nextUpdate)` in Unix seconds.
pub fn verify_qe_identity(
    qe_identity: &[u8],
    tcb_signing_chain: &[u8],
    opts: &VerifyOptions,
) -> Result<(u64, u64)> {
    let root = opts.root.clone().unwrap_or_else(|| intel_root().clone());
    let chain = parse_certs_except(tcb_signing_chain, Some(&root))?;
    let signer = tcb_signing_cert(&chain, &root, opts.at)?;
    Ok(check_qe_identity(qe_identity, signer, opts.at)?.1)
}
