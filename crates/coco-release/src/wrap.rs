//! HPKE (RFC 9180) base-mode wrapping of a data key to the workload's ephemeral key:
//! DHKEM(P-384, HKDF-SHA384) + HKDF-SHA384 + AES-256-GCM, or DHKEM(X25519, HKDF-SHA256) +
//! HKDF-SHA256 + AES-256-GCM.

use hpke::aead::AesGcm256;
use hpke::kdf::{HkdfSha256, HkdfSha384};
use hpke::kem::{DhP384HkdfSha384, X25519HkdfSha256};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ReleaseError, Result};

/// The KEM of the workload key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kem {
    /// DHKEM(P-384, HKDF-SHA384), with HKDF-SHA384 and AES-256-GCM.
    P384,
    /// DHKEM(X25519, HKDF-SHA256), with HKDF-SHA256 and AES-256-GCM.
    X25519,
}

impl std::str::FromStr for Kem {
    type Err = ReleaseError;

    /// `p384` or `x25519`, as on the wire.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "p384" => Ok(Kem::P384),
            "x25519" => Ok(Kem::X25519),
            k => Err(ReleaseError::Request(format!("KEM {k:?}: p384 or x25519"))),
        }
    }
}

/// The workload's ephemeral key pair; the private half is zeroized on drop.
pub struct WorkloadKey {
    kem: Kem,
    private: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
}

impl std::fmt::Debug for WorkloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WorkloadKey({:?}, pk {})",
            self.kem,
            hex::encode(&self.public)
        )
    }
}

/// A wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The KEM.
    pub kem: Kem,
    /// The encapsulated key.
    pub enc: Vec<u8>,
    /// The AEAD ciphertext of the data key (32 bytes + 16-byte tag).
    pub ciphertext: Vec<u8>,
}

fn hpke_err(what: &str) -> ReleaseError {
    ReleaseError::Wrap(what.into())
}

fn open_with<Kdf: hpke::kdf::Kdf, K: hpke::Kem>(
    sk: &[u8],
    enc: &[u8],
    ct: &[u8],
    info: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    let sk = K::PrivateKey::from_bytes(sk).map_err(|_| hpke_err("private key"))?;
    let enc = K::EncappedKey::from_bytes(enc).map_err(|_| hpke_err("encapsulated key"))?;
    hpke::single_shot_open::<AesGcm256, Kdf, K>(&OpModeR::Base, &sk, &enc, info, ct, aad)
        .map_err(|_| hpke_err("the wrapped key does not open with this key, info and aad"))
}

fn seal_with<Kdf: hpke::kdf::Kdf, K: hpke::Kem>(
    pk: &[u8],
    pt: &[u8],
    info: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let pk = K::PublicKey::from_bytes(pk)
        .map_err(|_| hpke_err("the workload key is not valid for its KEM"))?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm256, Kdf, K>(&OpModeS::Base, &pk, info, pt, aad)
        .map_err(|_| hpke_err("seal"))?;
    Ok((enc.to_bytes().to_vec(), ct))
}

impl WorkloadKey {
    /// A fresh key pair from the OS random generator.
    pub fn generate(kem: Kem) -> Self {
        let (private, public) = match kem {
            Kem::P384 => {
                let (sk, pk) = DhP384HkdfSha384::gen_keypair();
                (sk.to_bytes().to_vec(), pk.to_bytes().to_vec())
            }
            Kem::X25519 => {
                let (sk, pk) = X25519HkdfSha256::gen_keypair();
                (sk.to_bytes().to_vec(), pk.to_bytes().to_vec())
            }
        };
        Self {
            kem,
            private: Zeroizing::new(private),
            public,
        }
    }

    /// The KEM.
    pub fn kem(&self) -> Kem {
        self.kem
    }

    /// The encoded public key (P-384: uncompressed SEC1 point; X25519: 32 bytes).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Opens a wrapped data key into zeroizing memory.
    pub fn unwrap(&self, w: &Wrapped, info: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        if w.kem != self.kem {
            return Err(hpke_err("the wrapped key is for another KEM"));
        }
        let pt = match self.kem {
            Kem::P384 => open_with::<HkdfSha384, DhP384HkdfSha384>(
                &self.private,
                &w.enc,
                &w.ciphertext,
                info,
                aad,
            )?,
            Kem::X25519 => open_with::<HkdfSha256, X25519HkdfSha256>(
                &self.private,
                &w.enc,
                &w.ciphertext,
                info,
                aad,
            )?,
        };
        let pt = Zeroizing::new(pt);
        let mut out = Zeroizing::new([0u8; 32]);
        if pt.len() != 32 {
            return Err(hpke_err("the unwrapped key is not 32 bytes"));
        }
        out.copy_from_slice(&pt);
        Ok(out)
    }
}

/// Wraps `dek` to the workload public key `pk`.
pub fn wrap(kem: Kem, pk: &[u8], dek: &[u8; 32], info: &[u8], aad: &[u8]) -> Result<Wrapped> {
    let (enc, ciphertext) = match kem {
        Kem::P384 => seal_with::<HkdfSha384, DhP384HkdfSha384>(pk, dek, info, aad)?,
        Kem::X25519 => seal_with::<HkdfSha256, X25519HkdfSha256>(pk, dek, info, aad)?,
    };
    Ok(Wrapped {
        kem,
        enc,
        ciphertext,
    })
}

/// Checks that `pk` is a valid public key of `kem`.
pub fn check_public_key(kem: Kem, pk: &[u8]) -> Result<()> {
    let ok = match kem {
        Kem::P384 => <DhP384HkdfSha384 as hpke::Kem>::PublicKey::from_bytes(pk).is_ok(),
        Kem::X25519 => <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(pk).is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(hpke_err("the workload public key is not valid for its KEM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_both_kems_and_binding_of_info_and_aad() {
        for kem in [Kem::P384, Kem::X25519] {
            let k = WorkloadKey::generate(kem);
            let dek = [7u8; 32];
            let w = wrap(kem, k.public_key(), &dek, b"info", b"aad").unwrap();
            assert_eq!(*k.unwrap(&w, b"info", b"aad").unwrap(), dek);
            assert!(k.unwrap(&w, b"infx", b"aad").is_err());
            assert!(k.unwrap(&w, b"info", b"aax").is_err());
            let other = WorkloadKey::generate(kem);
            assert!(other.unwrap(&w, b"info", b"aad").is_err());
            let mut bad = w.clone();
            bad.ciphertext[0] ^= 1;
            assert!(k.unwrap(&bad, b"info", b"aad").is_err());
        }
    }
}
