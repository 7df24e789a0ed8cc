//! The TDX quote, bytes to structure (Intel TDX DCAP Quote Generation Library and Quote
//! Verification Library, quote formats v4 and v5). Bounds and consistency checks only:
//! nothing here is trusted until [`verify`](super::verify) has checked it.
//!
//! Layout (little-endian), `S` = offset of the signature-data length field:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 48 | header: version, attestation key type, TEE type, reserved, QE vendor ID, user data |
//! | 48 | 584 | TD report 1.0 body (v4) |
//! | 48 | 6 | v5 body descriptor: body type u16 (2 = TD 1.0, 3 = TD 1.5), body size u32 |
//! | 54 | 584 / 648 | v5 body (TD 1.5 adds TEE_TCB_SVN_2 and MRSERVICETD) |
//! | S | 4 | signature-data length (must be 134 + certification-data size) |
//! | S+4 | 64 | ECDSA P-256 signature r‖s over header ‖ \[descriptor ‖\] body |
//! | S+68 | 64 | attestation public key x‖y |
//! | S+132 | 6 | certification data type u16 (must be 6) and size u32 |
//! | S+138 | | QE report (384) ‖ QE report signature (64) ‖ QE auth data (u16 size ‖ data) ‖ inner certification data type u16 (must be 5) ‖ size u32 ‖ PCK chain (PEM) |

use crate::codec::Reader;
use crate::error::{EvidenceError, Result};

const STRUCT: &str = "TDX quote";

/// Length of the quote header.
pub const HEADER_LEN: usize = 48;
/// Length of a TD report 1.0 body.
pub const TD10_BODY_LEN: usize = 584;
/// Length of a TD report 1.5 body.
pub const TD15_BODY_LEN: usize = 648;
/// Length of an SGX report body (the QE report).
pub const QE_REPORT_LEN: usize = 384;
/// Attestation key type 2: ECDSA-256-with-P-256.
pub const ATT_KEY_ECDSA_P256: u16 = 2;
/// TEE type of TDX.
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Intel's QE vendor ID.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// TD_ATTRIBUTES bit 0: the TD is debuggable (its memory and state are visible to the host).
pub const TD_ATTR_DEBUG: u64 = 1 << 0;
/// TD_ATTRIBUTES bit 28: EPT violations are not converted to #VE.
pub const TD_ATTR_SEPT_VE_DISABLE: u64 = 1 << 28;
/// TD_ATTRIBUTES bit 29: the TD is migratable.
pub const TD_ATTR_MIGRATABLE: u64 = 1 << 29;
/// TD_ATTRIBUTES bit 30: protection keys for supervisor pages.
pub const TD_ATTR_PKS: u64 = 1 << 30;
/// TD_ATTRIBUTES bit 31: key locker.
pub const TD_ATTR_KL: u64 = 1 << 31;
/// TD_ATTRIBUTES bit 63: performance monitoring.
pub const TD_ATTR_PERFMON: u64 = 1 << 63;

/// The 48-byte quote header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Quote version (4 or 5).
    pub version: u16,
    /// Attestation key type (2 = ECDSA-256-with-P-256).
    pub att_key_type: u16,
    /// TEE type (0x81 = TDX).
    pub tee_type: u32,
    /// Bytes 8..12 (reserved in v4 and v5).
    pub reserved: [u8; 4],
    /// The QE vendor ID.
    pub qe_vendor_id: [u8; 16],
    /// User data (the first 16 bytes are the platform's QE identifier).
    pub user_data: [u8; 20],
}

/// The TD report body version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// TD report 1.0 (584 bytes; every v4 quote, v5 body type 2).
    Td10,
    /// TD report 1.5 (648 bytes; v5 body type 3).
    Td15,
}

impl BodyKind {
    /// `"td10"` or `"td15"`.
    pub fn name(self) -> &'static str {
        match self {
            BodyKind::Td10 => "td10",
            BodyKind::Td15 => "td15",
        }
    }
}

