//! The data-encryption key (DEK) and the keys derived from it.
//!
//! ```text
//! key_check              = HKDF-SHA-256(ikm = DEK, salt = "", info = "coco-seal/v1 key check")[0..16]
//! file_key || commitment = HKDF-SHA-256(ikm = DEK, salt = file salt,
//!                                       info = "coco-seal/v1 file" || SHA-256(header[0 .. H-32]))
//! ```
//!
//! The key check value tells a wrong key apart from a tampered header: it depends on the DEK
//! alone, while the commitment depends on the DEK and every header byte before it.

use std::fs;
use std::io::Write;
use std::path::Path;

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Result, SealError};

/// Length of a DEK in bytes.
pub const DEK_LEN: usize = 32;

const KEY_CHECK_INFO: &[u8] = b"coco-seal/v1 key check";
const FILE_INFO: &[u8] = b"coco-seal/v1 file";

/// A 256-bit data-encryption key. Zeroized on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct Dek(Zeroizing<[u8; DEK_LEN]>);

impl Dek {
    /// Draws a fresh key from the operating system's CSPRNG.
    ///
    /// ```
    /// let a = coco_seal::Dek::generate().unwrap();
    /// let b = coco_seal::Dek::generate().unwrap();
    /// assert_ne!(a.key_check(), b.key_check());
    /// ```
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; DEK_LEN]);
        getrandom::fill(k.as_mut_slice())
            .map_err(|e| SealError::Io(std::io::Error::other(format!("getrandom: {e}"))))?;
        Ok(Self(k))
    }

    /// Whether `other` is the same key, compared in constant time.
    ///
    /// ```
    /// let a = coco_seal::Dek::generate().unwrap();
    /// assert!(a.same_key(&a.clone()) && !a.same_key(&coco_seal::Dek::generate().unwrap()));
    /// ```
    pub fn same_key(&self, other: &Dek) -> bool {
        ct_eq(self.as_bytes(), other.as_bytes())
    }

    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; DEK_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Reads a key from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; DEK_LEN] = bytes.try_into().map_err(|_| {
            SealError::InvalidArgument(format!(
                "a data key is {DEK_LEN} bytes, got {}",
                bytes.len()
            ))
        })?;
        Ok(Self::from_bytes(arr))
    }

    /// Reads a key file: either exactly 32 raw bytes, or 64 hex characters (an optional
    /// trailing newline allowed).
    pub fn load(path: &Path) -> Result<Self> {
        let raw = Zeroizing::new(fs::read(path).map_err(|e| SealError::file(path, e))?);
        if raw.len() == DEK_LEN {
            return Self::from_slice(&raw);
        }
        let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.len() == 2 * DEK_LEN {
            let mut k = Zeroizing::new([0u8; DEK_LEN]);
            if hex::decode_to_slice(text, k.as_mut_slice()).is_ok() {
                return Ok(Self(k));
            }
        }
        Err(SealError::InvalidArgument(format!(
            "{}: a key file holds 32 raw bytes or 64 hex characters ({} bytes found)",
            path.display(),
            raw.len()
        )))
    }

    /// Writes the 32 raw key bytes to a new file with mode 0600 (refuses to overwrite).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path)?;
        f.write_all(self.0.as_slice())?;
        f.sync_all()?;
        Ok(())
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; DEK_LEN] {
        &self.0
    }

    /// The 16-byte key check value stored in every sealed header. It reveals nothing about the
    /// key, identifies it across files, and is what tells [`SealError::WrongKey`] apart from a
    /// tampered header.
    pub fn key_check(&self) -> [u8; 16] {
        let hk = Hkdf::<Sha256>::new(None, self.0.as_slice());
        let mut out = [0u8; 16];
        hk.expand(KEY_CHECK_INFO, &mut out)
            .expect("16 bytes is a valid HKDF-SHA-256 output length");
        out
    }

    /// Derives the per-file AEAD key and the 32-byte commitment from the salt and the digest
    /// of the header bytes before the commitment.
    pub(crate) fn derive_file_keys(
        &self,
        salt: &[u8; 32],
        header_digest: &[u8; 32],
    ) -> (Zeroizing<[u8; 32]>, [u8; 32]) {
        let hk = Hkdf::<Sha256>::new(Some(salt), self.0.as_slice());
        let mut okm = Zeroizing::new([0u8; 64]);
        hk.expand_multi_info(&[FILE_INFO, header_digest], okm.as_mut_slice())
            .expect("64 bytes is a valid HKDF-SHA-256 output length");
        let mut file_key = Zeroizing::new([0u8; 32]);
        file_key.copy_from_slice(&okm[..32]);
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&okm[32..]);
        (file_key, commitment)
    }
}

impl std::fmt::Debug for Dek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dek(key_check={})", hex::encode(self.key_check()))
    }
}

/// Constant-time equality of two byte strings of the same length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_raw_and_hex() {
        let dir = tempfile::tempdir().unwrap();
        let k = Dek::from_bytes([7u8; 32]);
        let p = dir.path().join("k");
        k.save(&p).unwrap();
        assert_eq!(Dek::load(&p).unwrap().as_bytes(), k.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(k.save(&p).is_err(), "save must not overwrite");
        let h = dir.path().join("h");
        fs::write(&h, format!("{}\n", hex::encode([7u8; 32]))).unwrap();
        assert_eq!(Dek::load(&h).unwrap().as_bytes(), k.as_bytes());
        let bad = dir.path().join("bad");
        fs::write(&bad, b"short").unwrap();
        assert!(matches!(
            Dek::load(&bad),
            Err(SealError::InvalidArgument(_))
        ));
        assert!(!format!("{k:?}").contains("0707"));
    }

    #[test]
    fn derivations_depend_on_every_input() {
        let k = Dek::from_bytes([1u8; 32]);
        let (f1, c1) = k.derive_file_keys(&[0u8; 32], &[0u8; 32]);
        let (f2, c2) = k.derive_file_keys(&[1u8; 32], &[0u8; 32]);
        let (f3, c3) = k.derive_file_keys(&[0u8; 32], &[1u8; 32]);
        assert_ne!(*f1, *f2);
        assert_ne!(*f1, *f3);
        assert_ne!(c1, c2);
        assert_ne!(c1, c3);
        assert_ne!(k.key_check(), Dek::from_bytes([2u8; 32]).key_check());
        assert!(ct_eq(&c1, &c1) && !ct_eq(&c1, &c2) && !ct_eq(&c1, &c1[..31]));
    }
}
