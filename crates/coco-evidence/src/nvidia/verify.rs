//! Verification of an NVIDIA GPU attestation report, in the order of the spec (§6.3): strict
//! parse, the device chain to the pinned `NVIDIA Device Identity CA`, the report signature
//! with the leaf key, the request nonce, the FWID of the leaf against the report's FWID.

use std::time::SystemTime;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use super::abi::{NONCE_LEN, ParseOptions, Report};
use super::roots;
use crate::error::{EvidenceError, Result};
use crate::ocsp::{self, CertOcsp, OcspResponse};
use crate::verified::Verified;
use crate::x509::{Cert, LinkCache, build_chain};

/// Hopper's FWID extension on the leaf (TCG's older composite device id; the FWID is its last
/// element).
pub const OID_FWID_HOPPER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
/// Blackwell's FWID extension: TCG DICE TcbInfo; the FWID is the first of its `fwids`.
pub const OID_TCB_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");

/// The GPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// Hopper (GH100: H100, H200, GH200).
    Hopper,
    /// Blackwell (GB100 and later: B200, GB200).
    Blackwell,
}

impl Arch {
    /// `hopper` or `blackwell` (the claim value).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Hopper => "hopper",
            Arch::Blackwell => "blackwell",
        }
    }

    /// Reads the wire-format name (`HOPPER`, `BLACKWELL`, any case).
    pub fn from_name(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "hopper" => Ok(Arch::Hopper),
            "blackwell" => Ok(Arch::Blackwell),
            _ => Err(EvidenceError::Platform(format!(
                "unknown GPU architecture {s:?} (HOPPER or BLACKWELL)"
            ))),
        }
    }

    /// The architecture of a chip name (`GH100` -> Hopper, `GB100`/`GB20x` -> Blackwell).
    pub fn of_chip(chip: &str) -> Option<Self> {
        if chip.starts_with("GH") {
            Some(Arch::Hopper)
        } else if chip.starts_with("GB") {
            Some(Arch::Blackwell)
        } else {
            None
        }
    }
}

/// Options of verification: the time, the expected nonce, the device certificate chain, OCSP
/// responses and the chain cache.
#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
    /// The time at which certificates must be valid.
    pub at: SystemTime,
    /// The nonce the report must answer (the request nonce). `None` skips the freshness
    /// check, and the claims then say so (`"x-nvidia-gpu-attestation-report-nonce-match":
    /// null`).
    pub nonce: Option<[u8; NONCE_LEN]>,
    /// The architecture the evidence was collected as (the wire format's `arch`); it must
    /// agree with the certificate chain.
    pub arch: Option<Arch>,
    /// Parser options (trailing bytes).
    pub parse: ParseOptions,
    /// The device certificate chain of a raw report (the PEM chain NVML returns, leaf first,
    /// or the same certificates in any order; a copy of the pinned root is ignored). The wire
    /// format carries its own.
    pub certs: &'a [Cert],
    /// Certificate signatures already verified: the same GPU's next report costs one
    /// signature check (its own).
    pub cache: Option<&'a LinkCache>,
    /// OCSP responses for the device chain (NVIDIA's responder, `ocsp.ndis.nvidia.com`).
    /// Empty: revocation is not checked, and the claims say `"revocation_checked": false`.
    /// Otherwise every certificate between the leaf and the root must have a good response
    /// among them ([`ocsp::check`]), or verification fails.
    pub ocsp: &'a [OcspResponse],
    /// The nonce the OCSP requests carried, when the responses were fetched for this
    /// verification (each must carry it).
    pub ocsp_nonce: Option<&'a [u8]>,
    /// Where to get OCSP responses for the verified chain when [`Self::ocsp`] is empty (a
    /// service's cache of the vendor responder's answers).
    pub ocsp_source: Option<&'a dyn ocsp::OcspSource>,
}

impl<'a> VerifyOptions<'a> {
    /// Verification at `at`, without a nonce, certificates (yet) or cache.
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            nonce: None,
            arch: None,
            parse: ParseOptions::default(),
            certs: &[],
            cache: None,
            ocsp: &[],
            ocsp_nonce: None,
            ocsp_source: None,
        }
    }

    /// Requires the report to answer `nonce`.
    pub fn with_nonce(mut self, nonce: [u8; NONCE_LEN]) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// The device certificate chain of a raw report.
    pub fn with_certs(mut self, certs: &'a [Cert]) -> Self {
        self.certs = certs;
        self
    }

    /// Reuses certificate signature checks remembered in `cache` (and remembers new ones).
    pub fn with_cache(mut self, cache: &'a LinkCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Checks the device chain's revocation with these OCSP responses.
    pub fn with_ocsp(mut self, responses: &'a [OcspResponse]) -> Self {
        self.ocsp = responses;
        self
    }
}

