//! The Confidential Containers guest clients' **sample attester**: what their attestation agent
//! sends without TEE hardware, `{"svn": "1", "report_data": "<standard base64>"}`. Nothing
//! signs it, so nothing about it can be verified but its shape; it is accepted only where a
//! verifier explicitly allows it ([`Verifier::accept_sample`](crate::api::Verifier)), and its
//! attester is always simulated, so that an operator can rehearse a Confidential Containers
//! deployment against coco before hardware arrives.

use coco_core::claims::SampleClaims;
use serde::Deserialize;

use crate::error::{EvidenceError, Result};
use crate::verified::Verified;

const S: &str = "sample evidence";

/// The largest sample evidence read (it is two short strings).
pub const MAX_LEN: usize = 4096;

/// Sample evidence whose shape was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleEvidence {
    /// The claims.
    pub claims: SampleClaims,
}

#[derive(Deserialize)]
struct Wire {
    svn: serde_json::Value,
    #[serde(default)]
    report_data: String,
}

/// Parses sample evidence (JSON): `svn` a decimal string or an integer, `report_data` standard
/// base64 of at most 64 bytes (zero-padded to 64 in the claims).
pub fn parse(bytes: &[u8]) -> Result<SampleEvidence> {
    use base64::Engine;
    if bytes.len() > MAX_LEN {
        return Err(EvidenceError::malformed(
            S,
            "evidence",
            MAX_LEN,
            format!("{} bytes, at most {MAX_LEN}", bytes.len()),
        ));
    }
    let w: Wire = serde_json::from_slice(bytes)
        .map_err(|e| EvidenceError::malformed(S, "evidence", 0, e.to_string()))?;
    let svn = match &w.svn {
        serde_json::Value::String(s) => s.parse::<u64>().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| EvidenceError::malformed(S, "svn", 0, "not an unsigned integer"))?;
    let rd = base64::engine::general_purpose::STANDARD
        .decode(w.report_data.trim())
        .map_err(|_| EvidenceError::malformed(S, "report_data", 0, "not standard base64"))?;
    if rd.len() > 64 {
        return Err(EvidenceError::malformed(
            S,
            "report_data",
            0,
            format!("{} bytes, at most 64", rd.len()),
        ));
    }
    let mut report_data = [0u8; 64];
    report_data[..rd.len()].copy_from_slice(&rd);
    Ok(SampleEvidence {
        claims: SampleClaims { svn, report_data },
    })
}

/// "Verifies" sample evidence: only its shape, and only when `accept` (a verifier configured
/// to accept simulated evidence) — there is no signature to check.
pub fn verify(bytes: &[u8], accept: bool) -> Result<Verified<SampleEvidence>> {
    if !accept {
        return Err(EvidenceError::Platform(
            "sample evidence (no TEE, unsigned) is accepted only where the policy allows \
             simulated evidence"
                .into(),
        ));
    }
    Ok(Verified::new(parse(bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_guest_clients_shape_and_refuses_the_rest() {
        let e = parse(br#"{"svn":"1","report_data":"AAEC"}"#).unwrap();
        assert_eq!(e.claims.svn, 1);
        assert_eq!(&e.claims.report_data[..4], &[0, 1, 2, 0]);
        assert_eq!(parse(br#"{"svn":7}"#).unwrap().claims.report_data, [0; 64]);
        for bad in [
            &br#"{"svn":"-1"}"#[..],
            br#"{"svn":"x"}"#,
            br#"{"report_data":""}"#,
            br#"{"svn":"1","report_data":"***"}"#,
            b"[]",
        ] {
            assert!(matches!(parse(bad), Err(EvidenceError::Malformed { .. })));
        }
        let long = format!(r#"{{"svn":"1","report_data":"{}"}}"#, "A".repeat(88));
        assert!(parse(long.as_bytes()).is_err());
        assert!(matches!(
            verify(br#"{"svn":"1"}"#, false),
            Err(EvidenceError::Platform(_))
        ));
    }
}
