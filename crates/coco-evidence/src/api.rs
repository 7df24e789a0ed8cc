//! One platform dispatch for the whole workspace: a piece of [`Evidence`] (platform, bytes,
//! endorsements) and a [`Verifier`] (time, expected GPU nonce, revocation, simulated root,
//! chain cache) in, [`VerifiedEvidence`] out. The CLI, C ABI and Python call [`verify`] /
//! [`verify_json`] for `evidence verify`; the decision API (coco-release) calls
//! [`Verifier::verify`] for appraisal and key release.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{EvidenceError, Result};
use crate::ocsp::OcspResponse;
use crate::verified::Verified;
use crate::x509::{Cert, Crl, LinkCache};
use crate::{attester, nvidia, ocsp, simulated, snp, tdx, x509};

/// Options, named as the CLI flags (`certs`, `collateral`, `nonce`, `at`,
/// `no_revocation_check`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// PEM bundles or DER files, or directories of PEM/DER files (in JSON one path or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub certs: Vec<PathBuf>,
    /// A collateral directory: TDX (tcb_info.json, ...), or NVIDIA (OCSP responses for the
    /// device chain in its `ocsp/` directory, as `coco collateral fetch` writes them).
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

/// A path or a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(p)) => vec![p],
        Some(OneOrMany::Many(v)) => v,
    })
}

impl Options {
    /// The verification time: `at`, or now.
    pub fn time(&self) -> Result<SystemTime> {
        match &self.at {
            Some(s) => crate::time::parse_rfc3339(s),
            None => Ok(SystemTime::now()),
        }
    }

    /// The expected GPU nonce, if given.
    pub fn gpu_nonce(&self) -> Result<Option<[u8; 32]>> {
        self.nonce
            .as_deref()
            .map(|n| {
                nvidia::abi::parse_nonce(n).ok_or_else(|| EvidenceError::Usage {
                    option: "nonce",
                    reason: format!("{n:?} is not 32 bytes of hex"),
                })
            })
            .transpose()
    }

    /// `bytes` of `platform` with the endorsements these options name (certificates, CRL,
    /// collateral directory), read from the files.
    pub fn evidence(&self, platform: &str, bytes: Vec<u8>) -> Result<Evidence> {
        let platform = EvidencePlatform::from_name(platform)?;
        let mut certs = Vec::new();
        if platform != EvidencePlatform::Tdx {
            for p in &self.certs {
                certs.extend(x509::load_certs(p)?);
            }
        }
        let crl = match &self.crl {
            Some(p) if platform.is_snp() => {
                let raw = std::fs::read(p).map_err(|e| {
                    EvidenceError::Collateral(crate::error::CollateralError::Unreadable {
                        path: p.display().to_string(),
                        reason: e.to_string(),
                    })
                })?;
                Some(Crl::from_der(&raw)?)
            }
            _ => None,
        };
        let collateral = match &self.collateral {
            Some(dir) if platform == EvidencePlatform::Tdx => {
                Some(tdx::RawCollateral::from_dir(dir)?)
            }
            _ => None,
        };
        let ocsp = match &self.collateral {
            Some(dir) if platform == EvidencePlatform::Nvidia => ocsp::load_dir(&dir.join("ocsp"))?,
            _ => Vec::new(),
        };
        Ok(Evidence {
            platform,
            bytes,
            certs,
            crl,
            collateral,
            ocsp,
        })
    }

    /// The verifier these options describe.
    pub fn verifier(&self) -> Result<Verifier<'static>> {
        let mut v = Verifier::at(self.time()?);
        v.gpu_nonce = self.gpu_nonce()?;
        v.accept_missing_revocation = self.no_revocation_check;
        v.allow_trailing_data = self.allow_trailing_data;
        Ok(v)
    }
}

/// The platforms this build verifies from vendor roots.
pub const PLATFORMS: &[&str] = &["snp", "azure-snp", "tdx", "nvidia"];

/// The kind of a piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidencePlatform {
    /// An SEV-SNP report (raw, or inside an Azure HCL report).
    Snp,
    /// An Azure HCL report carrying an SEV-SNP report.
    AzureSnp,
    /// A TDX quote.
    Tdx,
    /// NVIDIA GPU evidence: a raw SPDM report, or the JSON wire format of one or many GPUs.
    Nvidia,
    /// A simulated SNP report (demos and tests; needs a simulated root).
    SimSnp,
    /// A simulated GPU report (demos and tests; needs a simulated root).
    SimGpu,
    /// The Confidential Containers sample attester's evidence (rehearsals; unsigned, accepted
    /// only with [`Verifier::accept_sample`]).
    Sample,
}

