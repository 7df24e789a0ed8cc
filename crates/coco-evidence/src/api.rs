//! One entry point for every front end (CLI, C ABI, Python): platform name, evidence bytes and
//! options in; the `{"platform", "verified", "claims" | "error"}` object of DESIGN §4 out.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{EvidenceError, Result};
use crate::verified::Verified;
use crate::{attester, nvidia, snp, tdx, x509};

/// Options, named as the CLI flags (`certs`, `collateral`, `nonce`, `at`,
/// `no_revocation_check`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// A PEM bundle or DER file, or a directory of PEM/DER files.
    pub certs: Option<PathBuf>,
    /// A collateral directory (TDX).
    pub collateral: Option<PathBuf>,
    /// AMD's CRL for the product (SNP; DER or PEM).
    pub crl: Option<PathBuf>,
    /// The expected nonce, hex (NVIDIA).
    pub nonce: Option<String>,
    /// Verification time, RFC 3339 (default: now).
    pub at: Option<String>,
    /// Accept missing revocation data (the claims then say `"revocation_checked": false`).
    #[serde(default)]
    pub no_revocation_check: bool,
    /// Accept unsigned bytes after the evidence structure (TDX quotes carrying text after
    /// the signature data). Zero padding is always accepted.
    #[serde(default)]
    pub allow_trailing_data: bool,
}

/// The platforms this build verifies.
pub const PLATFORMS: &[&str] = &["snp", "azure-snp", "tdx", "nvidia"];

/// Evidence that verified, of any platform.
#[derive(Debug, Clone)]
pub enum VerifiedEvidence {
    /// An SEV-SNP report (raw or in an Azure HCL report).
    Snp(Box<Verified<snp::SnpEvidence>>),
    /// A TDX quote.
    Tdx(Box<Verified<tdx::TdxEvidence>>),
    /// NVIDIA GPU reports: one raw report, or every GPU of a JSON wire document.
    Nvidia(Vec<Verified<nvidia::GpuEvidence>>),
}

impl VerifiedEvidence {
    /// The hand-over to appraisal, as submodule `name` (the first GPU of GPU evidence; see
    /// [`VerifiedEvidence::attesters`]).
    pub fn attester(&self, name: &str) -> coco_core::appraise::Attester {
        match self {
            VerifiedEvidence::Snp(v) => attester::snp(name, v),
            VerifiedEvidence::Tdx(v) => attester::tdx(name, v),
            VerifiedEvidence::Nvidia(v) => attester::nvidia(name, &v[0]),
        }
    }

    /// Every attester, named `{prefix}{n}` from `first` on (one per GPU of GPU evidence).
    pub fn attesters(&self, prefix: &str, first: usize) -> Vec<coco_core::appraise::Attester> {
        match self {
            VerifiedEvidence::Nvidia(v) => v
                .iter()
                .enumerate()
                .map(|(i, g)| attester::nvidia(&format!("{prefix}{}", first + i), g))
                .collect(),
            _ => vec![self.attester(&format!("{prefix}{first}"))],
        }
    }

    /// Whether this is GPU evidence.
    pub fn is_gpu(&self) -> bool {
        matches!(self, VerifiedEvidence::Nvidia(_))
    }

    /// The claims (DESIGN §4). Several GPUs give `{"gpu_count": n, "gpus": [claims, ...]}`.
    pub fn claims(&self) -> Value {
        match self {
            VerifiedEvidence::Nvidia(v) if v.len() > 1 => json!({
                "gpu_count": v.len(),
                "gpus": v.iter().map(nvidia::claims::claims).collect::<Vec<_>>(),
            }),
            _ => self.attester("").claims,
        }
    }
}

