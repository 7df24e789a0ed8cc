//! The TDX chain cache: PCK chains and PCK CRL signatures that verified, by fingerprint.

use std::collections::HashSet;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::x509::Cert;

/// Remembers verified PCK chains and PCK CRL signatures by certificate fingerprints, so that
/// quotes from known platforms skip those ECDSA checks. Validity windows, revocation lists,
/// the QE report and the quote signature are still checked for every quote. Thread-safe.
#[derive(Debug, Default)]
pub struct ChainCache {
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl ChainCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn key(parts: &[&Cert], extra: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        for c in parts {
            h.update(Sha256::digest(c.der()));
        }
        h.update(Sha256::digest(extra));
        h.finalize().into()
    }

    pub(crate) fn contains(&self, k: &[u8; 32]) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(k)
    }

    pub(crate) fn insert(&self, k: [u8; 32]) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k);
    }
}