impl EvidencePlatform {
    /// Reads `snp`, `azure-snp`, `tdx`, `nvidia`, `sim-snp` or `sim-gpu`.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "snp" => Self::Snp,
            "azure-snp" => Self::AzureSnp,
            "tdx" => Self::Tdx,
            "nvidia" => Self::Nvidia,
            "sim-snp" => Self::SimSnp,
            "sim-gpu" => Self::SimGpu,
            "sample" => Self::Sample,
            other => {
                return Err(EvidenceError::UnsupportedPlatform {
                    platform: other.into(),
                    supported: PLATFORMS.join(", "),
                });
            }
        })
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Snp => "snp",
            Self::AzureSnp => "azure-snp",
            Self::Tdx => "tdx",
            Self::Nvidia => "nvidia",
            Self::SimSnp => "sim-snp",
            Self::SimGpu => "sim-gpu",
            Self::Sample => "sample",
        }
    }

    /// Whether this is GPU evidence.
    pub fn is_gpu(self) -> bool {
        matches!(self, Self::Nvidia | Self::SimGpu)
    }

    fn is_snp(self) -> bool {
        matches!(self, Self::Snp | Self::AzureSnp)
    }
}

/// One piece of evidence with its endorsements, in memory.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Its platform.
    pub platform: EvidencePlatform,
    /// The report, quote or GPU evidence.
    pub bytes: Vec<u8>,
    /// Certificates (SNP: VCEK/VLEK and ASK; raw NVIDIA report: the device chain; simulated:
    /// the simulated leaf first).
    pub certs: Vec<Cert>,
    /// AMD's CRL (SNP).
    pub crl: Option<Crl>,
    /// Intel PCS collateral (TDX).
    pub collateral: Option<tdx::RawCollateral>,
    /// OCSP responses for the GPU device chains (NVIDIA).
    pub ocsp: Vec<OcspResponse>,
}

impl Evidence {
    /// Evidence of `platform` with no endorsements (yet).
    pub fn new(platform: EvidencePlatform, bytes: Vec<u8>) -> Self {
        Self {
            platform,
            bytes,
            certs: Vec::new(),
            crl: None,
            collateral: None,
            ocsp: Vec::new(),
        }
    }
}

/// How evidence is verified: the injected time and what the caller expects or accepts.
#[derive(Debug, Clone, Copy)]
pub struct Verifier<'a> {
    /// The verification time.
    pub at: SystemTime,
    /// The nonce every GPU report must answer.
    pub gpu_nonce: Option<[u8; 32]>,
    /// Accept missing revocation data (the claims then say `"revocation_checked": false`).
    /// A CRL that is given is always checked.
    pub accept_missing_revocation: bool,
    /// Accept unsigned trailing bytes (see [`Options::allow_trailing_data`]).
    pub allow_trailing_data: bool,
    /// The root of a simulated TEE to accept; `None` refuses simulated evidence.
    pub sim_root: Option<&'a Cert>,
    /// Certificate signatures already verified (evidence chains of known hardware).
    pub cache: Option<&'a LinkCache>,
    /// Accept the unsigned sample attester's evidence (where simulation is allowed).
    pub accept_sample: bool,
    /// OCSP responses for GPU device chains that came without any (a service's cache).
    pub ocsp_source: Option<&'a dyn ocsp::OcspSource>,
}

