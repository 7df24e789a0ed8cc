//! Chunk encryption: AES-256-GCM-SIV under the per-file key with STREAM nonces.
//!
//! `nonce_i = 00 00 00 || u64_be(i) || last_flag`, last_flag = 1 only for the final chunk.
//! The tag is detached (stored in the tag table) and the ciphertext is exactly as long as the
//! plaintext, so plaintext byte `p` sits at `data_offset + p`.

use aes_gcm_siv::aead::inout::InOutBuf;
use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};

use crate::error::{Result, SealError};

/// Tag length in bytes.
pub(crate) const TAG: usize = 16;

/// The AEAD for one sealed file. `Sync`: several threads decrypt different chunks at once.
pub(crate) struct ChunkCipher {
    aead: Aes256GcmSiv,
    n_chunks: u64,
}

pub(crate) fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

impl ChunkCipher {
    pub(crate) fn new(file_key: &[u8; 32], n_chunks: u64) -> Self {
        Self {
            aead: Aes256GcmSiv::new(file_key.into()),
            n_chunks,
        }
    }

    fn nonce_for(&self, index: u64) -> Nonce {
        Nonce::from(nonce(index, index + 1 == self.n_chunks))
    }

    /// Encrypts chunk `index` in place and returns its tag.
    pub(crate) fn seal(&self, index: u64, buf: &mut [u8]) -> [u8; TAG] {
        let tag = self
            .aead
            .encrypt_inout_detached(&self.nonce_for(index), b"", buf.into())
            .expect("a chunk is far below the AES-GCM-SIV message limit");
        tag.into()
    }

    /// Encrypts chunk `index` from `plaintext` into `out` (same length) and returns its tag.
    pub(crate) fn seal_from(&self, index: u64, plaintext: &[u8], out: &mut [u8]) -> [u8; TAG] {
        let buf = InOutBuf::new(plaintext, out).expect("a batch is as long as its source");
        let tag = self
            .aead
            .encrypt_inout_detached(&self.nonce_for(index), b"", buf)
            .expect("a chunk is far below the AES-GCM-SIV message limit");
        tag.into()
    }

    /// Decrypts chunk `index` from `ciphertext` into `out` (same length). On failure `out` is
    /// zeroed and the error names the chunk.
    pub(crate) fn open_from(
        &self,
        index: u64,
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &[u8; TAG],
    ) -> Result<()> {
        let buf = InOutBuf::new(ciphertext, out).map_err(|_| {
            SealError::InvalidArgument("ciphertext and output lengths differ".into())
        })?;
        let r =
            self.aead
                .decrypt_inout_detached(&self.nonce_for(index), b"", buf, &Tag::from(*tag));
        if r.is_err() {
            out.fill(0);
            return Err(SealError::Tampered { chunk: Some(index) });
        }
        Ok(())
    }

    /// Decrypts chunk `index` in place. On failure the buffer holds no plaintext (it is
    /// zeroed) and the error names the chunk.
    pub(crate) fn open(&self, index: u64, buf: &mut [u8], tag: &[u8; TAG]) -> Result<()> {
        match self.aead.decrypt_inout_detached(
            &self.nonce_for(index),
            b"",
            buf.into(),
            &Tag::from(*tag),
        ) {
            Ok(()) => Ok(()),
            Err(_) => {
                buf.fill(0);
                Err(SealError::Tampered { chunk: Some(index) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_layout() {
        assert_eq!(
            nonce(0x0102030405060708, true),
            [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1]
        );
        assert_eq!(nonce(0, false), [0; 12]);
    }

    #[test]
    fn position_and_last_flag_are_authenticated() {
        let c = ChunkCipher::new(&[3; 32], 3);
        let mut a = vec![1u8; 100];
        let tag = c.seal(1, &mut a);
        let mut moved = a.clone();
        assert!(matches!(
            c.open(2, &mut moved, &tag),
            Err(SealError::Tampered { chunk: Some(2) })
        ));
        assert!(moved.iter().all(|&b| b == 0));
        // Same index, but as the final chunk of a shorter file: the last flag differs.
        let short = ChunkCipher::new(&[3; 32], 2);
        let mut b = a.clone();
        assert!(short.open(1, &mut b, &tag).is_err());
        c.open(1, &mut a, &tag).unwrap();
        assert_eq!(a, vec![1u8; 100]);
    }
}
