//! NVIDIA reference integrity manifests (RIMs): ISO/IEC 19770-2 SWID tags with TCG RIM
//! attributes, one for the driver and one for the VBIOS, signed with an enveloped XML-DSig
//! (C14N 1.1, SHA-384, ECDSA P-384) whose certificate chain ends in the pinned `NVIDIA CoRIM
//! signing Root CA`.
//!
//! [`RimDocument::parse`] reads a RIM (nothing trusted) -> [`verify`] checks its signature,
//! digest and chain at an injected time and returns a [`Verified`] [`SignedRim`] ->
//! [`compare`] matches a verified GPU report against a driver and a VBIOS RIM the way
//! NVIDIA's verifiers do (spec §5.4), and [`reference_toml`] turns the RIMs into the
//! `[[nvidia]]` reference values of `coco corim build`, so that appraisal has one source of
//! truth (CoRIM) whatever the reference values came from.
//!
//! RIM indices are 0-based; SPDM measurement blocks 1-based: RIM index `i` is block `i + 1`.
//! Claims and CoRIMs in coco use the SPDM index.

use std::time::SystemTime;

use base64::Engine;
use sha2::{Digest, Sha384};

use super::abi::{Report, Status};
use super::roots;
use super::xml::{self, Element};
use crate::error::{EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::{Cert, build_chain};

const S: &str = "NVIDIA RIM";
/// The SWID tag namespace.
pub const NS_SWID: &str = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
/// The XML-DSig namespace.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The TCG RIM information model namespace.
pub const NS_TCG_RIM: &str = "https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/";
/// The namespace of the `HashN` attributes (SHA-384 digests).
pub const NS_SHA384: &str = "http://www.w3.org/2001/04/xmlenc#sha384";
const C14N_11: &str = "http://www.w3.org/2006/12/xml-c14n11";
const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
const DIGEST_SHA384: [&str; 2] = [
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha384",
];
/// The RIM index NVIDIA skips when NVDEC0 is disabled (SPDM block 36).
pub const NVDEC0_RIM_INDEX: u32 = 35;

fn bad(field: &'static str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::malformed(S, field, 0, reason)
}

/// One `<Resource type="Measurement">` of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RimMeasurement {
    /// The RIM index (0-based; SPDM block `index + 1`).
    pub index: u32,
    /// Whether the measurement is compared (`active="True"`).
    pub active: bool,
    /// The name (`Measurement_7`, `HashedMeasurement_1_FSP`).
    pub name: String,
    /// The measurement size in bytes.
    pub size: usize,
    /// The accepted values (`Hash0`..`Hash{alternatives-1}`).
    pub alternatives: Vec<Vec<u8>>,
}

/// The contents of a RIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rim {
    /// `tagId`.
    pub tag_id: String,
    /// `name` of the SoftwareIdentity (the chip, `GH100`).
    pub name: String,
    /// `Meta/@colloquialVersion`: the driver version (`545.00`) or VBIOS version
    /// (`96.00.5E.00.01`).
    pub colloquial_version: String,
    /// `Meta/@product`.
    pub product: String,
    /// `Meta/@FirmwareManufacturerId` (TCG), NVIDIA's `oemid` claim.
    pub firmware_manufacturer_id: Option<String>,
    /// The measurements, in document order.
    pub measurements: Vec<RimMeasurement>,
}

impl Rim {
    /// The active measurements.
    pub fn active(&self) -> impl Iterator<Item = &RimMeasurement> {
        self.measurements.iter().filter(|m| m.active)
    }
}

/// A parsed, unverified RIM document.
#[derive(Debug, Clone)]
pub struct RimDocument {
    root: Element,
    /// The contents (unverified until [`verify`] returns them).
    pub rim: Rim,
}

fn parse_bool(v: &str, field: &'static str) -> Result<bool> {
    match v {
        "True" | "true" => Ok(true),
        "False" | "false" => Ok(false),
        _ => Err(bad(field, format!("{v:?} is not a boolean"))),
    }
}

