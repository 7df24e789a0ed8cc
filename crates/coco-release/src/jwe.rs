//! JSON Web Encryption (RFC 7516) of a released secret to a TEE's public key, as the
//! Confidential Containers Key Broker protocol returns resources: the flattened JSON
//! serialisation, content encryption `A256GCM`, and the key management of the TEE key's type
//! (RFC 7518): `ECDH-ES+A256KW` for P-256, P-384 and P-521 keys, `RSA-OAEP-256` for RSA keys.
//!
//! The protected header is written exactly as the `kbs-types` crate serialises it (`alg`, `enc`,
//! then `epk` as `{"crv","kty","x","y"}`), because the guest client authenticates the header's
//! bytes as they arrive: `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{...}}` or
//! `{"alg":"RSA-OAEP-256","enc":"A256GCM"}`. ECDH, AES key wrap (RFC 3394), RSA-OAEP and
//! AES-GCM run in AWS-LC; the Concat KDF (NIST SP 800-56A, RFC 7518 4.6.2) is SHA-256.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use der::Encode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ReleaseError, Result};

/// An elliptic curve of `ECDH-ES+A256KW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256.
    P256,
    /// P-384.
    P384,
    /// P-521.
    P521,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn algorithm(self) -> &'static agreement::Algorithm {
        match self {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::P521 => &agreement::ECDH_P521,
        }
    }
}

/// A TEE's public key (the KBS `tee-pubkey`, a JWK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeeKey {
    /// An EC key: `ECDH-ES+A256KW`.
    Ec {
        /// Its curve.
        curve: Curve,
        /// The uncompressed point (0x04 || x || y), on the curve.
        point: Vec<u8>,
    },
    /// An RSA key (2048 bits or more): `RSA-OAEP-256`.
    Rsa {
        /// The modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent, big-endian.
        e: Vec<u8>,
    },
}

fn bad(reason: impl Into<String>) -> ReleaseError {
    ReleaseError::Request(format!("tee-pubkey: {}", reason.into()))
}

fn member<'a>(jwk: &'a Value, name: &str) -> Result<&'a str> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("no string member {name:?}")))
}

fn b64u(jwk: &Value, name: &str) -> Result<Vec<u8>> {
    B64U.decode(member(jwk, name)?.trim_end_matches('='))
        .map_err(|_| bad(format!("{name} is not base64url")))
}

#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

impl TeeKey {
    /// Reads a JWK: `{"kty":"EC","crv":"P-256"|"P-384"|"P-521","x","y"}` or
    /// `{"kty":"RSA","n","e"}`; an `alg` member, when present, must be the one its type implies.
    /// EC points are checked to be on their curve; RSA moduli must have 2048 bits or more.
    pub fn from_jwk(jwk: &Value) -> Result<Self> {
        let alg = jwk.get("alg").and_then(Value::as_str);
        match member(jwk, "kty")? {
            "EC" => {
                if alg.is_some_and(|a| a != "ECDH-ES+A256KW") {
                    return Err(bad(format!("alg {alg:?} with an EC key (ECDH-ES+A256KW)")));
                }
                let curve = match member(jwk, "crv")? {
                    "P-256" => Curve::P256,
                    "P-384" => Curve::P384,
                    "P-521" => Curve::P521,
                    c => return Err(bad(format!("curve {c:?}: P-256, P-384 or P-521"))),
                };
                let (x, y) = (b64u(jwk, "x")?, b64u(jwk, "y")?);
                let n = curve.coordinate_len();
                if x.len() != n || y.len() != n {
                    return Err(bad(format!("{} coordinates are {n} bytes", curve.name())));
                }
                let point = [&[0x04][..], &x, &y].concat();
                agreement::ParsedPublicKey::try_from(UnparsedPublicKey::new(
                    curve.algorithm(),
                    &point,
                ))
                .map_err(|_| bad(format!("not a point of {}", curve.name())))?;
                Ok(TeeKey::Ec { curve, point })
            }
            "RSA" => {
                if alg.is_some_and(|a| a != "RSA-OAEP-256") {
                    return Err(bad(format!("alg {alg:?} with an RSA key (RSA-OAEP-256)")));
                }
                let (n, e) = (b64u(jwk, "n")?, b64u(jwk, "e")?);
                let key = TeeKey::Rsa { n, e };
                let k = key.rsa_key()?;
                if k.key_size_bytes() < 256 {
                    return Err(bad("an RSA modulus below 2048 bits"));
                }
                Ok(key)
            }
            k => Err(bad(format!("kty {k:?}: EC or RSA"))),
        }
    }

    fn rsa_key(&self) -> Result<PublicEncryptingKey> {
        let TeeKey::Rsa { n, e } = self else {
            return Err(bad("not an RSA key"));
        };
        let pkcs1 = RsaPublicKey {
            modulus: der::asn1::UintRef::new(n).map_err(|_| bad("RSA modulus"))?,
            public_exponent: der::asn1::UintRef::new(e).map_err(|_| bad("RSA exponent"))?,
        }
        .to_der()
        .map_err(|e| bad(format!("RSA key: {e}")))?;
        let spki = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(der::asn1::AnyRef::NULL),
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(&pkcs1)
                .map_err(|e| bad(format!("RSA key: {e}")))?,
        }
        .to_der()
        .map_err(|e| bad(format!("RSA key: {e}")))?;
        PublicEncryptingKey::from_der(&spki).map_err(|e| bad(format!("RSA key rejected: {e}")))
    }
}

