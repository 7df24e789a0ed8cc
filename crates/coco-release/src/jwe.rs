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

/// A TEE's key pair on the client side of the KBS protocol: an EC key whose public half is
/// sent as `tee-pubkey` and whose private half opens the resource's JWE. Generated fresh per
/// session and never stored.
pub struct TeeKeyPair {
    curve: Curve,
    private: PrivateKey,
    point: Vec<u8>,
}

impl std::fmt::Debug for TeeKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TeeKeyPair({})", self.curve.name())
    }
}

fn member_str<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| err(&format!("no string member {name:?}")))
}

fn b64u_member(v: &Value, name: &str) -> Result<Vec<u8>> {
    B64U.decode(member_str(v, name)?.trim_end_matches('='))
        .map_err(|_| err(&format!("{name} is not base64url")))
}

impl TeeKeyPair {
    /// A fresh key on `curve` (the KBS guest clients use P-256).
    pub fn generate(curve: Curve) -> Result<Self> {
        let private = PrivateKey::generate(curve.algorithm()).map_err(|_| err("key generation"))?;
        let point = private
            .compute_public_key()
            .map_err(|_| err("key generation"))?
            .as_ref()
            .to_vec();
        Ok(Self {
            curve,
            private,
            point,
        })
    }

    /// The public JWK `{"kty":"EC","crv","alg":"ECDH-ES+A256KW","x","y"}` (the members of the
    /// `kbs-types` EC key; the binding hashes its canonical form, so order does not matter).
    pub fn public_jwk(&self) -> Value {
        let n = self.curve.coordinate_len();
        let mut m = serde_json::Map::new();
        m.insert("kty".into(), "EC".into());
        m.insert("crv".into(), self.curve.name().into());
        m.insert("alg".into(), "ECDH-ES+A256KW".into());
        m.insert("x".into(), B64U.encode(&self.point[1..1 + n]).into());
        m.insert("y".into(), B64U.encode(&self.point[1 + n..]).into());
        Value::Object(m)
    }

    /// Opens a flattened JWE encrypted to this key (`ECDH-ES+A256KW`, `A256GCM`; the
    /// protected header as received is the AAD). Nothing of a JWE that fails is returned.
    pub fn decrypt(&self, jwe: &Value) -> Result<Zeroizing<Vec<u8>>> {
        let protected = member_str(jwe, "protected")?;
        let mut header: Value = serde_json::from_slice(&b64u_member(jwe, "protected")?)
            .map_err(|_| err("the protected header is not JSON"))?;
        // The JOSE header is the union of the protected, shared unprotected and recipient
        // headers (RFC 7516 7.2.1), whose names must be disjoint. A changed unprotected `epk`
        // derives another key-wrapping key and unwraps nothing.
        for part in ["unprotected", "header"] {
            let Some(extra) = jwe.get(part) else { continue };
            let (Some(h), Some(extra)) = (header.as_object_mut(), extra.as_object()) else {
                return Err(err(&format!("{part} is not a JSON object")));
            };
            for (k, v) in extra {
                if h.insert(k.clone(), v.clone()).is_some() {
                    return Err(err(&format!("header parameter {k:?} given twice")));
                }
            }
        }
        if member_str(&header, "alg")? != "ECDH-ES+A256KW"
            || member_str(&header, "enc")? != "A256GCM"
        {
            return Err(err("alg/enc: expected ECDH-ES+A256KW with A256GCM"));
        }
        let epk = header.get("epk").ok_or_else(|| err("no epk"))?;
        if member_str(epk, "kty")? != "EC" || member_str(epk, "crv")? != self.curve.name() {
            return Err(err(&format!(
                "epk is not an EC key on {}",
                self.curve.name()
            )));
        }
        let (x, y) = (b64u_member(epk, "x")?, b64u_member(epk, "y")?);
        let n = self.curve.coordinate_len();
        if x.len() != n || y.len() != n {
            return Err(err("epk coordinates have the wrong length"));
        }
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let kek = agreement::agree(
            &self.private,
            UnparsedPublicKey::new(self.curve.algorithm(), &point),
            err("key agreement (is epk on the curve?)"),
            |z| Ok(concat_kdf(z)),
        )?;
        let kek = AesKek::new(&AES_256, kek.as_ref()).map_err(|_| err("key wrap key"))?;
        let wrapped = b64u_member(jwe, "encrypted_key")?;
        let mut cek = Zeroizing::new([0u8; 40]);
        let len = kek
            .unwrap(&wrapped, cek.as_mut())
            .map_err(|_| err("the content key does not unwrap (not encrypted to this key)"))?
            .len();
        if len != 32 {
            return Err(err("the content key is not 32 bytes"));
        }
        let iv: [u8; 12] = b64u_member(jwe, "iv")?
            .try_into()
            .map_err(|_| err("iv is not 12 bytes"))?;
        let tag = b64u_member(jwe, "tag")?;
        let mut buf = Zeroizing::new(b64u_member(jwe, "ciphertext")?);
        buf.extend_from_slice(&tag);
        let aead = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &cek[..32]).map_err(|_| err("content key"))?,
        );
        let plain_len = aead
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(protected.as_bytes()),
                &mut buf,
            )
            .map_err(|_| err("the content does not authenticate"))?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_pair_opens_what_is_encrypted_to_its_jwk_and_nothing_else() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let pair = TeeKeyPair::generate(curve).unwrap();
            let jwk = pair.public_jwk();
            let mut members: Vec<&String> = jwk.as_object().unwrap().keys().collect();
            members.sort();
            assert_eq!(members, ["alg", "crv", "kty", "x", "y"]);
            let jwe = encrypt(&TeeKey::from_jwk(&jwk).unwrap(), b"secret").unwrap();
            assert_eq!(&pair.decrypt(&jwe).unwrap()[..], b"secret");
            for field in ["protected", "encrypted_key", "iv", "ciphertext", "tag"] {
                let mut bad = jwe.clone();
                let v = bad[field].as_str().unwrap().to_string();
                let c = if v.starts_with('A') { "B" } else { "A" };
                bad[field] = format!("{c}{}", &v[1..]).into();
                assert!(pair.decrypt(&bad).is_err(), "{curve:?} {field}");
            }
        }
    }

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
