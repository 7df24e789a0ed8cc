//! The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI spec 56860, table "ATTESTATION_REPORT"):
//! 1184 bytes, little-endian; versions 2, 3, 4 and 5. Bounds and reserved fields only:
//! nothing here is trusted.

use crate::codec::Reader;
use crate::error::{EvidenceError, Result};

/// Size of a report.
pub const REPORT_LEN: usize = 0x4A0;
/// End of the signed region (bytes `0x000..0x2A0`).
pub const SIGNED_LEN: usize = 0x2A0;

const S: &str = "SNP report";

/// A TCB_VERSION as raw bytes plus its decoding (the layout depends on the product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcbVersion {
    /// The 8 raw bytes.
    pub raw: [u8; 8],
}

/// A decoded TCB_VERSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Tcb {
    /// Boot loader SPL.
    pub bootloader: u8,
    /// TEE (PSP OS) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
    /// FMC SPL (Turin and later only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
}

/// `bl=3 tee=0 snp=8 ucode=115` (and ` fmc=N` on Turin), as AMD's tools print a TCB.
impl std::fmt::Display for Tcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bl={} tee={} snp={} ucode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )?;
        if let Some(fmc) = self.fmc {
            write!(f, " fmc={fmc}")?;
        }
        Ok(())
    }
}

/// The AMD product generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// EPYC 7003 (Zen 3).
    Milan,
    /// EPYC 9004 (Zen 4).
    Genoa,
    /// EPYC 9005 (Zen 5).
    Turin,
}

impl Product {
    /// The name AMD uses in certificate names ("Milan", "Genoa", "Turin").
    pub fn name(self) -> &'static str {
        match self {
            Product::Milan => "Milan",
            Product::Genoa => "Genoa",
            Product::Turin => "Turin",
        }
    }

    /// From CPUID family and model (report v3+). `None` for an unknown combination.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Product::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Product::Genoa),
            (0x1A, _) => Some(Product::Turin),
            _ => None,
        }
    }

    /// From a name as found in certificates ("Milan-B0", "SEV-Genoa", "ARK-Turin", ...).
    pub fn from_name(name: &str) -> Option<Self> {
        [Product::Milan, Product::Genoa, Product::Turin]
            .into_iter()
            .find(|p| name.contains(p.name()))
    }
}

impl TcbVersion {
    /// Decodes for a product: Milan/Genoa `[BL, TEE, r, r, r, r, SNP, UCODE]`, Turin
    /// `[FMC, BL, TEE, SNP, r, r, r, UCODE]`.
    pub fn decode(&self, product: Product) -> Tcb {
        let r = self.raw;
        match product {
            Product::Turin => Tcb {
                fmc: Some(r[0]),
                bootloader: r[1],
                tee: r[2],
                snp: r[3],
                microcode: r[7],
            },
            _ => Tcb {
                fmc: None,
                bootloader: r[0],
                tee: r[1],
                snp: r[6],
                microcode: r[7],
            },
        }
    }
}

/// Which key signed the report (flags bits 2..4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key (cloud provider).
    Vlek,
}

