//! Digests with hex text forms.
//!
//! A [`Sha256Digest`] is what the sealed-model manifest records for every shard (header and
//! plaintext digests) and what appraisal later compares against reference values. Equality is
//! constant-time so that a digest can double as a MAC-like check without leaking a prefix.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Errors from parsing a digest's text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The text is not exactly `expected` lower- or upper-case hex characters.
    #[error("digest must be {expected} hex characters, found {found} characters")]
    Length {
        /// Hex characters required.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// The text holds a character that is not a hex digit.
    #[error("digest is not hex: {0}")]
    NotHex(String),
}

/// A SHA-256 digest (32 bytes), written as 64 lower-case hex characters.
#[derive(Clone, Copy)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Hashes `data` in one call.
    ///
    /// ```
    /// use coco_core::Sha256Digest;
    /// let d = Sha256Digest::of(b"abc");
    /// assert_eq!(
    ///     d.to_string(),
    ///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    /// );
    /// ```
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Result<Self, DigestError> {
        if text.len() != 64 {
            return Err(DigestError::Length {
                expected: 64,
                found: text.len(),
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|e| DigestError::NotHex(e.to_string()))?;
        Ok(Self(out))
    }
}

impl PartialEq for Sha256Digest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Sha256Digest {}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl std::str::FromStr for Sha256Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let d = Sha256Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Sha256Digest::from_hex(&d.to_string().to_uppercase()).unwrap(),
            d
        );
        assert_eq!(
            Sha256Digest::from_hex("abcd"),
            Err(DigestError::Length {
                expected: 64,
                found: 4
            })
        );
        assert!(matches!(
            Sha256Digest::from_hex(&"zz".repeat(32)),
            Err(DigestError::NotHex(_))
        ));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), d);
        assert_ne!(Sha256Digest::of(b"a"), d);
    }
}
