//! Intel PCS collateral for TDX: TCB Info v3, QE Identity v2, the TCB signing chain, the PCK
//! CRL and the Root CA CRL.
//!
//! [`RawCollateral`] holds the bytes (read from a directory laid out as DESIGN §4 says);
//! [`verify_collateral`] checks every signature once and returns a
//! [`Verified<Collateral>`](crate::Verified) that can be cached and reused for every quote of
//! the same FMSPC. Validity windows are checked again for each quote at that quote's time.

use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::options::VerifyOptions;
use super::roots::{check_issued_by_root, intel_root};
use crate::error::{ChainError, CollateralError, EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::{Cert, Crl, parse_certs_except, unix};

/// Intel's TCB status names (one type shared with appraisal).
pub use coco_core::claims::TcbStatus;

/// One TCB component SVN of a TCB level. (Intel's informational `category` and `type` are
/// not kept: the algorithm compares SVNs only, and skipping them spares hundreds of string
/// allocations per TCB Info.)
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TcbComponent {
    /// The SVN.
    pub svn: u8,
}

/// The SVNs of a platform TCB level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlatformTcb {
    /// The 16 SGX TCB components.
    pub sgxtcbcomponents: Vec<TcbComponent>,
    /// PCESVN.
    pub pcesvn: u16,
    /// The 16 TDX TCB components (compared with TEE_TCB_SVN).
    pub tdxtcbcomponents: Vec<TcbComponent>,
}

/// A platform TCB level of TCB Info.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbLevel {
    /// The SVNs.
    pub tcb: PlatformTcb,
    /// The level's date.
    pub tcb_date: String,
    /// Its status.
    pub tcb_status: TcbStatus,
    /// Security advisories that apply.
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

/// An ISVSVN threshold (TDX module identity or QE identity level).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IsvSvn {
    /// The ISVSVN.
    pub isvsvn: u16,
}

/// A TCB level keyed by ISVSVN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsvTcbLevel {
    /// The threshold.
    pub tcb: IsvSvn,
    /// The level's date.
    pub tcb_date: String,
    /// Its status.
    pub tcb_status: TcbStatus,
    /// Security advisories that apply.
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

/// The TDX module's expected signer and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    /// Expected MRSIGNERSEAM (hex).
    pub mrsigner: String,
    /// Expected SEAMATTRIBUTES (hex).
    pub attributes: String,
    /// Mask applied to SEAMATTRIBUTES before comparing (hex).
    pub attributes_mask: String,
}

/// A TDX module identity (`TDX_01`, `TDX_03`, ...) with its own TCB levels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    /// `TDX_` and the module's major version in hex.
    pub id: String,
    /// Expected MRSIGNERSEAM (hex).
    pub mrsigner: String,
    /// Expected SEAMATTRIBUTES (hex).
    pub attributes: String,
    /// Mask applied to SEAMATTRIBUTES (hex).
    pub attributes_mask: String,
    /// Levels by module ISVSVN, newest first.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// TDX TCB Info (Intel PCS v4 `tcbInfo`, version 3, id "TDX").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    /// "TDX".
    pub id: String,
    /// 3.
    pub version: u32,
    /// Issue date (RFC 3339).
    pub issue_date: String,
    /// Next update (RFC 3339): the collateral is stale after it.
    pub next_update: String,
    /// FMSPC (hex, either case).
    pub fmspc: String,
    /// PCE-ID (hex).
    pub pce_id: String,
    /// TCB type.
    pub tcb_type: u32,
    /// TCB evaluation data number.
    pub tcb_evaluation_data_number: u32,
    /// The TDX module signer and attributes.
    #[serde(default)]
    pub tdx_module: Option<TdxModule>,
    /// TDX module identities.
    #[serde(default)]
    pub tdx_module_identities: Option<Vec<TdxModuleIdentity>>,
    /// Platform TCB levels, newest first.
    pub tcb_levels: Vec<TcbLevel>,
}

/// The TD quoting enclave's identity (Intel PCS v4 `enclaveIdentity`, version 2, id "TD_QE").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QeIdentity {
    /// "TD_QE".
    pub id: String,
    /// 2.
    pub version: u32,
    /// Issue date (RFC 3339).
    pub issue_date: String,
    /// Next update (RFC 3339).
    pub next_update: String,
    /// TCB evaluation data number.
    pub tcb_evaluation_data_number: u32,
    /// Expected MISCSELECT (hex).
    pub miscselect: String,
    /// Mask for MISCSELECT (hex).
    pub miscselect_mask: String,
    /// Expected ATTRIBUTES (hex).
    pub attributes: String,
    /// Mask for ATTRIBUTES (hex).
    pub attributes_mask: String,
    /// Expected MRSIGNER (hex).
    pub mrsigner: String,
    /// Expected ISVPRODID.
    pub isvprodid: u16,
    /// Levels by QE ISVSVN, newest first.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// Collateral bytes as fetched from Intel PCS (or a caching service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawCollateral {
    /// The TCB Info response body `{"tcbInfo": {...}, "signature": "..."}`.
    pub tcb_info: Vec<u8>,
    /// The QE Identity response body `{"enclaveIdentity": {...}, "signature": "..."}`.
    pub qe_identity: Vec<u8>,
    /// The TCB signing chain (PEM: TCB Signing cert, Root CA).
    pub tcb_signing_chain: Vec<u8>,
    /// The PCK CRL (DER or PEM), if available.
    pub pck_crl: Option<Vec<u8>>,
    /// The Root CA CRL (DER or PEM), if available.
    pub root_ca_crl: Option<Vec<u8>>,
}

