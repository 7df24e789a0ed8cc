//! NVIDIA GPU attestation (Hopper and Blackwell, single GPU and Protected PCIe): [`abi`]
//! (SPDM 1.1 GET_MEASUREMENTS request ‖ MEASUREMENTS response to [`Report`]) ->
//! [`verify`](verify::verify) (device chain to the pinned `NVIDIA Device Identity CA`,
//! ECDSA P-384 signature, nonce, FWID; returns [`Verified`](crate::Verified)) -> [`claims`];
//! [`rim`] reads and verifies NVIDIA's signed reference integrity manifests and compares
//! measurements against them.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use coco_evidence::{nvidia, x509};
//! let dir = coco_evidence::vectors::dir().join("nvidia/hopper-h100-550.90.07");
//! let report = std::fs::read(dir.join("attestation_report.bin"))?;
//! let certs = x509::load_certs(&dir.join("cert_chain.pem"))?;
//! let nonce = hex::decode(std::fs::read_to_string(dir.join("nonce.hex"))?.trim())?;
//! let opts = nvidia::VerifyOptions::at(std::time::SystemTime::now())
//!     .with_nonce(nonce.try_into().unwrap())
//!     .with_certs(&certs);
//! let gpu = nvidia::verify(nvidia::Report::parse_with(&report, opts.parse)?, &opts)?;
//! assert_eq!(gpu.report.opaque.driver_version().as_deref(), Some("550.90.07"));
//! assert_eq!(nvidia::claims::claims(&gpu)["hwmodel"], "GH100 A01 GSP BROM");
//! # Ok(()) }
//! ```

pub mod abi;
pub mod claims;
pub mod corim_signer;
pub mod rim;
pub mod roots;
pub mod verify;
pub mod xml;

pub use abi::{ParseOptions, Report};
pub use verify::{Arch, GpuEvidence, VerifyOptions, verify};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::parse_certs;

/// One GPU's evidence in the JSON wire format of NVIDIA's SDKs, NRAS and Trustee:
/// `{"arch": "HOPPER", "nonce": "<hex>", "evidence": "<base64 report>", "certificate":
/// "<base64 PEM chain>"}`. Other members (the collector's unsigned `driver_version`, ...) are
/// ignored: the verifier reads the signed report only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvidence {
    /// `HOPPER` or `BLACKWELL`.
    pub arch: String,
    /// The nonce the report was requested with, hex.
    pub nonce: String,
    /// The report, base64.
    pub evidence: String,
    /// The PEM certificate chain, base64.
    pub certificate: String,
}

impl WireEvidence {
    /// The wire form of a report and its PEM chain.
    pub fn new(arch: Arch, nonce: &[u8], report: &[u8], pem_chain: &[u8]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        WireEvidence {
            arch: arch.name().to_ascii_uppercase(),
            nonce: hex::encode(nonce),
            evidence: b64.encode(report),
            certificate: b64.encode(pem_chain),
        }
    }

    /// Verifies this GPU's evidence with the chain it carries (`opts.certs` is not used).
    /// Its `nonce` member must equal the report's request nonce; freshness is checked
    /// against [`VerifyOptions::nonce`] when set.
    pub fn verify(&self, opts: &VerifyOptions<'_>) -> Result<Verified<GpuEvidence>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = |what: &str, e: String| {
            EvidenceError::Platform(format!("GPU evidence JSON: `{what}`: {e}"))
        };
        let report = b64
            .decode(self.evidence.trim())
            .map_err(|e| bad("evidence", e.to_string()))?;
        let pem = b64
            .decode(self.certificate.trim())
            .map_err(|e| bad("certificate", e.to_string()))?;
        let nonce = abi::parse_nonce(&self.nonce)
            .ok_or_else(|| bad("nonce", "not 32 bytes of hex".into()))?;
        let certs = parse_certs(&pem)?;
        let o = VerifyOptions {
            arch: Some(Arch::from_name(&self.arch)?),
            certs: &certs,
            ..opts.clone()
        };
        let report = Report::parse_with(&report, o.parse)?;
        let v = verify(report, &o)?;
        // The collector's `nonce` member must describe the report; freshness itself is
        // checked against `opts.nonce` only, never against what the evidence says.
        if v.report.request.nonce != nonce {
            return Err(EvidenceError::Mismatch {
                what: "GPU evidence JSON nonce".into(),
                evidence: self.nonce.clone(),
                endorsement: format!(
                    "the report's request nonce {}",
                    hex::encode(v.report.request.nonce)
                ),
            });
        }
        Ok(v)
    }
}

/// One GPU of NVIDIA's remote-verifier request (the nonce is given once, at the top).
#[derive(Deserialize)]
struct RemoteItem {
    arch: Option<String>,
    evidence: String,
    certificate: String,
}

/// Reads the wire format: one object or an array of them (one per GPU), or the request
/// NVIDIA's remote-attestation clients send to NRAS, `{"arch", "nonce", "evidence_list":
/// [{"arch"?, "certificate", "evidence"}], ...}`, where each GPU takes the top-level nonce (and
/// arch unless its own is given).
pub fn parse_wire(json: &[u8]) -> Result<Vec<WireEvidence>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Many(Vec<WireEvidence>),
        Remote {
            arch: String,
            nonce: String,
            evidence_list: Vec<RemoteItem>,
        },
        One(WireEvidence),
    }
    let v: Shape = serde_json::from_slice(json).map_err(|e| {
        EvidenceError::Platform(format!(
            "GPU evidence JSON: {e} (expected {{\"arch\", \"nonce\", \"evidence\", \"certificate\"}}, \
             an array of those, or {{\"arch\", \"nonce\", \"evidence_list\": [...]}})"
        ))
    })?;
    let list = match v {
        Shape::Many(l) => l,
        Shape::One(o) => vec![o],
        Shape::Remote {
            arch,
            nonce,
            evidence_list,
        } => evidence_list
            .into_iter()
            .map(|i| WireEvidence {
                arch: i.arch.unwrap_or_else(|| arch.clone()),
                nonce: nonce.clone(),
                evidence: i.evidence,
                certificate: i.certificate,
            })
            .collect(),
    };
    if list.is_empty() {
        return Err(EvidenceError::Platform("GPU evidence JSON: no GPUs".into()));
    }
    if list.len() > MAX_GPUS {
        return Err(EvidenceError::Platform(format!(
            "GPU evidence JSON: {} GPUs, more than the {MAX_GPUS} of one machine",
            list.len()
        )));
    }
    Ok(list)
}

/// The most GPUs one piece of evidence (and one release) may carry: an 8-GPU HGX board with
/// room to spare. More is refused before anything is verified.
pub const MAX_GPUS: usize = 16;

/// Verifies every GPU of a wire-format document; the first failure names its GPU index.
pub fn verify_wire(json: &[u8], opts: &VerifyOptions<'_>) -> Result<Vec<Verified<GpuEvidence>>> {
    parse_wire(json)?
        .iter()
        .enumerate()
        .map(|(i, w)| {
            w.verify(opts).map_err(|e| EvidenceError::Gpu {
                index: i,
                source: Box::new(e),
            })
        })
        .collect()
}

/// Whether `bytes` look like the JSON wire format rather than a raw report (which starts with
/// SPDM version 0x11).
pub fn is_wire_json(bytes: &[u8]) -> bool {
    matches!(bytes.trim_ascii_start().first(), Some(b'{' | b'['))
}
