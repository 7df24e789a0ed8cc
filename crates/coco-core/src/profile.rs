//! coco's CoRIM profile for confidential-AI platforms (docs/PROFILE.md): the environments and
//! measurement keys of TDX TDs, SEV-SNP VMs and NVIDIA GPUs, expressed with base CoRIM types
//! only, and the conversion of verified evidence claims into the same shape so that
//! [`compare`](crate::corim::compare) can match them.

use ciborium::value::Value;
use serde_json::Value as Json;

use crate::corim::compare::sha384;
use crate::corim::{Class, Environment, IntRange, Mkey, Mval, RawValue, Svn, Version};

/// The profile URI of coco reference values.
pub const PROFILE: &str = "tag:coco.example,2026:cc-corim#1";
/// AMD's SNP profile URIs, accepted for SNP-only CoRIMs.
pub const AMD_SNP_PROFILES: &[&str] = &[
    "tag:amd.com,2024:snp-corim-profile",
    "tag:amd.com,2025:snp-corim-profile",
];

/// Whether a CoRIM profile is one this crate appraises.
pub fn is_known(profile: &str) -> bool {
    profile == PROFILE || AMD_SNP_PROFILES.contains(&profile)
}

/// SNP class-id: OID 1.3.6.1.4.1.3704.3.1 (VCEK-endorsed), RFC 9090 content bytes.
pub const SNP_CLASS_VCEK: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x03, 0x01];
/// SNP class-id: OID 1.3.6.1.4.1.3704.3.2 (VLEK-endorsed).
pub const SNP_CLASS_VLEK: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x03, 0x02];

/// The TDX TD environment: class {vendor "Intel Corporation", model "TDX TD"}.
pub fn tdx_environment() -> Environment {
    Environment {
        class: Some(Class {
            vendor: Some("Intel Corporation".into()),
            model: Some("TDX TD".into()),
            ..Class::default()
        }),
        ..Environment::default()
    }
}

/// The SNP VM environment: class-id `111(1.3.6.1.4.1.3704.3.1)` (or `.2` for VLEK).
pub fn snp_environment(vlek: bool) -> Environment {
    let oid = if vlek { SNP_CLASS_VLEK } else { SNP_CLASS_VCEK };
    Environment {
        class: Some(Class {
            class_id: Some(Value::Tag(111, Box::new(Value::Bytes(oid.to_vec())))),
            ..Class::default()
        }),
        ..Environment::default()
    }
}

/// The NVIDIA GPU environment: class {vendor "NVIDIA", model = chip (e.g. "GH100")}.
pub fn nvidia_environment(chip: &str) -> Environment {
    Environment {
        class: Some(Class {
            vendor: Some("NVIDIA".into()),
            model: Some(chip.into()),
            ..Class::default()
        }),
        ..Environment::default()
    }
}

/// TDX measurement keys stated as SHA-384 digests.
pub const TDX_DIGEST_KEYS: &[(&str, &str)] = &[
    ("mrtd", "mr_td"),
    ("rtmr0", "rtmr0"),
    ("rtmr1", "rtmr1"),
    ("rtmr2", "rtmr2"),
    ("rtmr3", "rtmr3"),
    ("mrseam", "mr_seam"),
    ("mrsignerseam", "mr_signer_seam"),
];
/// TDX measurement keys stated as raw values (masks allowed).
pub const TDX_RAW_KEYS: &[(&str, &str)] = &[
    ("mrconfigid", "mr_config_id"),
    ("mrowner", "mr_owner"),
    ("mrownerconfig", "mr_owner_config"),
    ("td_attributes", "td_attributes"),
    ("xfam", "xfam"),
    ("report_data", "report_data"),
];

