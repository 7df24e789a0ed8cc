//! Signature verification for evidence, on AWS-LC's constant-time, assembly-optimised
//! implementations (through `aws-lc-rs`, which keeps ring's API). Keys come as their
//! SubjectPublicKeyInfo bit-string contents (an
//! uncompressed SEC1 point, or a PKCS#1 RSAPublicKey); nothing here parses untrusted ASN.1
//! beyond what AWS-LC itself checks.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// The signature schemes vendor evidence uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA P-256 with SHA-256, signature r‖s (32 + 32, big-endian).
    P256Fixed,
    /// ECDSA P-256 with SHA-256, DER signature (X.509, CRLs).
    P256Der,
    /// ECDSA P-384 with SHA-384, signature r‖s (48 + 48, big-endian).
    P384Fixed,
    /// ECDSA P-384 with SHA-384, DER signature.
    P384Der,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt (AMD's ARK/ASK).
    RsaPssSha384,
}

impl Scheme {
    fn algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Scheme::P256Fixed => &signature::ECDSA_P256_SHA256_FIXED,
            Scheme::P256Der => &signature::ECDSA_P256_SHA256_ASN1,
            Scheme::P384Fixed => &signature::ECDSA_P384_SHA384_FIXED,
            Scheme::P384Der => &signature::ECDSA_P384_SHA384_ASN1,
            Scheme::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        }
    }
}

/// Whether `sig` is a valid signature of `msg` under `public_key` with `scheme`.
pub fn verify(scheme: Scheme, public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(scheme.algorithm(), public_key)
        .verify(msg, sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;

    #[test]
    fn agrees_with_rustcrypto_and_rejects_changes() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let msg = b"header || body";
        let sig: p256::ecdsa::Signature = sk.sign(msg);
        let point = sk.verifying_key().to_sec1_point(false);
        assert!(verify(
            Scheme::P256Fixed,
            point.as_bytes(),
            msg,
            &sig.to_bytes()
        ));
        assert!(verify(
            Scheme::P256Der,
            point.as_bytes(),
            msg,
            sig.to_der().as_bytes()
        ));
        assert!(!verify(
            Scheme::P256Fixed,
            point.as_bytes(),
            b"header || bodY",
            &sig.to_bytes()
        ));
        assert!(!verify(
            Scheme::P384Fixed,
            point.as_bytes(),
            msg,
            &sig.to_bytes()
        ));
        let mut bad = sig.to_bytes();
        bad[10] ^= 1;
        assert!(!verify(Scheme::P256Fixed, point.as_bytes(), msg, &bad));
    }
}