impl RimDocument {
    /// Parses a RIM.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let root = xml::parse(bytes)?;
        if root.ns != NS_SWID || root.local != "SoftwareIdentity" {
            return Err(bad(
                "SoftwareIdentity",
                format!(
                    "the root element is <{}>, not a SWID SoftwareIdentity",
                    root.qname
                ),
            ));
        }
        let attr = |e: &Element, name: &'static str| -> Result<String> {
            e.attr("", name)
                .map(str::to_string)
                .ok_or_else(|| bad(name, format!("<{}> has no {name}", e.qname)))
        };
        let meta = root.only(NS_SWID, "Meta")?;
        let payload = root.only(NS_SWID, "Payload")?;
        let mut measurements: Vec<RimMeasurement> = Vec::new();
        for r in payload.children_named(NS_SWID, "Resource") {
            if r.attr("", "type") != Some("Measurement") {
                continue;
            }
            let index: u32 = attr(r, "index")?
                .parse()
                .map_err(|_| bad("index", "not an integer"))?;
            if index >= 255 {
                return Err(bad(
                    "index",
                    format!("{index} is beyond the 255 SPDM blocks"),
                ));
            }
            if measurements.iter().any(|m| m.index == index) {
                return Err(bad("index", format!("index {index} appears twice")));
            }
            let n: usize = attr(r, "alternatives")?
                .parse()
                .ok()
                .filter(|n| (1..=16).contains(n))
                .ok_or_else(|| bad("alternatives", format!("index {index}: not 1 to 16")))?;
            let size: usize = attr(r, "size")?
                .parse()
                .ok()
                .filter(|s| (1..=64).contains(s))
                .ok_or_else(|| bad("size", format!("index {index}: not 1 to 64")))?;
            let mut alternatives = Vec::with_capacity(n);
            for j in 0..n {
                let h = r.attr(NS_SHA384, &format!("Hash{j}")).ok_or_else(|| {
                    bad(
                        "Hash",
                        format!("index {index}: Hash{j} of {n} alternatives is missing"),
                    )
                })?;
                let v = hex::decode(h)
                    .map_err(|_| bad("Hash", format!("index {index}: Hash{j} is not hex")))?;
                if v.len() != size {
                    return Err(bad(
                        "Hash",
                        format!(
                            "index {index}: Hash{j} has {} bytes, size says {size}",
                            v.len()
                        ),
                    ));
                }
                alternatives.push(v);
            }
            measurements.push(RimMeasurement {
                index,
                active: parse_bool(&attr(r, "active")?, "active")?,
                name: r.attr("", "name").unwrap_or_default().to_string(),
                size,
                alternatives,
            });
        }
        let rim = Rim {
            tag_id: attr(&root, "tagId")?,
            name: attr(&root, "name")?,
            colloquial_version: attr(meta, "colloquialVersion")?,
            product: meta.attr("", "product").unwrap_or_default().to_string(),
            firmware_manufacturer_id: meta
                .attr(NS_TCG_RIM, "FirmwareManufacturerId")
                .map(str::to_string),
            measurements,
        };
        Ok(RimDocument { root, rim })
    }
}

/// A RIM whose XML signature, digest and certificate chain verified.
#[derive(Debug, Clone)]
pub struct SignedRim {
    /// The contents.
    pub rim: Rim,
    /// The signer's chain, leaf first, the pinned RIM root last.
    pub chain: Vec<Cert>,
}

impl std::ops::Deref for SignedRim {
    type Target = Rim;
    fn deref(&self) -> &Rim {
        &self.rim
    }
}

fn algorithm<'a>(e: &'a Element, local: &'static str) -> Result<&'a str> {
    e.only(NS_DSIG, local)?
        .attr("", "Algorithm")
        .ok_or_else(|| bad("Signature", format!("<{local}> has no Algorithm")))
}

fn b64(text: &str, field: &'static str) -> Result<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| bad(field, format!("not base64: {e}")))
}

