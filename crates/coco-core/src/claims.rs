//! Typed claims: what appraisal rules read, one struct per platform, with fixed-size arrays
//! and enums. Every value a rule needs is a field here, so a rule can never fall back to a
//! default because a claim was missing from a JSON document.
//!
//! These structs are filled by `coco-evidence` from verified reports only (see
//! [`crate::appraise::Attester`]); the DESIGN §4 JSON claims are a separate view of the same
//! verified report, kept for the CLI, C and Python contracts and never read by a rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The evidence platforms appraised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Intel TDX TD.
    Tdx,
    /// AMD SEV-SNP VM.
    Snp,
    /// NVIDIA GPU.
    Nvidia,
    /// The Confidential Containers guest clients' sample attester (no TEE, no signature):
    /// rehearsals only, always simulated.
    Sample,
}

impl Platform {
    /// The name (`tdx`, `snp`, `nvidia`, `sample`).
    pub fn name(self) -> &'static str {
        match self {
            Platform::Tdx => "tdx",
            Platform::Snp => "snp",
            Platform::Nvidia => "nvidia",
            Platform::Sample => "sample",
        }
    }

    /// Whether this is a CPU platform (a confidential VM) rather than a device.
    pub fn is_cpu(self) -> bool {
        !matches!(self, Platform::Nvidia)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Intel's TCB status names (TCB Info / QE Identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    /// The TCB is current.
    UpToDate,
    /// Current, but software mitigations are needed.
    SWHardeningNeeded,
    /// Current, but the platform configuration needs changes.
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// A newer TCB is available.
    OutOfDate,
    /// Out of date, and the configuration needs changes.
    OutOfDateConfigurationNeeded,
    /// The TCB level was revoked.
    Revoked,
}

impl TcbStatus {
    /// Intel's name.
    pub fn name(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }
}

/// AMD EPYC generations that run SEV-SNP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnpProduct {
    /// EPYC 7003 (Zen 3).
    Milan,
    /// EPYC 9004 (Zen 4).
    Genoa,
    /// EPYC 9005 (Zen 5).
    Turin,
}

impl SnpProduct {
    /// The claim value (`milan`, `genoa`, `turin`).
    pub fn name(self) -> &'static str {
        match self {
            SnpProduct::Milan => "milan",
            SnpProduct::Genoa => "genoa",
            SnpProduct::Turin => "turin",
        }
    }
}

/// Which key signed an SNP report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnpSigningKey {
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key (cloud provider).
    Vlek,
}

/// The claims of a verified SEV-SNP report that appraisal reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpClaims {
    /// The product whose TCB layout applies.
    pub product: SnpProduct,
    /// The key that signed the report.
    pub signing_key: SnpSigningKey,
    /// MEASUREMENT (launch digest).
    pub measurement: [u8; 48],
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// REPORT_DATA.
    pub report_data: [u8; 64],
    /// FAMILY_ID.
    pub family_id: [u8; 16],
    /// IMAGE_ID.
    pub image_id: [u8; 16],
    /// ID_KEY_DIGEST.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST.
    pub author_key_digest: [u8; 48],
    /// CHIP_ID (the device identity; zero when masked).
    pub chip_id: [u8; 64],
    /// POLICY.
    pub policy: u64,
    /// PLATFORM_INFO.
    pub platform_info: u64,
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// VMPL.
    pub vmpl: u32,
    /// REPORTED_TCB (TCB_VERSION as the report carries it).
    pub reported_tcb: u64,
    /// POLICY.DEBUG.
    pub debug: bool,
    /// Whether AMD's CRL was checked for the chain.
    pub revocation_checked: bool,
}

impl SnpClaims {
    /// REPORTED_TCB decoded with the product's layout.
    pub fn reported_tcb(&self) -> SnpTcb {
        SnpTcb::decode(self.reported_tcb, self.product.name())
    }
}

/// The claims of a verified TDX quote that appraisal reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxClaims {
    /// MRTD.
    pub mr_td: [u8; 48],
    /// RTMR0..RTMR3.
    pub rtmr: [[u8; 48]; 4],
    /// MRSEAM.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM.
    pub mr_signer_seam: [u8; 48],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// TD_ATTRIBUTES.
    pub td_attributes: [u8; 8],
    /// XFAM.
    pub xfam: [u8; 8],
    /// REPORTDATA.
    pub report_data: [u8; 64],
    /// TD_ATTRIBUTES.DEBUG.
    pub debug: bool,
    /// The converged TCB status; `None` when no collateral was evaluated.
    pub tcb_status: Option<TcbStatus>,
    /// The advisories of the matched TCB levels.
    pub advisory_ids: Vec<String>,
    /// TCB Info's `tcbEvaluationDataNumber` of the collateral evaluated; `None` without.
    pub tcb_evaluation_data_number: Option<u32>,
    /// Whether the PCK and root CA CRLs were checked.
    pub revocation_checked: bool,
}

