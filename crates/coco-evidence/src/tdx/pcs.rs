//! Intel PCS collateral for TDX as data (the abi layer of collateral): the TCB Info v3 and
//! QE Identity v2 schemas, the signed response bodies as Intel sends them, the raw bytes of a
//! collateral set ([`RawCollateral`]) and what verification makes of them ([`Collateral`]).
//! Nothing here checks a signature ([`collateral`](super::collateral) does) or reads a file
//! ([`dir`](super::dir) does).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{CollateralError, EvidenceError, Result};
use crate::x509::{Cert, Crl, unix};

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
pub(crate) struct TcbInfoBody<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    pub(crate) tcb_info: &'a RawValue,
    pub(crate) signature: String,
}

#[derive(Deserialize)]
pub(crate) struct QeIdentityBody<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    pub(crate) enclave_identity: &'a RawValue,
    pub(crate) signature: String,
}

pub(crate) fn coll(document: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Collateral(CollateralError::Invalid {
        document: document.into(),
        reason: reason.into(),
    })
}

/// `(issueDate, nextUpdate)` as Unix seconds.
pub(crate) fn window(issue: &str, next: &str, what: &str) -> Result<(u64, u64)> {
    let p = |s: &str| {
        crate::time::parse_rfc3339(s)
            .map(unix)
            .map_err(|_| coll(what, format!("bad date {s:?}")))
    };
    Ok((p(issue)?, p(next)?))
}

/// Parses hex of a fixed length (either case).
pub(crate) fn hex_n<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| coll(what, format!("{s:?} is not {N} bytes of hex")))
}