/// Verifies a RIM's enveloped XML signature and its chain to the pinned RIM root at `at`.
/// Only what NVIDIA signs is accepted: one reference to the whole document (`URI=""`) with
/// the enveloped-signature transform and C14N, SHA-384, ECDSA P-384; the signer is the leaf
/// of the KeyInfo certificates.
pub fn verify(doc: RimDocument, at: SystemTime) -> Result<Verified<SignedRim>> {
    let root = &doc.root;
    let sig = root.only(NS_DSIG, "Signature")?;
    let signed_info = sig.only(NS_DSIG, "SignedInfo")?;
    let c14n = algorithm(signed_info, "CanonicalizationMethod")?;
    if c14n != C14N_11 && c14n != C14N_10 {
        return Err(bad(
            "CanonicalizationMethod",
            format!("{c14n} is not C14N 1.0/1.1"),
        ));
    }
    let method = algorithm(signed_info, "SignatureMethod")?;
    if method != ECDSA_SHA384 {
        return Err(bad(
            "SignatureMethod",
            format!("{method} is not ECDSA P-384/SHA-384"),
        ));
    }
    let reference = signed_info.only(NS_DSIG, "Reference")?;
    if reference.attr("", "URI") != Some("") {
        return Err(bad(
            "Reference",
            "must reference the whole document (URI=\"\")",
        ));
    }
    let transforms: Vec<&str> = reference
        .only(NS_DSIG, "Transforms")?
        .children_named(NS_DSIG, "Transform")
        .map(|t| t.attr("", "Algorithm").unwrap_or(""))
        .collect();
    let ok_transforms = matches!(
        transforms.as_slice(),
        [ENVELOPED] | [ENVELOPED, C14N_11] | [ENVELOPED, C14N_10]
    );
    if !ok_transforms {
        return Err(bad(
            "Transforms",
            format!("{transforms:?} is not enveloped-signature + C14N"),
        ));
    }
    let digest_method = algorithm(reference, "DigestMethod")?;
    if !DIGEST_SHA384.contains(&digest_method) {
        return Err(bad(
            "DigestMethod",
            format!("{digest_method} is not SHA-384"),
        ));
    }
    // C14N 1.0 and 1.1 differ only in xml:* attributes inherited into a subset.
    if root
        .attrs
        .iter()
        .chain(&sig.attrs)
        .any(|a| a.ns == xml::XML_NS)
    {
        return Err(bad(
            "Signature",
            "xml:* attributes above SignedInfo are not supported",
        ));
    }
    let digest_value = b64(
        &reference.only(NS_DSIG, "DigestValue")?.text(),
        "DigestValue",
    )?;
    let signature_value = b64(
        &sig.only(NS_DSIG, "SignatureValue")?.text(),
        "SignatureValue",
    )?;
    let certs = sig
        .only(NS_DSIG, "KeyInfo")?
        .only(NS_DSIG, "X509Data")?
        .children_named(NS_DSIG, "X509Certificate")
        .map(|c| Cert::from_der(&b64(&c.text(), "X509Certificate")?))
        .collect::<Result<Vec<Cert>>>()?;

    // The reference: the document without the Signature element.
    let is_sig = |e: &Element| std::ptr::eq(e, sig);
    let digest = Sha384::digest(xml::canonicalize(root, &is_sig));
    if digest.as_slice() != digest_value.as_slice() {
        return Err(EvidenceError::signature(
            format!("RIM {:?}", doc.rim.tag_id),
            crate::error::SignatureCause::DigestMismatch {
                computed: hex::encode(digest),
                declared: hex::encode(&digest_value),
            },
        ));
    }
    let chain = build_chain(&certs, roots::rim_root(), at, "RIM signing", None)?;
    let leaf = &chain[0];
    leaf.verify_ecdsa_fixed(
        &xml::canonicalize(signed_info, &|_| false),
        &signature_value,
        &format!("RIM {:?} SignedInfo", doc.rim.colloquial_version),
    )?;
    Ok(Verified::new(SignedRim {
        rim: doc.rim,
        chain,
    }))
}

/// Which RIM a measurement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RimSource {
    /// The driver RIM.
    Driver,
    /// The VBIOS RIM.
    Vbios,
}

impl RimSource {
    /// `driver` or `vbios`.
    pub fn name(self) -> &'static str {
        match self {
            RimSource::Driver => "driver",
            RimSource::Vbios => "vbios",
        }
    }
}

/// A measurement that matches none of its golden values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The RIM index (SPDM block `index + 1`).
    pub index: u32,
    /// Which RIM.
    pub source: RimSource,
    /// The golden values (hex) and their size.
    pub golden: Vec<String>,
    /// The golden size.
    pub golden_size: usize,
    /// The runtime value (hex), if the report has the block.
    pub runtime: Option<String>,
}

/// The result of comparing a report with its RIMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Driver RIM colloquialVersion equals the report's driver version (None: no driver RIM).
    pub driver_version_match: Option<bool>,
    /// VBIOS RIM colloquialVersion equals the report's VBIOS version (case-insensitively).
    pub vbios_version_match: Option<bool>,
    /// RIM indices active in both RIMs.
    pub conflicts: Vec<u32>,
    /// Number of active golden measurements compared.
    pub compared: usize,
    /// RIM indices skipped (35 when NVDEC0 is disabled).
    pub skipped: Vec<u32>,
    /// Every mismatching measurement.
    pub mismatches: Vec<Mismatch>,
}

impl Comparison {
    /// Whether everything matched (NVIDIA's `measres: success`).
    pub fn success(&self) -> bool {
        self.driver_version_match != Some(false)
            && self.vbios_version_match != Some(false)
            && self.conflicts.is_empty()
            && self.mismatches.is_empty()
    }