/// A parsed attestation report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The 1184 raw bytes.
    pub raw: Box<[u8; REPORT_LEN]>,
    /// VERSION.
    pub version: u32,
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// POLICY.
    pub policy: u64,
    /// FAMILY_ID.
    pub family_id: [u8; 16],
    /// IMAGE_ID.
    pub image_id: [u8; 16],
    /// VMPL.
    pub vmpl: u32,
    /// SIGNATURE_ALGO (1 = ECDSA P-384 with SHA-384).
    pub signature_algo: u32,
    /// CURRENT_TCB.
    pub current_tcb: TcbVersion,
    /// PLATFORM_INFO.
    pub platform_info: u64,
    /// AUTHOR_KEY_EN (flags bit 0).
    pub author_key_en: bool,
    /// MASK_CHIP_KEY (flags bit 1).
    pub mask_chip_key: bool,
    /// SIGNING_KEY (flags bits 2..4).
    pub signing_key: SigningKey,
    /// REPORT_DATA.
    pub report_data: [u8; 64],
    /// MEASUREMENT.
    pub measurement: [u8; 48],
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST.
    pub author_key_digest: [u8; 48],
    /// REPORT_ID.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA.
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB.
    pub reported_tcb: TcbVersion,
    /// CPUID family, model, stepping (v3+; `None` in v2).
    pub cpuid: Option<(u8, u8, u8)>,
    /// CHIP_ID.
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB.
    pub committed_tcb: TcbVersion,
    /// Current firmware (major, minor, build).
    pub current_version: (u8, u8, u8),
    /// Committed firmware (major, minor, build).
    pub committed_version: (u8, u8, u8),
    /// LAUNCH_TCB.
    pub launch_tcb: TcbVersion,
    /// LAUNCH_MIT_VECTOR (v5+).
    pub launch_mit_vector: Option<u64>,
    /// CURRENT_MIT_VECTOR (v5+).
    pub current_mit_vector: Option<u64>,
    /// Signature R, big-endian (48 bytes).
    pub signature_r: [u8; 48],
    /// Signature S, big-endian (48 bytes).
    pub signature_s: [u8; 48],
}

/// The `(major, minor, build)` firmware version stored as build, minor, major at `off`.
fn version_at(r: &Reader<'_>, off: usize, field: &'static str) -> Result<(u8, u8, u8)> {
    let [build, minor, major] = r.array_at::<3>(off, field)?;
    Ok((major, minor, build))
}

/// A 72-byte little-endian signature component as 48 big-endian bytes (the upper 24 bytes
/// must be zero).
fn sig_component(r: &Reader<'_>, off: usize, field: &'static str) -> Result<[u8; 48]> {
    r.zeros(off + 48..off + 72, field)?;
    let mut out: [u8; 48] = r.array_at(off, field)?;
    out.reverse();
    Ok(out)
}

