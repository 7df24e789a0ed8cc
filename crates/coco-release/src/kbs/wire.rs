//! The KBS protocol's JSON messages (the shapes of the `kbs-types` crate, protocol 0.4.0).
//! Outer keys are kebab-case, the evidence's inner ones snake_case. Unknown members are
//! ignored, as `kbs-types` does; everything the decision reads is a typed field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this service speaks.
pub const PROTOCOL_VERSION: &str = "0.4.0";

/// `POST /kbs/v0/auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `0.4.0`.
    pub version: String,
    /// The TEE: `snp`, `tdx`, `sample`, ... (the `kbs-types` names).
    pub tee: String,
    /// `{"supported-hash-algorithms": [...]}` (or an empty string from older clients).
    #[serde(rename = "extra-params", default)]
    pub extra_params: Value,
}

/// The answer to `auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    /// Standard base64 of 32 random bytes.
    pub nonce: String,
    /// `{"selected-hash-algorithm": "sha384"}`.
    #[serde(rename = "extra-params")]
    pub extra_params: Value,
}

/// Init-data carried by an attestation (`{"format": "toml", "body": "..."}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitDataWire {
    /// `toml`.
    pub format: String,
    /// The document, exactly as the guest hashed it.
    pub body: String,
}

/// The session's runtime data: what the CPU evidence binds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeData {
    /// The nonce of `auth`, as received.
    pub nonce: String,
    /// The TEE's public key (a JWK); the released resource is encrypted to it.
    #[serde(rename = "tee-pubkey")]
    pub tee_pubkey: Value,
}

/// The evidence: the CPU's and, as a JSON *string*, the devices'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompositeEvidence {
    /// The CPU evidence in its platform's shape.
    pub primary_evidence: Value,
    /// Device evidence as a JSON string (`{"nvidia": {"device_evidence_list": [...]}}`), or
    /// empty.
    #[serde(default)]
    pub additional_evidence: String,
}

/// `POST /kbs/v0/attest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    /// Init-data, when the guest has some.
    #[serde(rename = "init-data", default, skip_serializing_if = "Option::is_none")]
    pub init_data: Option<InitDataWire>,
    /// Nonce and TEE key.
    #[serde(rename = "runtime-data")]
    pub runtime_data: RuntimeData,
    /// The evidence.
    #[serde(rename = "tee-evidence")]
    pub tee_evidence: CompositeEvidence,
}

/// The answer to `attest`: the attestation token (coco's EAR as a JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationToken {
    /// The EAR JWT.
    pub token: String,
}

/// An RFC 7807 problem as the KBS protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInformation {
    /// `https://github.com/confidential-containers/kbs/errors/<Kind>`.
    #[serde(rename = "type")]
    pub error_type: String,
    /// What went wrong.
    pub detail: String,
}

/// One GPU in `additional_evidence.nvidia.device_evidence_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NvidiaDevice {
    /// `HOPPER` or `BLACKWELL`.
    #[serde(default)]
    pub arch: String,
    /// The GPU's UUID.
    #[serde(default)]
    pub uuid: String,
    /// The attestation report (standard base64).
    pub evidence: String,
    /// The device certificate chain (standard base64 of the PEM bundle).
    pub certificate: String,
}