    /// As JSON: NVIDIA's claim names where they exist.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "measres": if self.success() { "success" } else { "fail" },
            "x-nvidia-gpu-driver-rim-version-match": self.driver_version_match,
            "x-nvidia-gpu-vbios-rim-version-match": self.vbios_version_match,
            "x-nvidia-gpu-vbios-index-no-conflict": self.conflicts.is_empty(),
            "compared": self.compared,
            "skipped_rim_indices": self.skipped,
            "x-nvidia-mismatch-measurement-records": self.mismatches.iter().map(|m| serde_json::json!({
                "index": m.index,
                "spdm_index": u64::from(m.index) + 1,
                "measurementSource": m.source.name(),
                "goldenSize": m.golden_size,
                "goldenValue": m.golden,
                "runtimeValue": m.runtime,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Compares a report's measurements with the active measurements of its driver and VBIOS
/// RIMs (either may be absent): a measurement matches when any alternative equals the
/// runtime value and the sizes agree; RIM index 35 is skipped when NVDEC0 is disabled;
/// an index active in both RIMs is a conflict. Every mismatch is reported.
pub fn compare(report: &Report, driver: Option<&Rim>, vbios: Option<&Rim>) -> Comparison {
    let o = &report.opaque;
    let driver_version_match =
        driver.map(|r| o.driver_version().as_deref() == Some(r.colloquial_version.as_str()));
    let vbios_version_match = vbios.map(|r| {
        o.vbios_version()
            .is_some_and(|v| v.eq_ignore_ascii_case(&r.colloquial_version))
    });
    let conflicts: Vec<u32> = match (driver, vbios) {
        (Some(d), Some(v)) => d
            .active()
            .filter(|m| v.active().any(|n| n.index == m.index))
            .map(|m| m.index)
            .collect(),
        _ => Vec::new(),
    };
    let nvdec_off = o.nvdec0_status() == Some(Status::Disabled);
    let mut skipped = Vec::new();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (source, rim) in [(RimSource::Driver, driver), (RimSource::Vbios, vbios)] {
        let Some(rim) = rim else { continue };
        for m in rim.active() {
            if nvdec_off && m.index == NVDEC0_RIM_INDEX {
                skipped.push(m.index);
                continue;
            }
            compared += 1;
            let runtime = m
                .index
                .checked_add(1)
                .and_then(|i| u8::try_from(i).ok())
                .and_then(|i| report.measurement(i));
            let ok = runtime.is_some_and(|r| {
                r.len() == m.size && m.alternatives.iter().any(|a| a.as_slice() == r)
            });
            if !ok {
                mismatches.push(Mismatch {
                    index: m.index,
                    source,
                    golden: m.alternatives.iter().map(hex::encode).collect(),
                    golden_size: m.size,
                    runtime: runtime.map(hex::encode),
                });
            }
        }
    }
    Comparison {
        driver_version_match,
        vbios_version_match,
        conflicts,
        compared,
        skipped,
        mismatches,
    }
}

/// The RIMs as the `[[nvidia]]` reference values of `coco corim build` (REFS.toml): the
/// chip, the driver and VBIOS versions, and every active measurement by SPDM index (RIM index
/// + 1) with its alternatives. Fails when both RIMs are active at one index.
pub fn reference_toml(chip: &str, driver: Option<&Rim>, vbios: Option<&Rim>) -> Result<String> {
    let mut out = format!("[[nvidia]]\nchip = {chip:?}\n");
    if let Some(d) = driver {
        out += &format!("driver_version = [{:?}]\n", d.colloquial_version);
    }
    if let Some(v) = vbios {
        out += &format!(
            "vbios_version = [{:?}]\n",
            v.colloquial_version.to_ascii_uppercase()
        );
    }
    out += "[nvidia.measurements]\n";
    let mut seen = std::collections::BTreeSet::new();
    for rim in [driver, vbios].into_iter().flatten() {
        for m in rim.active() {
            if !seen.insert(m.index) {
                return Err(EvidenceError::Mismatch {
                    what: format!("RIM index {}", m.index),
                    evidence: "active in the driver RIM".into(),
                    endorsement: "active in the VBIOS RIM".into(),
                });
            }
            let alts: Vec<String> = m
                .alternatives
                .iter()
                .map(|a| format!("{:?}", hex::encode(a)))
                .collect();
            out += &format!("\"{}\" = [{}]\n", u64::from(m.index) + 1, alts.join(", "));
        }
    }
    Ok(out)
}
