//! The KBS binding of evidence to a session (`specs/kbs-protocol.md`): what the CPU report data
//! and the GPUs' SPDM nonce must be for a nonce, a TEE key and the device evidence.

use coco_core::initdata::Algorithm;
use serde_json::{Value, json};

use super::error::KbsError;
use super::jcs;

/// The hash algorithm for a session: SHA-384 (the protocol's default) unless the client's
/// `supported-hash-algorithms` leaves it out, then SHA-512, then SHA-256. A client that
/// supports none of them is refused.
pub fn select_hash(extra_params: &Value) -> Result<Algorithm, KbsError> {
    let Some(list) = extra_params
        .get("supported-hash-algorithms")
        .and_then(Value::as_array)
    else {
        return Ok(Algorithm::Sha384);
    };
    let has = |name: &str| list.iter().any(|a| a.as_str() == Some(name));
    [Algorithm::Sha384, Algorithm::Sha512, Algorithm::Sha256]
        .into_iter()
        .find(|a| has(a.name()))
        .ok_or_else(|| {
            KbsError::Request(format!(
                "supported-hash-algorithms {list:?}: this service binds with sha384, sha512 or sha256"
            ))
        })
}

/// An algorithm by name (`sha256`, `sha384`, `sha512`).
pub fn hash_by_name(name: &str) -> Option<Algorithm> {
    [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512]
        .into_iter()
        .find(|a| a.name() == name)
}

fn canonical(v: &Value) -> Result<String, KbsError> {
    jcs::canonical(v).map_err(|e| KbsError::Request(format!("runtime-data: {e}")))
}

/// The CPU report data: `hash(JCS({"additional-evidence", "nonce", "tee-pubkey"}))`,
/// zero-padded to 64 bytes.
pub fn report_data(
    hash: Algorithm,
    nonce: &str,
    tee_pubkey: &Value,
    additional_evidence: &str,
) -> Result<[u8; 64], KbsError> {
    let j = json!({
        "additional-evidence": additional_evidence,
        "nonce": nonce,
        "tee-pubkey": tee_pubkey,
    });
    let d = hash.digest(canonical(&j)?.as_bytes());
    let mut out = [0u8; 64];
    out[..d.len()].copy_from_slice(&d);
    Ok(out)
}

/// The GPUs' SPDM nonce: the first 32 bytes of `hash(JCS({"nonce", "tee-pubkey"}))`.
pub fn gpu_nonce(hash: Algorithm, nonce: &str, tee_pubkey: &Value) -> Result<[u8; 32], KbsError> {
    let j = json!({"nonce": nonce, "tee-pubkey": tee_pubkey});
    let d = hash.digest(canonical(&j)?.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&d[..32]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_prefers_sha384_and_refuses_the_unknown() {
        assert_eq!(select_hash(&json!("")).unwrap(), Algorithm::Sha384);
        let l = |a: &[&str]| json!({"supported-hash-algorithms": a});
        assert_eq!(
            select_hash(&l(&["sha256", "sha384", "sha512", "sm3"])).unwrap(),
            Algorithm::Sha384
        );
        assert_eq!(
            select_hash(&l(&["sha256", "sha512"])).unwrap(),
            Algorithm::Sha512
        );
        assert!(matches!(
            select_hash(&l(&["sm3"])),
            Err(KbsError::Request(_))
        ));
    }

    #[test]
    fn every_input_changes_the_binding() {
        let k = json!({"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW", "x": "x", "y": "y"});
        let base = report_data(Algorithm::Sha384, "n", &k, "").unwrap();
        assert_eq!(base[48..], [0; 16]);
        assert_ne!(base, report_data(Algorithm::Sha384, "m", &k, "").unwrap());
        assert_ne!(
            base,
            report_data(Algorithm::Sha384, "n", &json!({}), "").unwrap()
        );
        assert_ne!(base, report_data(Algorithm::Sha384, "n", &k, "{}").unwrap());
        assert_ne!(base, report_data(Algorithm::Sha512, "n", &k, "").unwrap());
        // Member order of the key does not matter (canonical form).
        let reordered: Value = serde_json::from_str(
            r#"{"y":"y","x":"x","kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW"}"#,
        )
        .unwrap();
        assert_eq!(
            base,
            report_data(Algorithm::Sha384, "n", &reordered, "").unwrap()
        );
        assert_ne!(
            gpu_nonce(Algorithm::Sha384, "n", &k).unwrap(),
            gpu_nonce(Algorithm::Sha384, "m", &k).unwrap()
        );
    }
}