impl RawCollateral {
    /// Reads `tcb_info.json`, `qe_identity.json`, `tcb_signing_chain.pem` and, when present,
    /// `pck_crl.der` and `root_ca_crl.der` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                EvidenceError::Collateral(CollateralError::Unreadable {
                    path: dir.join(name).display().to_string(),
                    reason: e.to_string(),
                })
            })
        };
        let optional = |name: &str| -> Result<Option<Vec<u8>>> {
            let p = dir.join(name);
            if p.exists() {
                read(name).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Self {
            tcb_info: read("tcb_info.json")?,
            qe_identity: read("qe_identity.json")?,
            tcb_signing_chain: read("tcb_signing_chain.pem")?,
            pck_crl: optional("pck_crl.der")?,
            root_ca_crl: optional("root_ca_crl.der")?,
        })
    }
}

/// Collateral whose signatures and chain verified.
#[derive(Debug, Clone)]
pub struct Collateral {
    /// TCB Info.
    pub tcb_info: TcbInfo,
    /// QE Identity.
    pub qe_identity: QeIdentity,
    /// The TCB Signing certificate that signed both.
    pub tcb_signing: Cert,
    /// The root both chains end in.
    pub root: Cert,
    /// The PCK CRL (its signature is checked against the quote's PCK CA).
    pub pck_crl: Option<Crl>,
    /// The Root CA CRL (signature verified).
    pub root_ca_crl: Option<Crl>,
    /// FMSPC of the TCB Info.
    pub fmspc: [u8; 6],
    /// `(issueDate, nextUpdate)` of TCB Info, Unix seconds.
    pub tcb_info_window: (u64, u64),
    /// `(issueDate, nextUpdate)` of QE Identity, Unix seconds.
    pub qe_identity_window: (u64, u64),
}

#[derive(Deserialize)]
struct TcbInfoBody<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityBody<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

fn coll(document: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Collateral(CollateralError::Invalid {
        document: document.into(),
        reason: reason.into(),
    })
}

/// Checks Intel's JSON signature: ECDSA P-256/SHA-256, hex r‖s, over the exact bytes of the
/// signed object as they appear in the response body.
fn check_json_signature(signed: &str, sig_hex: &str, signer: &Cert, what: &str) -> Result<()> {
    let sig = hex::decode(sig_hex)
        .ok()
        .filter(|b| b.len() == 64)
        .ok_or_else(|| coll(what, "the signature is not 64 bytes of hex r||s"))?;
    signer.verify_ecdsa_fixed(signed.as_bytes(), &sig, what)
}

fn window(issue: &str, next: &str, what: &str) -> Result<(u64, u64)> {
    let p = |s: &str| {
        crate::time::parse_rfc3339(s)
            .map(unix)
            .map_err(|_| coll(what, format!("bad date {s:?}")))
    };
    Ok((p(issue)?, p(next)?))
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

/// Parses hex of a fixed length (either case).
pub(crate) fn hex_n<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| coll(what, format!("{s:?} is not {N} bytes of hex")))
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

    // The TCB signing cert: any certificate of the chain issued by the root other than the
    // root itself. Intel re-issued it in 2025 with the same key and serial: pick an edition
    // valid at the verification time.
    let chain = parse_certs_except(&raw.tcb_signing_chain, Some(&root))?;
    let candidates: Vec<&Cert> = chain
        .iter()
        .filter(|c| {
            **c != root
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
        .find(|c| c.check_validity(opts.at, "TCB Signing").is_ok())
        .copied()
        .map_or_else(
            || first.check_validity(opts.at, "TCB Signing").map(|_| *first),
            Ok,
        )?;
    check_issued_by_root(tcb_signing, &root).map_err(|e| {
        EvidenceError::Chain(ChainError::NotSignedByRoot {
            cert: tcb_signing.subject_cn(),
            root: root.subject_cn(),
            reason: e.to_string(),
        })
    })?;
    root.check_validity(opts.at, "root CA")?;

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

    let qe_body: QeIdentityBody<'_> = serde_json::from_slice(&raw.qe_identity)
        .map_err(|e| coll("qe_identity.json", e.to_string()))?;
    check_json_signature(
        qe_body.enclave_identity.get(),
        &qe_body.signature,
        tcb_signing,
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
    check_window(qe_identity_window, opts.at, "QE Identity")?;

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