/// SNP mkeys (AMD's numbering).
pub mod snp_mkey {
    /// GUEST_SVN.
    pub const GUEST_SVN: u64 = 1;
    /// POLICY (8 bytes LE).
    pub const POLICY: u64 = 2;
    /// FAMILY_ID.
    pub const FAMILY_ID: u64 = 3;
    /// IMAGE_ID.
    pub const IMAGE_ID: u64 = 4;
    /// VMPL.
    pub const VMPL: u64 = 5;
    /// PLATFORM_INFO (8 bytes LE).
    pub const PLATFORM_INFO: u64 = 7;
    /// MEASUREMENT.
    pub const MEASUREMENT: u64 = 641;
    /// HOST_DATA.
    pub const HOST_DATA: u64 = 642;
    /// ID_KEY_DIGEST.
    pub const ID_KEY_DIGEST: u64 = 643;
    /// AUTHOR_KEY_DIGEST.
    pub const AUTHOR_KEY_DIGEST: u64 = 644;
    /// REPORTED_TCB (TCB_VERSION as u64, compared per component).
    pub const REPORTED_TCB: u64 = 647;
}

/// NVIDIA GPU mkeys beyond the measurement indices.
pub mod nvidia_mkey {
    /// The SPDM measurement index of NVDEC0 (RIM index 35). NVIDIA's verifiers do not compare
    /// it when the report says NVDEC0 is disabled (`opaque.nvdec0_status: "disabled"`), and
    /// neither does appraisal under this profile.
    pub const NVDEC0_INDEX: u64 = 36;
    /// Driver version.
    pub const DRIVER_VERSION: &str = "driver-version";
    /// VBIOS version.
    pub const VBIOS_VERSION: &str = "vbios-version";
}

/// An SNP TCB_VERSION's components, by product layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnpTcb {
    /// Boot loader SVN.
    pub bootloader: u8,
    /// TEE SVN.
    pub tee: u8,
    /// SNP firmware SVN.
    pub snp: u8,
    /// Microcode SVN.
    pub microcode: u8,
    /// FMC SVN (Turin).
    pub fmc: Option<u8>,
}

