//! Evidence verification, appraisal and EAR verification, with the GIL released.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// verify_evidence_json(platform, data, options_json) -> (verified, result_json): the object
/// `coco evidence verify --json` prints. The GIL is released while verifying.
#[pyfunction]
pub(crate) fn verify_evidence_json(
    py: Python<'_>,
    platform: &str,
    data: &[u8],
    options_json: &str,
) -> PyResult<(bool, String)> {
    let opts: coco_evidence::api::Options = serde_json::from_str(options_json)
        .map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let (ok, v) = py.detach(|| coco_evidence::api::verify_json(platform, data, &opts));
    Ok((ok, v.to_string()))
}

/// `at` (RFC 3339) in Unix seconds, or now.
pub(crate) fn unix_at(at: Option<&str>) -> Result<u64, String> {
    match at {
        Some(t) => coco_core::time::unix_rfc3339(t).ok_or_else(|| format!("{t:?} is not RFC 3339")),
        None => Ok(coco_core::time::unix(std::time::SystemTime::now())),
    }
}

/// appraise_json(evidence, references, corim_keys, policy_toml, sign_key_pem, options_json)
/// -> (ok, result_json): verifies every `(platform, bytes)` of `evidence` (options as for
/// `verify_evidence_json`), reads the CoRIMs of `references` (signed ones must verify under
/// one of `corim_keys`: JWK, SPKI PEM or DER), appraises under the policy (TOML; default
/// policy when None) and returns `{"status", "ear", "findings", "jwt"?}` (`jwt` when
/// `sign_key_pem` is given), or `{"error": {"kind", "message"}}`. The GIL is released.
#[pyfunction]
#[pyo3(signature = (evidence, references, corim_keys, policy_toml, sign_key_pem, options_json))]
pub(crate) fn appraise_json(
    py: Python<'_>,
    evidence: Vec<(String, Vec<u8>)>,
    references: Vec<Vec<u8>>,
    corim_keys: Vec<Vec<u8>>,
    policy_toml: Option<&str>,
    sign_key_pem: Option<&str>,
    options_json: &str,
) -> PyResult<(bool, String)> {
    let opts: coco_evidence::api::Options = serde_json::from_str(options_json)
        .map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let list: Vec<(&str, &[u8])> = evidence
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let references: Vec<&[u8]> = references.iter().map(Vec::as_slice).collect();
    let corim_keys: Vec<&[u8]> = corim_keys.iter().map(Vec::as_slice).collect();
    let req = coco_release::decision::AppraiseRequest {
        evidence: &list,
        references: &references,
        corim_keys: &corim_keys,
        policy_toml,
        sign_key_pem,
        options: &opts,
    };
    Ok(
        match py.detach(|| coco_release::decision::appraise_json(&req)) {
            Ok(v) => (true, v.to_string()),
            Err(e) => (false, serde_json::json!({ "error": e }).to_string()),
        },
    )
}

/// An EAR's claims after verifying it (JWT or CWT) under the trusted `keys` (JWK, SPKI PEM or
/// DER) at `at` (RFC 3339; now when None).
pub(crate) fn ear_claims(
    token: &[u8],
    keys: &[Vec<u8>],
    at: Option<&str>,
) -> Result<serde_json::Value, coco_core::CoreError> {
    let now = unix_at(at).map_err(|m| coco_core::CoreError::malformed("at", m))?;
    let keys = keys
        .iter()
        .map(|k| coco_core::keys::PublicKey::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(coco_core::ear::Ear::from_token(token, &keys, now)?.to_json())
}

/// verify_ear_json(token, keys, at) -> (ok, result_json): verifies an EAR (JWT or CWT) with
/// the trusted `keys` only (JWK, SPKI PEM or DER), checking expiry at `at` (RFC 3339; now when
/// None). The result is the EAR's claims, or `{"error": {"kind", "message"}}`.
#[pyfunction]
#[pyo3(signature = (token, keys, at=None))]
pub(crate) fn verify_ear_json(
    py: Python<'_>,
    token: &[u8],
    keys: Vec<Vec<u8>>,
    at: Option<&str>,
) -> PyResult<(bool, String)> {
    let run = || ear_claims(token, &keys, at);
    Ok(match py.detach(run) {
        Ok(v) => (true, v.to_string()),
        Err(e) => (
            false,
            serde_json::json!({"error": {"kind": "ear", "message": e.to_string()}}).to_string(),
        ),
    })
}