impl<'a> Verifier<'a> {
    /// Strict verification at `at`: revocation data required, no simulated evidence.
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            gpu_nonce: None,
            accept_missing_revocation: false,
            allow_trailing_data: false,
            sim_root: None,
            cache: None,
            accept_sample: false,
            ocsp_source: None,
        }
    }

    fn sim_root(&self, what: &str) -> Result<&'a Cert> {
        self.sim_root.ok_or_else(|| {
            EvidenceError::Platform(format!(
                "{what} evidence is not accepted here (no simulated root configured)"
            ))
        })
    }

    /// Verifies one piece of evidence.
    pub fn verify(&self, e: &Evidence) -> Result<VerifiedEvidence> {
        self.verify_as_given(e)
            .map_err(|err| match (&err, guess_platform(&e.bytes)) {
                // Evidence of another platform than the one named: say what it looks like.
                (
                    EvidenceError::UnsupportedVersion { .. } | EvidenceError::Malformed { .. },
                    Some(looks_like),
                ) if !looks_like.matches(e.platform) => EvidenceError::Usage {
                    option: "platform",
                    reason: format!(
                        "{} evidence was given, but this looks like {} ({err})",
                        e.platform.name(),
                        looks_like.describe()
                    ),
                },
                _ => err,
            })
    }

    fn verify_as_given(&self, e: &Evidence) -> Result<VerifiedEvidence> {
        let (bytes, at) = (e.bytes.as_slice(), self.at);
        match e.platform {
            EvidencePlatform::Snp | EvidencePlatform::AzureSnp => {
                if e.platform == EvidencePlatform::AzureSnp && !snp::azure::is_hcl(bytes) {
                    return Err(EvidenceError::Platform(
                        "azure-snp needs an Azure HCL report (magic \"HCLA\")".into(),
                    ));
                }
                let mut o = snp::VerifyOptions::at(at).with_certs(&e.certs);
                if let Some(crl) = &e.crl {
                    o = o.with_crl(crl.clone());
                }
                if self.allow_trailing_data {
                    o = o.allowing_trailing_data();
                }
                o.cache = self.cache;
                let report = snp::parse(bytes, &o)?;
                Ok(VerifiedEvidence::Snp(Box::new(snp::verify(report, &o)?)))
            }
            EvidencePlatform::Tdx => {
                let mut o = tdx::VerifyOptions::at(at);
                if self.accept_missing_revocation {
                    o = o.without_revocation_check();
                }
                if self.allow_trailing_data {
                    o = o.allowing_trailing_data();
                }
                let collateral = match &e.collateral {
                    Some(raw) => Some(tdx::verify_collateral(raw, &o)?),
                    None => None,
                };
                if let Some(c) = &collateral {
                    o = o.with_collateral(c);
                }
                let quote = tdx::parse(bytes, &o)?;
                Ok(VerifiedEvidence::Tdx(Box::new(tdx::verify(quote, &o)?)))
            }
            EvidencePlatform::Nvidia => {
                let mut o = nvidia::VerifyOptions::at(at)
                    .with_certs(&e.certs)
                    .with_ocsp(&e.ocsp);
                o.parse.allow_trailing_data = self.allow_trailing_data;
                o.nonce = self.gpu_nonce;
                o.cache = self.cache;
                o.ocsp_source = self.ocsp_source;
                if nvidia::is_wire_json(bytes) {
                    return Ok(VerifiedEvidence::Nvidia(nvidia::verify_wire(bytes, &o)?));
                }
                if e.certs.is_empty() {
                    return Err(EvidenceError::Certificate {
                        cert: "GPU device chain".into(),
                        reason: "a raw NVIDIA report needs its certificate chain (--certs), \
                                 or use the JSON wire format that carries it"
                            .into(),
                    });
                }
                let report = nvidia::Report::parse_with(bytes, o.parse)?;
                Ok(VerifiedEvidence::Nvidia(vec![nvidia::verify(report, &o)?]))
            }
            EvidencePlatform::SimSnp => {
                let root = self.sim_root("simulated SNP")?;
                let vcek = e.certs.first().ok_or_else(|| EvidenceError::Certificate {
                    cert: "simulated VCEK".into(),
                    reason: "not given".into(),
                })?;
                Ok(VerifiedEvidence::SimSnp(Box::new(simulated::verify_snp(
                    bytes, vcek, root, at, self.cache,
                )?)))
            }
            EvidencePlatform::Sample => Ok(VerifiedEvidence::Sample(Box::new(
                crate::sample::verify(bytes, self.accept_sample)?,
            ))),
            EvidencePlatform::SimGpu => {
                let root = self.sim_root("simulated GPU")?;
                let cert = e.certs.first().ok_or_else(|| EvidenceError::Certificate {
                    cert: "simulated GPU certificate".into(),
                    reason: "not given".into(),
                })?;
                let v = simulated::verify_gpu(bytes, cert, root, at, self.cache)?;
                if let Some(n) = self.gpu_nonce
                    && v.claims.nonce != n
                {
                    return Err(EvidenceError::Mismatch {
                        what: "simulated GPU report nonce".into(),
                        evidence: hex::encode(v.claims.nonce),
                        endorsement: hex::encode(n),
                    });
                }
                Ok(VerifiedEvidence::SimGpu(Box::new(v)))
            }
        }
    }
}

/// Evidence that verified, of any platform.
#[derive(Debug, Clone)]
pub enum VerifiedEvidence {
    /// An SEV-SNP report (raw or in an Azure HCL report).
    Snp(Box<Verified<snp::SnpEvidence>>),
    /// A TDX quote.
    Tdx(Box<Verified<tdx::TdxEvidence>>),
    /// NVIDIA GPU reports: one raw report, or every GPU of a JSON wire document.
    Nvidia(Vec<Verified<nvidia::GpuEvidence>>),
    /// A simulated SNP report.
    SimSnp(Box<Verified<snp::SnpEvidence>>),
    /// A simulated GPU report.
    SimGpu(Box<Verified<simulated::SimGpuEvidence>>),
    /// The sample attester's evidence.
    Sample(Box<Verified<crate::sample::SampleEvidence>>),
}