impl SnpTcb {
    /// Decodes a TCB_VERSION u64 with the layout of `product` (`milan`, `genoa`, `turin`).
    pub fn decode(v: u64, product: &str) -> Self {
        let b = v.to_le_bytes();
        if product == "turin" {
            SnpTcb {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            SnpTcb {
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
                fmc: None,
            }
        }
    }

    /// Encodes with the layout of `product`.
    pub fn encode(&self, product: &str) -> u64 {
        let mut b = [0u8; 8];
        if product == "turin" {
            b[0] = self.fmc.unwrap_or(0);
            b[1] = self.bootloader;
            b[2] = self.tee;
            b[3] = self.snp;
        } else {
            b[0] = self.bootloader;
            b[1] = self.tee;
            b[6] = self.snp;
        }
        b[7] = self.microcode;
        u64::from_le_bytes(b)
    }

    /// Whether every component is at least `min`'s.
    pub fn at_least(&self, min: &SnpTcb) -> bool {
        self.bootloader >= min.bootloader
            && self.tee >= min.tee
            && self.snp >= min.snp
            && self.microcode >= min.microcode
            && min.fmc.is_none_or(|m| self.fmc.is_some_and(|f| f >= m))
    }

    /// From the claims' `{"bootloader","tee","snp","microcode"[, "fmc"]}` object.
    pub fn from_claims(v: &Json) -> Option<Self> {
        let c = |k: &str| {
            v.get(k)
                .and_then(Json::as_u64)
                .and_then(|n| u8::try_from(n).ok())
        };
        Some(SnpTcb {
            bootloader: c("bootloader")?,
            tee: c("tee")?,
            snp: c("snp")?,
            microcode: c("microcode")?,
            fmc: c("fmc"),
        })
    }
}

fn hex_field(claims: &Json, name: &str) -> Option<Vec<u8>> {
    claims
        .get(name)
        .and_then(Json::as_str)
        .and_then(|s| hex::decode(s).ok())
}

fn raw(value: Vec<u8>) -> Mval {
    Mval {
        raw: Some(RawValue { value, mask: None }),
        ..Mval::default()
    }
}

fn digest(value: Vec<u8>) -> Mval {
    Mval {
        digests: Some(sha384(&value)),
        ..Mval::default()
    }
}

/// The evidence measurements of verified TDX claims, by mkey.
pub fn tdx_evidence(claims: &Json) -> Vec<(Mkey, Mval)> {
    let mut out = Vec::new();
    for (mkey, field) in TDX_DIGEST_KEYS {
        if let Some(v) = hex_field(claims, field) {
            out.push((Mkey::Text((*mkey).into()), digest(v)));
        }
    }
    for (mkey, field) in TDX_RAW_KEYS {
        if let Some(v) = hex_field(claims, field) {
            out.push((Mkey::Text((*mkey).into()), raw(v)));
        }
    }
    out
}

/// The evidence measurements of verified SNP claims, by mkey. REPORTED_TCB is given as an
/// exact SVN of the TCB_VERSION u64 (compared per component by the appraisal).
pub fn snp_evidence(claims: &Json) -> Vec<(Mkey, Mval)> {
    use snp_mkey::*;
    let mut out = Vec::new();
    let product = claims.get("product").and_then(Json::as_str).unwrap_or("");
    if let Some(v) = hex_field(claims, "measurement") {
        out.push((Mkey::Uint(MEASUREMENT), digest(v)));
    }
    for (k, f) in [
        (ID_KEY_DIGEST, "id_key_digest"),
        (AUTHOR_KEY_DIGEST, "author_key_digest"),
    ] {
        if let Some(v) = hex_field(claims, f) {
            out.push((Mkey::Uint(k), digest(v)));
        }
    }
    for (k, f) in [
        (HOST_DATA, "host_data"),
        (FAMILY_ID, "family_id"),
        (IMAGE_ID, "image_id"),
    ] {
        if let Some(v) = hex_field(claims, f) {
            out.push((Mkey::Uint(k), raw(v)));
        }
    }
    for (k, f) in [(POLICY, "policy"), (PLATFORM_INFO, "platform_info")] {
        if let Some(n) = claims.get(f).and_then(Json::as_u64) {
            out.push((Mkey::Uint(k), raw(n.to_le_bytes().to_vec())));
        }
    }
    if let Some(n) = claims.get("guest_svn").and_then(Json::as_u64) {
        out.push((
            Mkey::Uint(GUEST_SVN),
            Mval {
                svn: Some(Svn::Exact(n)),
                ..Mval::default()
            },
        ));
    }
    if let Some(n) = claims.get("vmpl").and_then(Json::as_i64) {
        out.push((
            Mkey::Uint(VMPL),
            Mval {
                int_range: Some(IntRange::Exact(n.into())),
                ..Mval::default()
            },
        ));
    }
    if let Some(t) = claims.get("reported_tcb").and_then(SnpTcb::from_claims) {
        out.push((
            Mkey::Uint(REPORTED_TCB),
            Mval {
                svn: Some(Svn::Exact(t.encode(product))),
                ..Mval::default()
            },
        ));
    }
    out
}

/// The evidence measurements of verified NVIDIA GPU claims, by mkey: each measurement index
/// (1-based SPDM block index) as a SHA-384 digest, and the driver and VBIOS versions.
pub fn nvidia_evidence(claims: &Json) -> Vec<(Mkey, Mval)> {
    let mut out = Vec::new();
    if let Some(m) = claims.get("measurements").and_then(Json::as_object) {
        for (idx, v) in m {
            if let (Ok(i), Some(bytes)) = (
                idx.parse::<u64>(),
                v.as_str().and_then(|s| hex::decode(s).ok()),
            ) {
                out.push((Mkey::Uint(i), digest(bytes)));
            }
        }
    }
    for (mkey, field, scheme) in [
        (nvidia_mkey::DRIVER_VERSION, "driver_version", 1),
        (nvidia_mkey::VBIOS_VERSION, "vbios_version", 3),
    ] {
        if let Some(v) = claims.get(field).and_then(Json::as_str) {
            out.push((
                Mkey::Text(mkey.into()),
                Mval {
                    version: Some(Version {
                        version: v.into(),
                        scheme: Some(scheme),
                    }),
                    ..Mval::default()
                },
            ));
        }
    }
    out
}