/// The TD report body: what the TDX module measured and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdReport {
    /// Which body version this is.
    pub kind: BodyKind,
    /// TEE_TCB_SVN: \[0\] TDX module ISVSVN, \[1\] module major version, then SEAM loader SVNs.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the TDX module.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM: signer of the TDX module (zero for Intel's).
    pub mr_signer_seam: [u8; 48],
    /// SEAMATTRIBUTES.
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES (little-endian u64; see the `TD_ATTR_*` bits).
    pub td_attributes: [u8; 8],
    /// XFAM.
    pub xfam: [u8; 8],
    /// MRTD: measurement of the initial TD contents.
    pub mr_td: [u8; 48],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// RTMR0..RTMR3.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA: 64 bytes chosen by the TD.
    pub report_data: [u8; 64],
    /// TEE_TCB_SVN_2 (TD 1.5 only).
    pub tee_tcb_svn_2: Option<[u8; 16]>,
    /// MRSERVICETD (TD 1.5 only).
    pub mr_service_td: Option<[u8; 48]>,
}

impl TdReport {
    /// TD_ATTRIBUTES as an integer.
    pub fn td_attributes_u64(&self) -> u64 {
        u64::from_le_bytes(self.td_attributes)
    }

    /// Whether the TD is debuggable (TD_ATTRIBUTES.DEBUG).
    pub fn debug(&self) -> bool {
        self.td_attributes_u64() & TD_ATTR_DEBUG != 0
    }

    /// The TDX module's major version (TEE_TCB_SVN\[1\]).
    pub fn module_major(&self) -> u8 {
        self.tee_tcb_svn[1]
    }

    /// The TDX module's ISVSVN (TEE_TCB_SVN\[0\]).
    pub fn module_isvsvn(&self) -> u8 {
        self.tee_tcb_svn[0]
    }
}

/// The quoting enclave's SGX report body (384 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QeReport {
    /// The raw 384 bytes (what the PCK key signed).
    pub raw: [u8; QE_REPORT_LEN],
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// MISCSELECT.
    pub misc_select: u32,
    /// ATTRIBUTES.
    pub attributes: [u8; 16],
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// MRSIGNER.
    pub mr_signer: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// REPORTDATA (binds the attestation key).
    pub report_data: [u8; 64],
}

impl QeReport {
    /// The SGX report layout (offsets of the Intel SGX report body).
    fn parse(raw: &[u8; QE_REPORT_LEN]) -> Result<Self> {
        let r = Reader::new("QE report", raw);
        Ok(Self {
            raw: *raw,
            cpu_svn: r.array_at(0, "cpu_svn")?,
            misc_select: r.u32_at(16, "misc_select")?,
            attributes: r.array_at(48, "attributes")?,
            mr_enclave: r.array_at(64, "mr_enclave")?,
            mr_signer: r.array_at(128, "mr_signer")?,
            isv_prod_id: u16::from_le_bytes(r.array_at(256, "isv_prod_id")?),
            isv_svn: u16::from_le_bytes(r.array_at(258, "isv_svn")?),
            report_data: r.array_at(320, "report_data")?,
        })
    }
}

/// A parsed TDX quote (v4 or v5) with its ECDSA signature data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The header.
    pub header: Header,
    /// The TD report body.
    pub body: TdReport,
    /// The v5 body descriptor `(type, size)`; `None` for v4.
    pub body_descriptor: Option<(u16, u32)>,
    /// ECDSA P-256 signature r‖s (big-endian) of the attestation key over the signed bytes.
    pub signature: [u8; 64],
    /// The attestation public key x‖y.
    pub attestation_key: [u8; 64],
    /// The QE report.
    pub qe_report: QeReport,
    /// The PCK key's signature r‖s over the QE report.
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    pub qe_auth_data: Vec<u8>,
    /// The PCK certificate chain as carried (PEM; leaf, PCK CA, root).
    pub pck_chain: Vec<u8>,
    /// Bytes after the end of the structure (published quotes often sit in fixed-size
    /// zero-filled buffers).
    pub trailing_len: usize,
    /// Whether every trailing byte is zero (always true unless parsed with
    /// [`Quote::parse_allowing_trailing_data`]).
    pub trailing_all_zero: bool,
    /// Offset of the signature-data length field (= length of the signed bytes).
    pub signed_len: usize,
    bytes: Vec<u8>,
}