/// The Concat KDF of RFC 7518 4.6.2 for `ECDH-ES+A256KW` with empty `apu`/`apv`: one round of
/// SHA-256 over `counter || Z || AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo`.
fn concat_kdf(z: &[u8]) -> Zeroizing<[u8; 32]> {
    let alg = b"ECDH-ES+A256KW";
    let mut h = Sha256::new();
    h.update(1u32.to_be_bytes());
    h.update(z);
    h.update((alg.len() as u32).to_be_bytes());
    h.update(alg);
    h.update(0u32.to_be_bytes());
    h.update(0u32.to_be_bytes());
    h.update(256u32.to_be_bytes());
    Zeroizing::new(h.finalize().into())
}

fn err(what: &str) -> ReleaseError {
    ReleaseError::Wrap(format!("JWE: {what}"))
}

/// Encrypts `plaintext` to `key` as a flattened JWE: `{"protected", "encrypted_key", "iv",
/// "ciphertext", "tag"}` (base64url without padding).
pub fn encrypt(key: &TeeKey, plaintext: &[u8]) -> Result<Value> {
    let mut cek = Zeroizing::new([0u8; 32]);
    getrandom::fill(cek.as_mut()).map_err(|_| err("no randomness"))?;
    let (protected, encrypted_key) = match key {
        TeeKey::Ec { curve, point } => {
            let alg = curve.algorithm();
            let eph = PrivateKey::generate(alg).map_err(|_| err("ephemeral key"))?;
            let epk = eph.compute_public_key().map_err(|_| err("ephemeral key"))?;
            let epk = epk.as_ref();
            let n = curve.coordinate_len();
            let protected = format!(
                r#"{{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}}}"#,
                curve.name(),
                B64U.encode(&epk[1..1 + n]),
                B64U.encode(&epk[1 + n..])
            );
            let kek = agreement::agree(
                &eph,
                UnparsedPublicKey::new(alg, point),
                err("key agreement"),
                |z| Ok(concat_kdf(z)),
            )?;
            let kek = AesKek::new(&AES_256, kek.as_ref()).map_err(|_| err("key wrap key"))?;
            let mut wrapped = vec![0u8; 40];
            let n = kek
                .wrap(cek.as_ref(), &mut wrapped)
                .map_err(|_| err("key wrap"))?
                .len();
            wrapped.truncate(n);
            (protected, wrapped)
        }
        TeeKey::Rsa { .. } => {
            let k = OaepPublicEncryptingKey::new(key.rsa_key()?).map_err(|_| err("RSA key"))?;
            let mut out = vec![0u8; k.ciphertext_size()];
            let n = k
                .encrypt(&OAEP_SHA256_MGF1SHA256, cek.as_ref(), &mut out, None)
                .map_err(|_| err("RSA-OAEP"))?
                .len();
            out.truncate(n);
            (r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#.to_string(), out)
        }
    };
    let protected = B64U.encode(protected.as_bytes());
    let mut iv = [0u8; 12];
    getrandom::fill(&mut iv).map_err(|_| err("no randomness"))?;
    let aead = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, cek.as_ref()).map_err(|_| err("content key"))?,
    );
    let mut ct = plaintext.to_vec();
    let tag = aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(protected.as_bytes()),
            &mut ct,
        )
        .map_err(|_| err("content encryption"))?;
    Ok(json!({
        "protected": protected,
        "encrypted_key": B64U.encode(&encrypted_key),
        "iv": B64U.encode(iv),
        "ciphertext": B64U.encode(&ct),
        "tag": B64U.encode(tag.as_ref()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_are_checked() {
        let k = PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let p = k.compute_public_key().unwrap();
        let p = p.as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
            "x": B64U.encode(&p[1..33]), "y": B64U.encode(&p[33..])});
        assert!(matches!(
            TeeKey::from_jwk(&jwk).unwrap(),
            TeeKey::Ec {
                curve: Curve::P256,
                ..
            }
        ));
        let mut off = jwk.clone();
        let mut y = p[33..].to_vec();
        y[31] ^= 1;
        off["y"] = B64U.encode(&y).into();
        assert!(TeeKey::from_jwk(&off).is_err());
        let mut wrong_alg = jwk.clone();
        wrong_alg["alg"] = "RSA-OAEP-256".into();
        assert!(TeeKey::from_jwk(&wrong_alg).is_err());
        assert!(TeeKey::from_jwk(&json!({"kty": "oct", "k": "AA"})).is_err());
        // An RSA modulus of 1024 bits is refused.
        let small = json!({"kty": "RSA", "n": B64U.encode([0xc5u8; 128]), "e": "AQAB"});
        assert!(TeeKey::from_jwk(&small).is_err());
    }
}