impl VerifiedEvidence {
    /// Every attester, named `{prefix}{n}` from `first` on (one per GPU of GPU evidence).
    pub fn attesters(&self, prefix: &str, first: usize) -> Vec<coco_core::appraise::Attester> {
        let name = |i: usize| format!("{prefix}{}", first + i);
        match self {
            VerifiedEvidence::Snp(v) => vec![attester::snp(&name(0), v)],
            VerifiedEvidence::Tdx(v) => vec![attester::tdx(&name(0), v)],
            VerifiedEvidence::Nvidia(v) => v
                .iter()
                .enumerate()
                .map(|(i, g)| attester::nvidia(&name(i), g))
                .collect(),
            VerifiedEvidence::SimSnp(v) => vec![attester::sim_snp(&name(0), v)],
            VerifiedEvidence::SimGpu(v) => vec![attester::sim_gpu(&name(0), v)],
            VerifiedEvidence::Sample(v) => vec![attester::sample(&name(0), v)],
        }
    }

    /// Whether this is GPU evidence.
    pub fn is_gpu(&self) -> bool {
        matches!(
            self,
            VerifiedEvidence::Nvidia(_) | VerifiedEvidence::SimGpu(_)
        )
    }

    /// The claims (DESIGN §4). Several GPUs give `{"gpu_count": n, "gpus": [claims, ...]}`.
    pub fn claims(&self) -> Value {
        match self {
            VerifiedEvidence::Nvidia(v) if v.len() > 1 => json!({
                "gpu_count": v.len(),
                "gpus": v.iter().map(nvidia::claims::claims).collect::<Vec<_>>(),
            }),
            _ => self
                .attesters("", 0)
                .first()
                .map(|a| a.view().clone())
                .unwrap_or(Value::Null),
        }
    }
}

/// Verifies evidence of `platform` with the options of the CLI flags.
pub fn verify(platform: &str, bytes: &[u8], opts: &Options) -> Result<VerifiedEvidence> {
    let e = opts.evidence(platform, bytes.to_vec())?;
    opts.verifier()?.verify(&e)
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

/// What a piece of evidence looks like from its first bytes (for a hint when the platform
/// named does not parse it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looks {
    SnpReport,
    AzureHcl,
    TdxQuote,
    NvidiaReport,
    NvidiaJson,
}

impl Looks {
    fn matches(self, p: EvidencePlatform) -> bool {
        match self {
            Looks::SnpReport => matches!(p, EvidencePlatform::Snp | EvidencePlatform::SimSnp),
            Looks::AzureHcl => matches!(p, EvidencePlatform::AzureSnp | EvidencePlatform::Snp),
            Looks::TdxQuote => p == EvidencePlatform::Tdx,
            Looks::NvidiaReport | Looks::NvidiaJson => {
                matches!(p, EvidencePlatform::Nvidia | EvidencePlatform::SimGpu)
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Looks::SnpReport => "an SNP attestation report (--platform snp)",
            Looks::AzureHcl => "an Azure HCL report (--platform azure-snp)",
            Looks::TdxQuote => "a TDX quote (--platform tdx)",
            Looks::NvidiaReport => "an NVIDIA SPDM report (--platform nvidia)",
            Looks::NvidiaJson => "NVIDIA GPU evidence JSON (--platform nvidia)",
        }
    }
}

fn guess_platform(b: &[u8]) -> Option<Looks> {
    let r = crate::codec::Reader::new("evidence", b);
    let u8_at = |o: usize| r.u8_at(o, "").ok();
    let u16_at = |o: usize| r.array_at(o, "").ok().map(u16::from_le_bytes);
    let u32_at = |o: usize| r.u32_at(o, "").ok();
    if snp::azure::is_hcl(b) {
        return Some(Looks::AzureHcl);
    }
    if b.len() >= 0x4A0
        && u32_at(0).is_some_and(|v| (2..=5).contains(&v))
        && u32_at(0x34) == Some(1)
    {
        return Some(Looks::SnpReport);
    }
    if matches!(u16_at(0), Some(4 | 5)) && u16_at(2) == Some(2) && b.len() > 632 {
        return Some(Looks::TdxQuote);
    }
    // An SPDM 1.1..1.3 GET_MEASUREMENTS request (code 0xE0) opens an NVIDIA report.
    if b.len() > 64
        && u8_at(1) == Some(0xE0)
        && u8_at(0).is_some_and(|v| (0x10..=0x13).contains(&v))
    {
        return Some(Looks::NvidiaReport);
    }
    if b.trim_ascii_start()
        .first()
        .is_some_and(|c| *c == b'{' || *c == b'[')
    {
        return Some(Looks::NvidiaJson);
    }
    None
}