/// A report whose chain, signature, nonce and FWID checks passed.
#[derive(Debug, Clone)]
pub struct GpuEvidence {
    /// The report.
    pub report: Report,
    /// The architecture (from the chain; equal to the declared one when one was given).
    pub arch: Arch,
    /// The chip (`GH100`, `GB100`), from the device identity certificate.
    pub chip: String,
    /// The chain, leaf (the attestation key) first, the pinned root last.
    pub chain: Vec<Cert>,
    /// The leaf certificate's FWID.
    pub leaf_fwid: Option<Vec<u8>>,
    /// Whether the report carried a FWID, so that it was compared with the leaf's (older
    /// firmware carries none, and NVIDIA's verifiers then skip the check).
    pub fwid_compared: bool,
    /// Whether the request nonce was compared with an expected nonce.
    pub nonce_checked: bool,
    /// The OCSP status of every certificate between the leaf and the root (NVIDIA's
    /// verifiers skip the leaf, which the GPU makes at boot, and the pinned root); empty when
    /// no responses were given.
    pub ocsp: Vec<CertOcsp>,
}

impl GpuEvidence {
    /// `hwmodel`: the device identity certificate's common name (`GH100 A01 GSP BROM`).
    pub fn hwmodel(&self) -> String {
        self.chain.get(1).map(Cert::subject_cn).unwrap_or_default()
    }

    /// `ueid`: the leaf's serial number in decimal.
    pub fn ueid(&self) -> String {
        self.chain[0].serial_decimal()
    }

    /// Whether the chain was checked for revocation (a good OCSP response for every
    /// certificate between the leaf and the root).
    pub fn revocation_checked(&self) -> bool {
        !self.ocsp.is_empty()
    }
}

/// The certificates of a device chain (leaf first, root last) that OCSP is asked about: all
/// but the leaf and the root.
pub fn ocsp_range(chain_len: usize) -> std::ops::Range<usize> {
    1..chain_len.saturating_sub(1)
}

#[derive(der::Sequence)]
struct Fwid {
    hash_alg: ObjectIdentifier,
    digest: OctetString,
}

fn fwid_digest(f: Fwid, what: &str) -> Result<Vec<u8>> {
    if f.hash_alg != SHA384 || f.digest.as_bytes().len() != 48 {
        return Err(EvidenceError::Certificate {
            cert: "GPU leaf".into(),
            reason: format!(
                "{what}: FWID is {} with {} bytes, expected SHA-384",
                f.hash_alg,
                f.digest.as_bytes().len()
            ),
        });
    }
    Ok(f.digest.as_bytes().to_vec())
}

/// The FWID the leaf certificate carries for `arch`, if it has the extension.
pub fn leaf_fwid(leaf: &Cert, arch: Arch) -> Result<Option<Vec<u8>>> {
    let bad = |reason: String| EvidenceError::Certificate {
        cert: format!("GPU leaf ({})", leaf.subject_cn()),
        reason,
    };
    match arch {
        Arch::Hopper => {
            let Some(v) = leaf.extension(&OID_FWID_HOPPER) else {
                return Ok(None);
            };
            let items = Vec::<der::Any>::from_der(v)
                .map_err(|e| bad(format!("FWID extension {OID_FWID_HOPPER}: {e}")))?;
            let last = items
                .last()
                .ok_or_else(|| bad(format!("FWID extension {OID_FWID_HOPPER} is empty")))?;
            let f: Fwid = last
                .decode_as()
                .map_err(|e| bad(format!("FWID extension {OID_FWID_HOPPER}: {e}")))?;
            fwid_digest(f, "Hopper FWID extension").map(Some)
        }
        Arch::Blackwell => {
            let Some(v) = leaf.extension(&OID_TCB_INFO) else {
                return Ok(None);
            };
            let items = Vec::<der::Any>::from_der(v)
                .map_err(|e| bad(format!("TcbInfo {OID_TCB_INFO}: {e}")))?;
            let fwids = items
                .iter()
                .find(|a| {
                    a.tag()
                        == Tag::ContextSpecific {
                            constructed: true,
                            number: TagNumber(6),
                        }
                })
                .ok_or_else(|| bad("TcbInfo has no fwids [6]".into()))?;
            let mut r =
                SliceReader::new(fwids.value()).map_err(|e| bad(format!("TcbInfo fwids: {e}")))?;
            let first: Fwid = r.decode().map_err(|e| bad(format!("TcbInfo fwids: {e}")))?;
            fwid_digest(first, "TcbInfo").map(Some)
        }
    }
}