/// Verifies evidence of `platform` with the options of the CLI flags.
pub fn verify(platform: &str, bytes: &[u8], opts: &Options) -> Result<VerifiedEvidence> {
    let at = match &opts.at {
        Some(s) => crate::time::parse_rfc3339(s)?,
        None => SystemTime::now(),
    };
    match platform {
        "snp" | "azure-snp" => {
            if platform == "azure-snp" && !snp::azure::is_hcl(bytes) {
                return Err(EvidenceError::Platform(
                    "azure-snp needs an Azure HCL report (magic \"HCLA\")".into(),
                ));
            }
            let certs = match &opts.certs {
                Some(p) => x509::load_certs(p)?,
                None => Vec::new(),
            };
            let mut o = snp::VerifyOptions::at(at);
            if let Some(p) = &opts.crl {
                let raw = std::fs::read(p).map_err(|e| {
                    EvidenceError::Collateral(format!("AMD CRL {}: {e}", p.display()))
                })?;
                o = o.with_crl(x509::Crl::from_der(&raw)?);
            }
            Ok(VerifiedEvidence::Snp(Box::new(snp::verify_bytes(
                bytes, &certs, &o,
            )?)))
        }
        "tdx" => {
            let mut o = tdx::VerifyOptions::at(at);
            if opts.no_revocation_check {
                o = o.without_revocation_check();
            }
            if opts.allow_trailing_data {
                o = o.allowing_trailing_data();
            }
            let collateral = match &opts.collateral {
                Some(dir) => Some(tdx::verify_collateral(
                    &tdx::RawCollateral::from_dir(dir)?,
                    &o,
                )?),
                None => None,
            };
            Ok(VerifiedEvidence::Tdx(Box::new(tdx::verify_bytes(
                bytes,
                collateral.as_ref(),
                &o,
                None,
            )?)))
        }
        "nvidia" => {
            let mut o = nvidia::VerifyOptions::at(at);
            o.parse.allow_trailing_data = opts.allow_trailing_data;
            if let Some(n) = &opts.nonce {
                o.nonce = Some(nvidia::abi::parse_nonce(n).ok_or_else(|| {
                    EvidenceError::Platform(format!("nonce {n:?} is not 32 bytes of hex"))
                })?);
            }
            if nvidia::is_wire_json(bytes) {
                return Ok(VerifiedEvidence::Nvidia(nvidia::verify_wire(bytes, &o)?));
            }
            let certs = match &opts.certs {
                Some(p) => x509::load_certs(p)?,
                None => {
                    return Err(EvidenceError::Certificate {
                        cert: "GPU device chain".into(),
                        reason: "a raw NVIDIA report needs its certificate chain (--certs), \
                                 or use the JSON wire format that carries it"
                            .into(),
                    });
                }
            };
            Ok(VerifiedEvidence::Nvidia(vec![nvidia::verify_bytes(
                bytes, &certs, &o,
            )?]))
        }
        other => Err(EvidenceError::Platform(format!(
            "unsupported platform {other:?} (this build verifies: {})",
            PLATFORMS.join(", ")
        ))),
    }
}

/// Verifies several pieces of evidence (`(platform, bytes)`) with the same options and
/// returns them as attesters for appraisal: CPU evidence named `cpu0`, `cpu1`, ..., GPUs
/// `gpu0`, `gpu1`, ... in order (a multi-GPU document gives one attester per GPU). The first
/// failure is returned with its position.
pub fn attesters(
    evidence: &[(&str, &[u8])],
    opts: &Options,
) -> Result<Vec<coco_core::appraise::Attester>> {
    let (mut cpus, mut gpus) = (0, 0);
    let mut out = Vec::new();
    for (i, (platform, bytes)) in evidence.iter().enumerate() {
        let v = verify(platform, bytes, opts).map_err(|e| match e {
            EvidenceError::Platform(m) => EvidenceError::Platform(format!("evidence {i}: {m}")),
            e => e,
        })?;
        let (prefix, next) = if v.is_gpu() {
            ("gpu", &mut gpus)
        } else {
            ("cpu", &mut cpus)
        };
        let list = v.attesters(prefix, *next);
        *next += list.len();
        out.extend(list);
    }
    Ok(out)
}

/// Verifies evidence and returns `(verified, object)`, where the object is
/// `{"platform", "verified": true, "claims": {...}}` or
/// `{"platform", "verified": false, "error": {"kind", "message"}}`.
pub fn verify_json(platform: &str, bytes: &[u8], opts: &Options) -> (bool, Value) {
    match verify(platform, bytes, opts).map(|v| v.claims()) {
        Ok(c) => (
            true,
            json!({"platform": platform, "verified": true, "claims": c}),
        ),
        Err(e) => (
            false,
            json!({"platform": platform, "verified": false,
                   "error": {"kind": e.kind(), "message": e.to_string()}}),
        ),
    }
}