impl Report {
    /// Parses a 1184-byte report.
    ///
    /// ```
    /// use coco_evidence::EvidenceError;
    /// let err = coco_evidence::snp::Report::parse(&[0u8; 100]).unwrap_err();
    /// assert!(matches!(err, EvidenceError::Malformed { structure: "SNP report", offset: 0, .. }));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let b = Reader::new(S, bytes);
        if bytes.len() != REPORT_LEN {
            return Err(b.malformed(
                "report",
                0,
                if bytes.len() > REPORT_LEN {
                    format!(
                        "{} bytes, a report is exactly {REPORT_LEN} bytes ({} more; if they are \
                         unsigned padding after the report, allow trailing data: \
                         --allow-trailing-data)",
                        bytes.len(),
                        bytes.len() - REPORT_LEN
                    )
                } else {
                    format!(
                        "{} bytes, a report is exactly {REPORT_LEN} bytes",
                        bytes.len()
                    )
                },
            ));
        }
        let version = b.u32_at(0x000, "VERSION")?;
        if !(2..=5).contains(&version) {
            return Err(EvidenceError::UnsupportedVersion {
                structure: S,
                version,
            });
        }
        let signature_algo = b.u32_at(0x034, "SIGNATURE_ALGO")?;
        if signature_algo != 1 {
            return Err(b.malformed(
                "SIGNATURE_ALGO",
                0x034,
                format!("{signature_algo} (only 1 = ECDSA P-384 with SHA-384 is defined)"),
            ));
        }
        let policy = b.u64_at(0x008, "POLICY")?;
        if policy & (1 << 17) == 0 {
            return Err(b.malformed("POLICY", 0x008, "bit 17 is reserved and must be 1"));
        }
        if policy >> 26 != 0 {
            return Err(b.malformed("POLICY", 0x008, format!("reserved bits set: {policy:#x}")));
        }
        let flags = b.u32_at(0x048, "flags")?;
        if flags >> 5 != 0 {
            return Err(b.malformed("flags", 0x048, format!("reserved bits set: {flags:#x}")));
        }
        let signing_key = match (flags >> 2) & 7 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => {
                return Err(b.malformed("SIGNING_KEY", 0x048, "7: the report is not signed"));
            }
            other => {
                return Err(b.malformed("SIGNING_KEY", 0x048, format!("{other} is reserved")));
            }
        };
        b.zeros(0x04C..0x050, "reserved")?;
        let cpuid = if version >= 3 {
            Some((
                b.u8_at(0x188, "CPUID_FAM_ID")?,
                b.u8_at(0x189, "CPUID_MOD_ID")?,
                b.u8_at(0x18A, "CPUID_STEP")?,
            ))
        } else {
            b.zeros(0x188..0x18B, "reserved")?;
            None
        };
        b.zeros(0x18B..0x1A0, "reserved")?;
        b.zeros(0x1EB..0x1EC, "reserved")?;
        b.zeros(0x1EF..0x1F0, "reserved")?;
        let (launch_mit_vector, current_mit_vector) = if version >= 5 {
            (
                Some(b.u64_at(0x1F8, "LAUNCH_MIT_VECTOR")?),
                Some(b.u64_at(0x200, "CURRENT_MIT_VECTOR")?),
            )
        } else {
            b.zeros(0x1F8..0x208, "reserved")?;
            (None, None)
        };
        b.zeros(0x208..SIGNED_LEN, "reserved")?;
        let signature_r = sig_component(&b, 0x2A0, "SIGNATURE.R")?;
        let signature_s = sig_component(&b, 0x2E8, "SIGNATURE.S")?;
        b.zeros(0x330..REPORT_LEN, "SIGNATURE reserved")?;
        Ok(Report {
            raw: Box::new(b.array_at(0, "report")?),
            version,
            guest_svn: b.u32_at(0x004, "GUEST_SVN")?,
            policy,
            family_id: b.array_at(0x010, "FAMILY_ID")?,
            image_id: b.array_at(0x020, "IMAGE_ID")?,
            vmpl: b.u32_at(0x030, "VMPL")?,
            signature_algo,
            current_tcb: TcbVersion {
                raw: b.array_at(0x038, "CURRENT_TCB")?,
            },
            platform_info: b.u64_at(0x040, "PLATFORM_INFO")?,
            author_key_en: flags & 1 != 0,
            mask_chip_key: flags & 2 != 0,
            signing_key,
            report_data: b.array_at(0x050, "REPORT_DATA")?,
            measurement: b.array_at(0x090, "MEASUREMENT")?,
            host_data: b.array_at(0x0C0, "HOST_DATA")?,
            id_key_digest: b.array_at(0x0E0, "ID_KEY_DIGEST")?,
            author_key_digest: b.array_at(0x110, "AUTHOR_KEY_DIGEST")?,
            report_id: b.array_at(0x140, "REPORT_ID")?,
            report_id_ma: b.array_at(0x160, "REPORT_ID_MA")?,
            reported_tcb: TcbVersion {
                raw: b.array_at(0x180, "REPORTED_TCB")?,
            },
            cpuid,
            chip_id: b.array_at(0x1A0, "CHIP_ID")?,
            committed_tcb: TcbVersion {
                raw: b.array_at(0x1E0, "COMMITTED_TCB")?,
            },
            current_version: version_at(&b, 0x1E8, "CURRENT_VERSION")?,
            committed_version: version_at(&b, 0x1EC, "COMMITTED_VERSION")?,
            launch_tcb: TcbVersion {
                raw: b.array_at(0x1F0, "LAUNCH_TCB")?,
            },
            launch_mit_vector,
            current_mit_vector,
            signature_r,
            signature_s,
        })
    }

    /// The signed bytes `0x000..0x2A0`.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.raw[..SIGNED_LEN]
    }

    /// The product named by the CPUID fields (v3+), if any.
    pub fn cpuid_product(&self) -> Option<Product> {
        self.cpuid.and_then(|(f, m, _)| Product::from_cpuid(f, m))
    }

    /// POLICY bit 19: debugging allowed.
    pub fn debug(&self) -> bool {
        self.policy & (1 << 19) != 0
    }
}