/// Verifies a parsed report ([`Report::parse_with`]) against the certificate chain of
/// `opts` ([`VerifyOptions::certs`]): the chain to the pinned root, the report signature, the
/// nonce and the FWID.
pub fn verify(report: Report, opts: &VerifyOptions<'_>) -> Result<Verified<GpuEvidence>> {
    let (certs, cache) = (opts.certs, opts.cache);
    // 1. The chain, leaf first, to the pinned root.
    let chain = build_chain(certs, roots::device_root(), opts.at, "GPU device", cache)?;
    let leaf = &chain[0];
    let identity = chain.get(1).filter(|_| chain.len() >= 3).ok_or_else(|| {
        EvidenceError::Chain(crate::error::ChainError::MissingRole {
            chain: "GPU device chain".into(),
            role: "device identity".into(),
        })
    })?;
    let chip = identity
        .subject_cn()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let arch = Arch::of_chip(&chip).ok_or_else(|| {
        EvidenceError::Platform(format!(
            "GPU chip {chip:?} (from {:?}) is neither Hopper nor Blackwell",
            identity.subject_cn()
        ))
    })?;
    if let Some(declared) = opts.arch
        && declared != arch
    {
        return Err(EvidenceError::Mismatch {
            what: "GPU architecture".into(),
            evidence: declared.name().into(),
            endorsement: format!("{} ({chip})", arch.name()),
        });
    }
    // 2. The signature over request ‖ response up to the signature, with the leaf key.
    leaf.verify_ecdsa_fixed(
        report.signed_bytes(),
        &report.signature,
        "GPU attestation report",
    )?;
    // 3. Freshness: the request nonce.
    if let Some(expected) = &opts.nonce
        && *expected != report.request.nonce
    {
        return Err(EvidenceError::Mismatch {
            what: "GPU report nonce".into(),
            evidence: hex::encode(report.request.nonce),
            endorsement: hex::encode(expected),
        });
    }
    // 4. FWID: the leaf's must equal the report's, when the report has one.
    let lf = leaf_fwid(leaf, arch)?;
    let fwid_compared = match (report.opaque.fwid(), &lf) {
        (None, _) => false,
        (Some(r), Some(l)) if r == l.as_slice() => true,
        (Some(r), l) => {
            return Err(EvidenceError::Mismatch {
                what: "GPU FWID".into(),
                evidence: hex::encode(r),
                endorsement: l
                    .as_ref()
                    .map(hex::encode)
                    .unwrap_or_else(|| "no FWID extension on the leaf".into()),
            });
        }
    };
    // 5. Revocation, when OCSP responses were given.
    let mut o = ocsp::CheckOptions::at(opts.at);
    o.nonce = opts.ocsp_nonce;
    o.cache = opts.cache;
    let range = ocsp_range(chain.len());
    let ocsp = match (opts.ocsp, opts.ocsp_source) {
        ([], None) => Vec::new(),
        ([], Some(source)) => {
            let fetched = source.responses(&chain, range.clone(), opts.at)?;
            ocsp::check_chain(&chain, range, &fetched, &o)?
        }
        (given, _) => ocsp::check_chain(&chain, range, given, &o)?,
    };
    Ok(Verified::new(GpuEvidence {
        ocsp,
        nonce_checked: opts.nonce.is_some(),
        report,
        arch,
        chip,
        chain,
        leaf_fwid: lf,
        fwid_compared,
    }))
}

impl GpuEvidence {
    /// The RIM service id of the driver RIM: `NV_GPU_DRIVER_GH100_<version>` on Hopper,
    /// `NV_GPU_CC_DRIVER_<CHIP_INFO, else GB100>_<version>` on Blackwell.
    pub fn driver_rim_id(&self) -> Option<String> {
        let ver = self.report.opaque.driver_version()?;
        Some(match self.arch {
            Arch::Hopper => format!("NV_GPU_DRIVER_GH100_{ver}"),
            Arch::Blackwell => {
                let chip = self
                    .report
                    .opaque
                    .chip_info()
                    .unwrap_or_else(|| "GB100".into());
                format!("NV_GPU_CC_DRIVER_{chip}_{ver}")
            }
        })
    }

    /// The RIM service id of the VBIOS RIM:
    /// `NV_GPU_VBIOS_<PROJECT>_<PROJECT_SKU>_<CHIP_SKU>_<version without dots>`.
    pub fn vbios_rim_id(&self) -> Option<String> {
        let o = &self.report.opaque;
        Some(format!(
            "NV_GPU_VBIOS_{}_{}_{}_{}",
            o.project()?,
            o.project_sku()?,
            o.chip_sku()?,
            o.vbios_version()?.replace('.', "").to_ascii_uppercase()
        ))
    }
}