/// The claims of a verified NVIDIA GPU report that appraisal reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuClaims {
    /// The chip (`GH100`, `GB100`), from the device identity certificate.
    pub model: String,
    /// The device's unique id (NVIDIA's `ueid`: the attestation certificate's serial).
    pub ueid: String,
    /// The SPDM request nonce the report answers.
    pub nonce: [u8; 32],
    /// The measurement blocks, by 1-based SPDM index.
    pub measurements: BTreeMap<u32, Vec<u8>>,
    /// The driver version, when the report states it.
    pub driver_version: Option<String>,
    /// The VBIOS version, when the report states it.
    pub vbios_version: Option<String>,
    /// Confidential-computing mode on. A GPU signs SPDM measurements only in CC (or
    /// Protected PCIe) mode; whether it is the approved configuration (DEVTOOLS changes the
    /// measured firmware configuration) is decided by the measurements.
    pub cc_mode: bool,
    /// CC DEVTOOLS mode, where the evidence states it.
    pub devtools_mode: bool,
    /// NVDEC0 is reported disabled (its measurement is then not compared).
    pub nvdec0_disabled: bool,
    /// Whether revocation (OCSP) of the device chain was checked.
    pub revocation_checked: bool,
}

/// The claims of the Confidential Containers sample attester (`{"report_data", "svn"}`):
/// nothing signs them; they exist so that a deployment can be rehearsed without a TEE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleClaims {
    /// The security version number the sample attester states.
    pub svn: u64,
    /// The report data, zero-padded to 64 bytes.
    pub report_data: [u8; 64],
}

/// Typed claims of one attester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claims {
    /// A TDX TD.
    Tdx(Box<TdxClaims>),
    /// An SEV-SNP VM.
    Snp(Box<SnpClaims>),
    /// An NVIDIA GPU.
    Gpu(GpuClaims),
    /// The sample attester.
    Sample(SampleClaims),
}

impl Claims {
    /// The platform.
    pub fn platform(&self) -> Platform {
        match self {
            Claims::Tdx(_) => Platform::Tdx,
            Claims::Snp(_) => Platform::Snp,
            Claims::Gpu(_) => Platform::Nvidia,
            Claims::Sample(_) => Platform::Sample,
        }
    }

    /// Whether the evidence carried a debuggable TEE.
    pub fn debug(&self) -> bool {
        match self {
            Claims::Tdx(c) => c.debug,
            Claims::Snp(c) => c.debug,
            Claims::Gpu(_) | Claims::Sample(_) => false,
        }
    }

    /// Whether revocation data was checked for this attester's chain.
    pub fn revocation_checked(&self) -> bool {
        match self {
            Claims::Tdx(c) => c.revocation_checked,
            Claims::Snp(c) => c.revocation_checked,
            Claims::Gpu(c) => c.revocation_checked,
            Claims::Sample(_) => false,
        }
    }

    /// The value the key-release binding is checked against: report_data (CPU) or the request
    /// nonce (GPU), and the claim's name.
    pub fn binding(&self) -> (&'static str, &[u8]) {
        match self {
            Claims::Tdx(c) => ("report_data", &c.report_data),
            Claims::Snp(c) => ("report_data", &c.report_data),
            Claims::Gpu(c) => ("nonce", &c.nonce),
            Claims::Sample(c) => ("report_data", &c.report_data),
        }
    }

    /// The device identity used to refuse the same device twice: the SNP CHIP_ID (when not
    /// masked), the GPU's ueid. TDX quotes carry no stable device identity.
    pub fn device_id(&self) -> Option<String> {
        match self {
            Claims::Snp(c) if c.chip_id != [0; 64] => Some(hex::encode(c.chip_id)),
            Claims::Gpu(c) => Some(c.ueid.clone()),
            _ => None,
        }
    }

    /// The model a GPU attester is of (`GH100`, ...); `None` for CPUs.
    pub fn gpu_model(&self) -> Option<&str> {
        match self {
            Claims::Gpu(c) => Some(&c.model),
            _ => None,
        }
    }
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
}
