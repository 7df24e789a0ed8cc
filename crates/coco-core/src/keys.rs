//! ECDSA keys for the documents this crate signs and verifies (CoRIMs, EARs): P-256 (ES256)
//! and P-384 (ES384), read from JWK or PEM. Only keys the caller passes are ever trusted; a
//! key carried inside a document is never used by itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};

use crate::error::{CoreError, Result};

/// A public key trusted by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA P-256 (ES256, COSE -7).
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384 (ES384, COSE -35).
    P384(p384::ecdsa::VerifyingKey),
}

fn key_err(msg: impl Into<String>) -> CoreError {
    CoreError::Key(msg.into())
}

impl PublicKey {
    /// Reads a JWK (`{"kty":"EC","crv":"P-256"|"P-384","x","y"}`), a PEM `PUBLIC KEY`, or a
    /// DER SubjectPublicKeyInfo, whichever `bytes` holds.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let trimmed = bytes.trim_ascii();
        if trimmed.starts_with(b"{") {
            let jwk: serde_json::Value =
                serde_json::from_slice(trimmed).map_err(|e| key_err(format!("JWK: {e}")))?;
            return Self::from_jwk(&jwk);
        }
        if trimmed.starts_with(b"-----BEGIN") {
            let pem = std::str::from_utf8(trimmed).map_err(|_| key_err("PEM is not UTF-8"))?;
            use p256::pkcs8::DecodePublicKey;
            if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
                return Ok(PublicKey::P256(k));
            }
            return p384::ecdsa::VerifyingKey::from_public_key_pem(pem)
                .map(PublicKey::P384)
                .map_err(|e| key_err(format!("PEM public key is neither P-256 nor P-384: {e}")));
        }
        Self::from_spki_der(trimmed)
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        p384::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(PublicKey::P384)
            .map_err(|e| key_err(format!("not a P-256 or P-384 SubjectPublicKeyInfo: {e}")))
    }

    /// Reads a public JWK.
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self> {
        let field = |n: &str| {
            jwk.get(n)
                .and_then(|v| v.as_str())
                .ok_or_else(|| key_err(format!("JWK without {n:?}")))
        };
        if field("kty")? != "EC" {
            return Err(key_err("JWK kty is not EC"));
        }
        let x = URL_SAFE_NO_PAD
            .decode(field("x")?)
            .map_err(|e| key_err(format!("JWK x: {e}")))?;
        let y = URL_SAFE_NO_PAD
            .decode(field("y")?)
            .map_err(|e| key_err(format!("JWK y: {e}")))?;
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        match field("crv")? {
            "P-256" if x.len() == 32 && y.len() == 32 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map(PublicKey::P256)
                    .map_err(|_| key_err("JWK point is not on P-256"))
            }
            "P-384" if x.len() == 48 && y.len() == 48 => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map(PublicKey::P384)
                    .map_err(|_| key_err("JWK point is not on P-384"))
            }
            crv => Err(key_err(format!(
                "JWK curve {crv:?} with {}-byte coordinates is not supported",
                x.len()
            ))),
        }
    }

    /// The JOSE algorithm name.
    pub fn jose_alg(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ES256",
            PublicKey::P384(_) => "ES384",
        }
    }

    /// The COSE algorithm number.
    pub fn cose_alg(&self) -> i64 {
        match self {
            PublicKey::P256(_) => -7,
            PublicKey::P384(_) => -35,
        }
    }

    /// The public JWK.
    pub fn to_jwk(&self) -> serde_json::Value {
        let (crv, point) = match self {
            PublicKey::P256(k) => ("P-256", k.to_sec1_point(false).as_bytes().to_vec()),
            PublicKey::P384(k) => ("P-384", k.to_sec1_point(false).as_bytes().to_vec()),
        };
        let n = (point.len() - 1) / 2;
        serde_json::json!({
            "kty": "EC",
            "crv": crv,
            "x": URL_SAFE_NO_PAD.encode(&point[1..1 + n]),
            "y": URL_SAFE_NO_PAD.encode(&point[1 + n..]),
        })
    }

    /// Whether `sig` (r‖s) is this key's signature of `msg` (SHA-256 for P-256, SHA-384 for
    /// P-384).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::P256(k) => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            PublicKey::P384(k) => {
                p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
        }
    }
}

