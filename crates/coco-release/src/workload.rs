//! The workload side: collect evidence bound to the challenge and an ephemeral key, assemble
//! the bundle, and unwrap the released key into zeroizing memory.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coco_seal::Dek;

use crate::binding;
use crate::error::{ReleaseError, Result};
use crate::wire::{Challenge, CpuEvidence, EvidenceBundle, GpuEvidence, ReleaseResponse};
use crate::wrap::{Kem, WorkloadKey, Wrapped};

/// A source of evidence inside the confidential VM.
pub trait Attester {
    /// Evidence of each GPU with `nonce` as its request nonce (in GPU order).
    fn gpu_evidence(&self, nonce: &[u8; 32]) -> Result<Vec<GpuEvidence>>;
    /// The CPU evidence with `report_data`.
    fn cpu_evidence(&self, report_data: &[u8; 64]) -> Result<CpuEvidence>;
}

/// Collects evidence bound to `challenge` and a fresh key of `kem`; returns the bundle and the
/// key that will unwrap the answer.
pub fn bundle(
    attester: &dyn Attester,
    challenge: &Challenge,
    key_id: &str,
    kem: Kem,
) -> Result<(EvidenceBundle, WorkloadKey)> {
    let nonce = URL_SAFE_NO_PAD
        .decode(&challenge.nonce)
        .map_err(|_| ReleaseError::Request("challenge nonce is not base64url".into()))?;
    let key = WorkloadKey::generate(kem);
    let pk = key.public_key().to_vec();
    let gpus = attester.gpu_evidence(&binding::gpu_nonce(&nonce, &pk))?;
    let cpu = attester.cpu_evidence(&binding::report_data(
        &nonce,
        &pk,
        gpus.iter().map(|g| g.evidence.as_bytes()),
    ))?;
    Ok((
        EvidenceBundle {
            version: 1,
            token: challenge.token.clone(),
            key_id: key_id.into(),
            kem,
            public_key: pk.into(),
            cpu,
            gpus,
        },
        key,
    ))
}

/// The whole workload side against a service: asks `client` for a challenge, collects evidence
/// from `attester` bound to it and a fresh key of `kem`, asks for `key_id` and unwraps the
/// answer. Returns the data key and the response (whose `ear` is the service's appraisal).
/// The EAR is not checked: use [`fetch_verified`] wherever the service's EAR key is known.
pub fn fetch(
    client: &crate::http::Client,
    attester: &dyn Attester,
    key_id: &str,
    kem: Kem,
) -> Result<(Dek, ReleaseResponse)> {
    let challenge = client.challenge()?;
    let (bundle, key) = bundle(attester, &challenge, key_id, kem)?;
    let response = client.release(&bundle)?;
    let dek = unwrap(&response, &key, key_id)?;
    Ok((dek, response))
}

/// [`fetch`], and the answer is checked before the key is unwrapped: the EAR must verify under
/// one of `ear_keys` (the service's, pinned) at `now`, answer this request's challenge
/// (`eat_nonce` = SHA-256 of the challenge nonce, hex) and be affirming or a warning. A man in
/// the middle who wraps a key of his choosing to the workload's public key is refused here.
pub fn fetch_verified(
    client: &crate::http::Client,
    attester: &dyn Attester,
    key_id: &str,
    kem: Kem,
    ear_keys: &[coco_core::keys::PublicKey],
    now: u64,
) -> Result<(Dek, ReleaseResponse, coco_core::ear::Ear)> {
    let challenge = client.challenge()?;
    let (bundle, key) = bundle(attester, &challenge, key_id, kem)?;
    let response = client.release(&bundle)?;
    let ear = check_ear(&response, &challenge, ear_keys, now)?;
    let dek = unwrap(&response, &key, key_id)?;
    Ok((dek, response, ear))
}

/// Checks the EAR of `response` as [`fetch_verified`] does.
pub fn check_ear(
    response: &ReleaseResponse,
    challenge: &Challenge,
    ear_keys: &[coco_core::keys::PublicKey],
    now: u64,
) -> Result<coco_core::ear::Ear> {
    use sha2::Digest;
    if ear_keys.is_empty() {
        return Err(ReleaseError::Ear("no trusted EAR key was given".into()));
    }
    let ear = coco_core::ear::Ear::from_jwt(&response.ear, ear_keys, now)
        .map_err(|e| ReleaseError::Ear(e.to_string()))?;
    let nonce = URL_SAFE_NO_PAD
        .decode(&challenge.nonce)
        .map_err(|_| ReleaseError::Request("challenge nonce is not base64url".into()))?;
    let expected = hex::encode(sha2::Sha256::digest(&nonce));
    if ear.nonce.as_deref() != Some(expected.as_str()) {
        return Err(ReleaseError::Ear(format!(
            "eat_nonce {:?} does not answer this request's challenge ({expected})",
            ear.nonce
        )));
    }
    let status = ear.overall();
    if !matches!(
        status,
        coco_core::ear::Status::Affirming | coco_core::ear::Status::Warning
    ) {
        return Err(ReleaseError::Ear(format!(
            "the EAR is {}, not affirming",
            status.name()
        )));
    }
    Ok(ear)
}

/// Unwraps the released key (bound to `key_id` and the response's EAR).
pub fn unwrap(response: &ReleaseResponse, key: &WorkloadKey, key_id: &str) -> Result<Dek> {
    let w = &response.wrapped_key;
    let wrapped = Wrapped {
        kem: w.kem,
        enc: w.enc.0.clone(),
        ciphertext: w.ciphertext.0.clone(),
    };
    let info = binding::wrap_info(key_id, &response.ear);
    let dek = key.unwrap(&wrapped, &info, key_id.as_bytes())?;
    Ok(Dek::from_bytes(*dek))
}
