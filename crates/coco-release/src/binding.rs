//! The binding of DESIGN §1 (a contract): the evidence commits to the service's challenge, the
//! workload's public key, and (through the CPU report) to the exact GPU reports of the session.

use sha2::{Digest, Sha256, Sha512};

/// `SHA-256("coco/kr/v1/gpu" || challenge || pk)`: the nonce of every GPU report.
pub fn gpu_nonce(challenge: &[u8], pk: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"coco/kr/v1/gpu");
    h.update(challenge);
    h.update(pk);
    h.finalize().into()
}

/// `SHA-512("coco/kr/v1" || challenge || pk || SHA-256(gpu_report_0) || ...)`: the CPU
/// report's REPORT_DATA (TDX REPORTDATA, SNP REPORT_DATA).
pub fn report_data<'a>(
    challenge: &[u8],
    pk: &[u8],
    gpu_reports: impl IntoIterator<Item = &'a [u8]>,
) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(b"coco/kr/v1");
    h.update(challenge);
    h.update(pk);
    for r in gpu_reports {
        h.update(Sha256::digest(r));
    }
    h.finalize().into()
}

/// The HPKE `info` of a wrapped key: `"coco/kr/v1/wrap" || u16be(len(key_id)) || key_id ||
/// SHA-256(EAR)`, so the wrapped key is bound to the key id and to the EAR that released it.
pub fn wrap_info(key_id: &str, ear: &str) -> Vec<u8> {
    let mut info = b"coco/kr/v1/wrap".to_vec();
    info.extend_from_slice(&(key_id.len() as u16).to_be_bytes());
    info.extend_from_slice(key_id.as_bytes());
    info.extend_from_slice(&Sha256::digest(ear.as_bytes()));
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_binding() {
        let base = report_data(b"c", b"pk", [&b"g0"[..]]);
        assert_ne!(base, report_data(b"d", b"pk", [&b"g0"[..]]));
        assert_ne!(base, report_data(b"c", b"pl", [&b"g0"[..]]));
        assert_ne!(base, report_data(b"c", b"pk", [&b"g1"[..]]));
        assert_ne!(base, report_data(b"c", b"pk", []));
        assert_ne!(gpu_nonce(b"c", b"pk"), gpu_nonce(b"c", b"pl"));
        assert_ne!(wrap_info("a", "e"), wrap_info("a", "f"));
    }
}
