//! The wire types (JSON, version 1). Bytes are standard base64 on the wire and [`Base64`]
//! (plain bytes) in Rust: decoded once when a document is read, encoded once when it is
//! written, never in between.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wrap::Kem;

/// Bytes that travel as a standard-base64 JSON string. A string that is not base64 is refused
/// when the document is read (a JSON error naming its line and column).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Base64 {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Base64 {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl std::fmt::Debug for Base64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64({} bytes)", self.0.len())
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Self)
            .map_err(|e| serde::de::Error::custom(format!("not standard base64 ({e})")))
    }
}

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
    pub tcb_info: Base64,
    /// qe_identity.json.
    pub qe_identity: Base64,
    /// tcb_signing_chain.pem.
    pub tcb_signing_chain: Base64,
    /// pck_crl.der, if available.
    #[serde(default)]
    pub pck_crl: Option<Base64>,
    /// root_ca_crl.der, if available.
    #[serde(default)]
    pub root_ca_crl: Option<Base64>,
}

impl TdxCollateral {
    /// The wire form of collateral bytes.
    pub fn from_raw(raw: &coco_evidence::tdx::RawCollateral) -> Self {
        Self {
            tcb_info: raw.tcb_info.clone().into(),
            qe_identity: raw.qe_identity.clone().into(),
            tcb_signing_chain: raw.tcb_signing_chain.clone().into(),
            pck_crl: raw.pck_crl.clone().map(Base64),
            root_ca_crl: raw.root_ca_crl.clone().map(Base64),
        }
    }

    /// The collateral bytes.
    pub fn to_raw(&self) -> coco_evidence::tdx::RawCollateral {
        coco_evidence::tdx::RawCollateral {
            tcb_info: self.tcb_info.0.clone(),
            qe_identity: self.qe_identity.0.clone(),
            tcb_signing_chain: self.tcb_signing_chain.0.clone(),
            pck_crl: self.pck_crl.as_ref().map(|c| c.0.clone()),
            root_ca_crl: self.root_ca_crl.as_ref().map(|c| c.0.clone()),
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
    /// The report or quote.
    pub evidence: Base64,
    /// Certificates (PEM bundle): SNP VCEK/VLEK and ASK/ASVK, or the sim VCEK.
    #[serde(default)]
    pub certs: Option<String>,
    /// TDX collateral.
    #[serde(default)]
    pub collateral: Option<TdxCollateral>,
    /// SNP: AMD's CRL for the product (DER), signed by the pinned ARK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<Base64>,
}

/// One GPU's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuEvidence {
    /// `nvidia` (a Hopper/Blackwell attestation report as NVML returns it) or `sim-gpu`.
    pub platform: String,
    /// The report.
    pub evidence: Base64,
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
    /// The workload public key.
    pub public_key: Base64,
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
    /// The HPKE encapsulated key.
    pub enc: Base64,
    /// The HPKE ciphertext of the data key.
    pub ciphertext: Base64,
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
