//! coco's CoRIM profile for confidential-AI platforms (docs/PROFILE.md): the environments and
//! measurement keys of TDX TDs, SEV-SNP VMs and NVIDIA GPUs, expressed with base CoRIM types
//! only, and the conversion of verified evidence claims into the same shape so that
//! [`compare`](crate::corim::compare) can match them; [`build`] writes CoRIMs of this profile
//! from TOML.

pub mod build;

use ciborium::value::Value;

use crate::claims::{GpuClaims, SnpClaims, TdxClaims};
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
            class_id: Some(Value::Tag(
                crate::corim::tags::OID,
                Box::new(Value::Bytes(oid.to_vec())),
            )),
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

/// The sample attester's environment: class {vendor "Confidential Containers", model
/// "sample"} (a rehearsal environment; no TEE).
pub fn sample_environment() -> Environment {
    Environment {
        class: Some(Class {
            vendor: Some("Confidential Containers".into()),
            model: Some("sample".into()),
            ..Class::default()
        }),
        ..Environment::default()
    }
}

/// The sample attester's measurement key: its `svn`.
pub const SAMPLE_SVN: &str = "svn";

/// The evidence measurements of the sample attester: `svn`.
pub fn sample_evidence(c: &crate::claims::SampleClaims) -> Vec<(Mkey, Mval)> {
    vec![(
        Mkey::Text(SAMPLE_SVN.into()),
        Mval {
            svn: Some(Svn::Exact(c.svn)),
            ..Mval::default()
        },
    )]
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

pub use crate::claims::SnpTcb;

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
pub fn tdx_evidence(c: &TdxClaims) -> Vec<(Mkey, Mval)> {
    let digests: [(&str, &[u8]); 7] = [
        ("mrtd", &c.mr_td),
        ("rtmr0", &c.rtmr[0]),
        ("rtmr1", &c.rtmr[1]),
        ("rtmr2", &c.rtmr[2]),
        ("rtmr3", &c.rtmr[3]),
        ("mrseam", &c.mr_seam),
        ("mrsignerseam", &c.mr_signer_seam),
    ];
    let raws: [(&str, &[u8]); 6] = [
        ("mrconfigid", &c.mr_config_id),
        ("mrowner", &c.mr_owner),
        ("mrownerconfig", &c.mr_owner_config),
        ("td_attributes", &c.td_attributes),
        ("xfam", &c.xfam),
        ("report_data", &c.report_data),
    ];
    let mut out: Vec<(Mkey, Mval)> = digests
        .iter()
        .map(|(k, v)| (Mkey::Text((*k).into()), digest(v.to_vec())))
        .collect();
    out.extend(
        raws.iter()
            .map(|(k, v)| (Mkey::Text((*k).into()), raw(v.to_vec()))),
    );
    out
}

/// The evidence measurements of verified SNP claims, by mkey. REPORTED_TCB is given as an
/// exact SVN of the TCB_VERSION u64 (compared per component by the appraisal).
pub fn snp_evidence(c: &SnpClaims) -> Vec<(Mkey, Mval)> {
    use snp_mkey::*;
    vec![
        (Mkey::Uint(MEASUREMENT), digest(c.measurement.to_vec())),
        (Mkey::Uint(ID_KEY_DIGEST), digest(c.id_key_digest.to_vec())),
        (
            Mkey::Uint(AUTHOR_KEY_DIGEST),
            digest(c.author_key_digest.to_vec()),
        ),
        (Mkey::Uint(HOST_DATA), raw(c.host_data.to_vec())),
        (Mkey::Uint(FAMILY_ID), raw(c.family_id.to_vec())),
        (Mkey::Uint(IMAGE_ID), raw(c.image_id.to_vec())),
        (Mkey::Uint(POLICY), raw(c.policy.to_le_bytes().to_vec())),
        (
            Mkey::Uint(PLATFORM_INFO),
            raw(c.platform_info.to_le_bytes().to_vec()),
        ),
        (
            Mkey::Uint(GUEST_SVN),
            Mval {
                svn: Some(Svn::Exact(c.guest_svn.into())),
                ..Mval::default()
            },
        ),
        (
            Mkey::Uint(VMPL),
            Mval {
                int_range: Some(IntRange::Exact(c.vmpl.into())),
                ..Mval::default()
            },
        ),
        (
            Mkey::Uint(REPORTED_TCB),
            Mval {
                svn: Some(Svn::Exact(c.reported_tcb().encode(c.product.name()))),
                ..Mval::default()
            },
        ),
    ]
}

/// The evidence measurements of verified NVIDIA GPU claims, by mkey: each measurement index
/// (1-based SPDM block index) as a SHA-384 digest, and the driver and VBIOS versions.
pub fn nvidia_evidence(c: &GpuClaims) -> Vec<(Mkey, Mval)> {
    let mut out: Vec<(Mkey, Mval)> = c
        .measurements
        .iter()
        .map(|(i, v)| (Mkey::Uint((*i).into()), digest(v.clone())))
        .collect();
    for (mkey, v, scheme) in [
        (nvidia_mkey::DRIVER_VERSION, &c.driver_version, 1),
        (nvidia_mkey::VBIOS_VERSION, &c.vbios_version, 3),
    ] {
        let Some(v) = v else { continue };
        out.push((
            Mkey::Text(mkey.into()),
            Mval {
                version: Some(Version {
                    version: v.clone(),
                    scheme: Some(scheme),
                }),
                ..Mval::default()
            },
        ));
    }
    out
}