/// A private signing key (for `coco corim sign` and EAR issuing). Signatures are made by
/// AWS-LC (ES384 in a third of the time of the portable arithmetic: every released key's EAR
/// is signed); the key is kept in RustCrypto's form too, for its public half and PKCS#8.
#[derive(Clone)]
pub struct SigningKey {
    key: Ecdsa,
    signer: std::sync::Arc<aws_lc_rs::signature::EcdsaKeyPair>,
}

#[derive(Clone)]
enum Ecdsa {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().jose_alg())
    }
}

impl SigningKey {
    fn new(key: Ecdsa) -> Result<Self> {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        };
        let (alg, private, public) = match &key {
            Ecdsa::P256(k) => (
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                zeroize::Zeroizing::new(k.to_bytes().to_vec()),
                k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            ),
            Ecdsa::P384(k) => (
                &ECDSA_P384_SHA384_FIXED_SIGNING,
                zeroize::Zeroizing::new(k.to_bytes().to_vec()),
                k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            ),
        };
        let signer = EcdsaKeyPair::from_private_key_and_public_key(alg, &private, &public)
            .map_err(|e| key_err(format!("the signing key is not usable: {e}")))?;
        Ok(Self {
            key,
            signer: std::sync::Arc::new(signer),
        })
    }

    /// A P-384 (ES384) signing key.
    pub fn from_p384(key: p384::ecdsa::SigningKey) -> Result<Self> {
        Self::new(Ecdsa::P384(key))
    }

    /// A P-256 (ES256) signing key.
    pub fn from_p256(key: p256::ecdsa::SigningKey) -> Result<Self> {
        Self::new(Ecdsa::P256(key))
    }

    /// Reads a PKCS#8 PEM (`PRIVATE KEY`) P-256 or P-384 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Self::from_p256(k);
        }
        let k = p384::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| key_err(format!("not a PKCS#8 P-256 or P-384 private key: {e}")))?;
        Self::from_p384(k)
    }

    /// A fresh P-384 key from the OS random generator.
    pub fn generate_p384() -> Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 48]);
        loop {
            getrandom::fill(seed.as_mut()).map_err(|e| key_err(format!("no randomness: {e}")))?;
            if let Ok(k) = p384::ecdsa::SigningKey::from_slice(seed.as_ref()) {
                return Self::from_p384(k);
            }
        }
    }

    /// PKCS#8 PEM of this key.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        match &self.key {
            Ecdsa::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            Ecdsa::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| key_err(format!("cannot encode the key: {e}")))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        match &self.key {
            Ecdsa::P256(k) => PublicKey::P256(*k.verifying_key()),
            Ecdsa::P384(k) => PublicKey::P384(*k.verifying_key()),
        }
    }

    /// Signs `msg` (SHA-256 for P-256, SHA-384 for P-384), returning r‖s.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self.signer.sign(&rng, msg) {
            Ok(sig) => sig.as_ref().to_vec(),
            // AWS-LC signs with a key it accepted; should it ever refuse, the portable
            // implementation signs instead.
            Err(_) => match &self.key {
                Ecdsa::P256(k) => {
                    let s: p256::ecdsa::Signature = k.sign(msg);
                    s.to_bytes().to_vec()
                }
                Ecdsa::P384(k) => {
                    let s: p384::ecdsa::Signature = k.sign(msg);
                    s.to_bytes().to_vec()
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS-LC's signatures verify under RustCrypto's verifier, for both curves, and not for
    /// another message; a key survives its PKCS#8 round trip.
    #[test]
    fn aws_lc_signatures_verify_with_rustcrypto() {
        let p256 = {
            let mut seed = [0u8; 32];
            loop {
                getrandom::fill(&mut seed).unwrap();
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&seed) {
                    break SigningKey::from_p256(k).unwrap();
                }
            }
        };
        for key in [SigningKey::generate_p384().unwrap(), p256] {
            let sig = key.sign(b"message");
            assert!(key.public().verify(b"message", &sig));
            assert!(!key.public().verify(b"messagf", &sig));
            let again = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(again.public(), key.public());
            assert!(key.public().verify(b"m2", &again.sign(b"m2")));
        }
    }
}
