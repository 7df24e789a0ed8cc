//! Where the service keeps data keys, by key id: files ([`FileKeyStore`]), memory
//! ([`MemoryKeyStore`]), or blobs sealed by a key-encryption key in an HSM
//! ([`pkcs11::Pkcs11KeyStore`], feature `pkcs11`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use coco_seal::Dek;
use sha2::{Digest, Sha256};

use crate::error::{ReleaseError, Result};

#[cfg(feature = "pkcs11")]
pub mod pkcs11;

pub use crate::error::KeyStoreError;

/// A store of data keys.
pub trait KeyStore: Send + Sync {
    /// The key for `key_id`, if the store holds one.
    fn get(&self, key_id: &str) -> Result<Option<Dek>>;

    /// Stores `dek` under `key_id`. Idempotent for the same key (a restart with the same
    /// command line works); a different key under an existing id is refused
    /// ([`KeyStoreError::Conflict`]), never replaced.
    fn import(&self, key_id: &str, dek: &Dek) -> Result<()>;
}

impl<T: KeyStore + ?Sized> KeyStore for std::sync::Arc<T> {
    fn get(&self, key_id: &str) -> Result<Option<Dek>> {
        (**self).get(key_id)
    }

    fn import(&self, key_id: &str, dek: &Dek) -> Result<()> {
        (**self).import(key_id, dek)
    }
}

/// Keys in files of a directory, one per key id (named by SHA-256 of the id; mode 0600).
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    dir: PathBuf,
}

impl FileKeyStore {
    /// A store in `dir` (created if missing, mode 0700).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ReleaseError::Storage(format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| ReleaseError::Storage(format!("{}: {e}", dir.display())))?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, key_id: &str) -> PathBuf {
        self.dir
            .join(hex::encode(Sha256::digest(key_id.as_bytes())))
    }

    /// Stores `dek` under `key_id` (mode 0600; refuses to overwrite).
    pub fn put(&self, key_id: &str, dek: &Dek) -> Result<()> {
        dek.save(&self.path(key_id))
            .map_err(|e| ReleaseError::Storage(e.to_string()))
    }
}

impl KeyStore for FileKeyStore {
    fn import(&self, key_id: &str, dek: &Dek) -> Result<()> {
        match self.get(key_id)? {
            Some(have) if have.same_key(dek) => Ok(()),
            Some(_) => Err(KeyStoreError::Conflict {
                key_id: key_id.to_string(),
            }
            .into()),
            None => self.put(key_id, dek),
        }
    }

    fn get(&self, key_id: &str) -> Result<Option<Dek>> {
        let p = self.path(key_id);
        if !p.exists() {
            return Ok(None);
        }
        Dek::load(&p)
            .map(Some)
            .map_err(|e| ReleaseError::Storage(e.to_string()))
    }
}

/// Keys in memory (tests, demos).
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, [u8; 32]>>,
}

impl std::fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryKeyStore")
    }
}

impl MemoryKeyStore {
    /// Stores `dek` under `key_id`.
    pub fn put(&self, key_id: &str, dek: &Dek) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_id.into(), *dek.as_bytes());
    }
}

impl Drop for MemoryKeyStore {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for v in self
            .keys
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .values_mut()
        {
            v.zeroize();
        }
    }
}

impl KeyStore for MemoryKeyStore {
    fn import(&self, key_id: &str, dek: &Dek) -> Result<()> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        match keys.get(key_id) {
            Some(have) if Dek::from_bytes(*have).same_key(dek) => Ok(()),
            Some(_) => Err(KeyStoreError::Conflict {
                key_id: key_id.to_string(),
            }
            .into()),
            None => {
                keys.insert(key_id.into(), *dek.as_bytes());
                Ok(())
            }
        }
    }

    fn get(&self, key_id: &str) -> Result<Option<Dek>> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
            .map(|k| Dek::from_bytes(*k)))
    }
}
