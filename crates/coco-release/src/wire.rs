//! The wire types (JSON, version 1). Bytes are standard base64.

use serde::{Deserialize, Serialize};

use crate::wrap::Kem;

/// `GET /v1/challenge` (or [`KeyReleaseService::challenge`](crate::KeyReleaseService::challenge)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// 1.
    pub version: u32,
    /// The 32-byte challenge (base64url), the `challenge` of the binding.
    pub nonce: String,
    /// Unix seconds after which the challenge is refused.
    pub expires_at: u64,
    /// The signed token to send back in the bundle.
    pub token: String,
}

/// TDX collateral carried in a bundle (the files of `--collateral DIR`, base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdxCollateral {
    /// tcb_info.json.
    pub tcb_info: String,
    /// qe_identity.json.
    pub qe_identity: String,
    /// tcb_signing_chain.pem.
    pub tcb_signing_chain: String,
    /// pck_crl.der, if available.
    #[serde(default)]
    pub pck_crl: Option<String>,
    /// root_ca_crl.der, if available.
    #[serde(default)]
    pub root_ca_crl: Option<String>,
}

impl TdxCollateral {
    /// The wire form (base64) of collateral bytes.
    pub fn from_raw(raw: &coco_evidence::tdx::RawCollateral) -> Self {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        Self {
            tcb_info: b64(&raw.tcb_info),
            qe_identity: b64(&raw.qe_identity),
            tcb_signing_chain: b64(&raw.tcb_signing_chain),
            pck_crl: raw.pck_crl.as_deref().map(b64),
            root_ca_crl: raw.root_ca_crl.as_deref().map(b64),
        }
    }

    /// Reads a collateral directory as `coco evidence verify --collateral` takes it
    /// ([`RawCollateral::from_dir`](coco_evidence::tdx::RawCollateral::from_dir)).
    pub fn from_dir(dir: &std::path::Path) -> crate::Result<Self> {
        coco_evidence::tdx::RawCollateral::from_dir(dir)
            .map(|raw| Self::from_raw(&raw))
            .map_err(|e| crate::ReleaseError::Collect(e.to_string()))
    }
}

/// The CPU evidence of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuEvidence {
    /// `snp`, `tdx` or `sim-snp`.
    pub platform: String,
    /// The report or quote (base64).
    pub evidence: String,
    /// Certificates (PEM bundle): SNP VCEK/VLEK and ASK/ASVK, or the sim VCEK.
    #[serde(default)]
    pub certs: Option<String>,
    /// TDX collateral.
    #[serde(default)]
    pub collateral: Option<TdxCollateral>,
    /// SNP: AMD's CRL for the product (base64 DER), signed by the pinned ARK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<String>,
}

/// One GPU's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuEvidence {
    /// `nvidia` (a Hopper/Blackwell attestation report as NVML returns it) or `sim-gpu`.
    pub platform: String,
    /// The report (base64).
    pub evidence: String,
    /// The device certificate chain (PEM, as NVML returns it).
    #[serde(default)]
    pub certs: Option<String>,
}

/// `POST /v1/release`: evidence bound to the challenge and the workload key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// 1.
    pub version: u32,
    /// The challenge token.
    pub token: String,
    /// The key wanted.
    pub key_id: String,
    /// The workload key's KEM.
    pub kem: Kem,
    /// The workload public key (base64).
    pub public_key: String,
    /// The CPU evidence; its report data is the binding.
    pub cpu: CpuEvidence,
    /// The GPUs' evidence, in order; each nonce is the GPU binding.
    #[serde(default)]
    pub gpus: Vec<GpuEvidence>,
}

/// The wrapped key of a release response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    /// The KEM.
    pub kem: Kem,
    /// The HPKE encapsulated key (base64).
    pub enc: String,
    /// The HPKE ciphertext of the data key (base64).
    pub ciphertext: String,
}

/// The answer to a successful release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseResponse {
    /// 1.
    pub version: u32,
    /// The EAR (signed JWT, ES384) the release was decided on.
    pub ear: String,
    /// The data key, HPKE-wrapped to the workload key with `info` binding the key id and the
    /// EAR.
    pub wrapped_key: WrappedKey,
}