impl Quote {
    /// Parses a quote. Trailing zero bytes after the structure are accepted (and counted in
    /// [`Quote::trailing_len`]); any other trailing byte is an error that names its offset.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_inner(bytes, false)
    }

    /// Parses a quote followed by arbitrary bytes (go-tdx-guest's test quote carries a text
    /// line after the structure). The trailing bytes are not signed and are ignored; only an
    /// explicit choice of the caller should lead here.
    pub fn parse_allowing_trailing_data(bytes: &[u8]) -> Result<Self> {
        Self::parse_inner(bytes, true)
    }

    fn parse_inner(bytes: &[u8], allow_trailing: bool) -> Result<Self> {
        let mut c = Reader::new(STRUCT, bytes);
        let version = c.u16("version")?;
        if version != 4 && version != 5 {
            return Err(EvidenceError::UnsupportedVersion {
                structure: STRUCT,
                version: version.into(),
            });
        }
        let att_key_type = c.u16("att_key_type")?;
        if att_key_type != ATT_KEY_ECDSA_P256 {
            return Err(EvidenceError::malformed(
                STRUCT,
                "att_key_type",
                2,
                format!("{att_key_type} is not 2 (ECDSA-256-with-P-256)"),
            ));
        }
        let tee_type = c.u32("tee_type")?;
        if tee_type != TEE_TYPE_TDX {
            return Err(EvidenceError::malformed(
                STRUCT,
                "tee_type",
                4,
                format!(
                    "{tee_type:#x} is not 0x81 (TDX){}",
                    if tee_type == 0 {
                        "; 0 is an SGX quote"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let header = Header {
            version,
            att_key_type,
            tee_type,
            reserved: c.array("reserved")?,
            qe_vendor_id: c.array("qe_vendor_id")?,
            user_data: c.array("user_data")?,
        };
        let (kind, body_descriptor) = if version == 4 {
            (BodyKind::Td10, None)
        } else {
            let at = c.position();
            let ty = c.u16("body_type")?;
            let size = c.u32("body_size")?;
            let (kind, want) = match ty {
                2 => (BodyKind::Td10, TD10_BODY_LEN),
                3 => (BodyKind::Td15, TD15_BODY_LEN),
                1 => {
                    return Err(EvidenceError::malformed(
                        STRUCT,
                        "body_type",
                        at,
                        "type 1 is an SGX enclave report, not a TD report",
                    ));
                }
                t => {
                    return Err(EvidenceError::malformed(
                        STRUCT,
                        "body_type",
                        at,
                        format!("unknown body type {t} (2 = TD 1.0, 3 = TD 1.5)"),
                    ));
                }
            };
            if size as usize != want {
                return Err(EvidenceError::malformed(
                    STRUCT,
                    "body_size",
                    at + 2,
                    format!("{size} for body type {ty}, which is {want} bytes"),
                ));
            }
            (kind, Some((ty, size)))
        };
        let mut body = TdReport {
            kind,
            tee_tcb_svn: c.array("tee_tcb_svn")?,
            mr_seam: c.array("mr_seam")?,
            mr_signer_seam: c.array("mr_signer_seam")?,
            seam_attributes: c.array("seam_attributes")?,
            td_attributes: c.array("td_attributes")?,
            xfam: c.array("xfam")?,
            mr_td: c.array("mr_td")?,
            mr_config_id: c.array("mr_config_id")?,
            mr_owner: c.array("mr_owner")?,
            mr_owner_config: c.array("mr_owner_config")?,
            rtmr: [
                c.array("rtmr0")?,
                c.array("rtmr1")?,
                c.array("rtmr2")?,
                c.array("rtmr3")?,
            ],
            report_data: c.array("report_data")?,
            tee_tcb_svn_2: None,
            mr_service_td: None,
        };
        if kind == BodyKind::Td15 {
            body.tee_tcb_svn_2 = Some(c.array("tee_tcb_svn_2")?);
            body.mr_service_td = Some(c.array("mr_service_td")?);
        }
        let signed_len = c.position();

        let sig_len_at = c.position();
        let sig_data_len = c.u32("signature_data_len")? as usize;
        let sig_data_start = c.position();
        let signature = c.array("quote_signature")?;
        let attestation_key = c.array("attestation_key")?;
        let cert_type_at = c.position();
        let cert_type = c.u16("certification_data_type")?;
        if cert_type != 6 {
            return Err(EvidenceError::malformed(
                STRUCT,
                "certification_data_type",
                cert_type_at,
                format!("{cert_type}; only type 6 (QE report certification data) is supported"),
            ));
        }
        let cert_size = c.u32("certification_data_size")? as usize;
        if Some(sig_data_len) != cert_size.checked_add(134) {
            return Err(EvidenceError::malformed(
                STRUCT,
                "signature_data_len",
                sig_len_at,
                format!(
                    "{sig_data_len}, but the signature data holds 134 + {cert_size} (certification data) bytes"
                ),
            ));
        }
        let cert_start = c.position();
        let qe_raw: [u8; QE_REPORT_LEN] = c.array("qe_report")?;
        let qe_report_signature = c.array("qe_report_signature")?;
        let auth_len = c.u16("qe_auth_data_size")? as usize;
        let qe_auth_data = c.take(auth_len, "qe_auth_data")?.to_vec();
        let inner_at = c.position();
        let inner_type = c.u16("inner_certification_data_type")?;
        if inner_type != 5 {
            return Err(EvidenceError::malformed(
                STRUCT,
                "inner_certification_data_type",
                inner_at,
                format!("{inner_type}; only type 5 (PCK certificate chain) is supported"),
            ));
        }
        let inner_size = c.u32("inner_certification_data_size")? as usize;
        let pck_chain = c.take(inner_size, "pck_chain")?.to_vec();
        if c.position() - cert_start != cert_size {
            return Err(EvidenceError::malformed(
                STRUCT,
                "certification_data_size",
                cert_type_at + 2,
                format!(
                    "{cert_size}, but its parts (QE report, signature, auth data, PCK chain) take {}",
                    c.position() - cert_start
                ),
            ));
        }
        debug_assert_eq!(c.position(), sig_data_start + sig_data_len);
        let end = c.position();
        let (structure, trailing) = bytes.split_at(end);
        let nonzero = trailing.iter().position(|&b| b != 0);
        if let Some(i) = nonzero.filter(|_| !allow_trailing) {
            return Err(EvidenceError::malformed(
                STRUCT,
                "trailing bytes",
                end + i,
                format!(
                    "non-zero byte after the end of the quote structure at {end:#x} ({} trailing bytes; allow trailing data explicitly to ignore them)",
                    bytes.len() - end
                ),
            ));
        }
        Ok(Self {
            header,
            body,
            body_descriptor,
            signature,
            attestation_key,
            qe_report: QeReport::parse(&qe_raw)?,
            qe_report_signature,
            qe_auth_data,
            pck_chain,
            trailing_len: bytes.len() - end,
            trailing_all_zero: nonzero.is_none(),
            signed_len,
            bytes: structure.to_vec(),
        })
    }

    /// The bytes the attestation key signed: header ‖ \[body descriptor ‖\] body.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.bytes[..self.signed_len]
    }

    /// The quote structure without trailing padding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
