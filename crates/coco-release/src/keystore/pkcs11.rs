//! A key store whose key-encryption key (KEK) lives in an HSM, reached over PKCS#11.
//!
//! The KEK is an AES-256 key on a token that never leaves it: coco refuses one that is
//! extractable, not sensitive, or usable without logging in (not private). Each data key is stored beside the other keys as a blob sealed by the KEK
//! *inside the token* (`CKM_AES_GCM`, a fresh 96-bit IV, the key id as associated data, so a
//! blob moved to another id does not open):
//!
//! ```text
//! blob = "coco-p11" || 0x01 || iv (12) || AES-256-GCM(KEK, iv, aad, dek) (32 + 16)
//! aad  = "coco/keystore/pkcs11/v1" || 0x00 || key_id
//! file = DIR/<hex SHA-256(key_id)>.p11   (mode 0600, never overwritten)
//! ```
//!
//! At release time the token opens the blob and the data key goes into zeroizing memory, then is
//! wrapped to the workload's key as with any store. Nothing plaintext is ever written to disk.
//!
//! Configuration is a PKCS#11 URI (RFC 7512): `pkcs11:token=coco;object=kek?module-path=
//! /usr/lib/softhsm/libsofthsm2.so`, with the user PIN from a file or an environment variable
//! ([`PinSource`]); a PIN in the URI (`pin-value`) is refused. Sessions are pooled (the token
//! is logged in once); when the token resets (sessions invalidated, login lost) the pool is
//! rebuilt, the KEK found again, and the operation retried once. A PKCS#11 login belongs to
//! the whole process: a second store opened in a process already logged in to the token does
//! not check its PIN again.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use coco_seal::Dek;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{KeyStore, KeyStoreError};
use crate::error::{ReleaseError, Result};

const MAGIC: &[u8; 9] = b"coco-p11\x01";
const AAD_PREFIX: &[u8] = b"coco/keystore/pkcs11/v1\x00";
const IV_LEN: usize = 12;
const BLOB_LEN: usize = MAGIC.len() + IV_LEN + 32 + 16;
/// Sessions kept open for reuse (more are opened under load and closed after use).
const POOL: usize = 8;

/// A parsed PKCS#11 URI (RFC 7512): the attributes coco uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token=`: the token label.
    pub token: Option<String>,
    /// `serial=`: the token serial number.
    pub serial: Option<String>,
    /// `slot-id=`: the slot number.
    pub slot_id: Option<u64>,
    /// `object=`: the KEK's label.
    pub object: Option<String>,
    /// `id=`: the KEK's `CKA_ID` (percent-encoded bytes).
    pub id: Option<Vec<u8>>,
    /// `module-path=`: the PKCS#11 module to load.
    pub module_path: Option<PathBuf>,
    /// `pin-source=`: a file holding the user PIN.
    pub pin_source: Option<PathBuf>,
}

fn uri_err(uri: &str, reason: impl Into<String>) -> KeyStoreError {
    KeyStoreError::Uri {
        uri: uri.to_string(),
        reason: reason.into(),
    }
}

fn pct_decode(uri: &str, s: &str) -> std::result::Result<Vec<u8>, KeyStoreError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_err(uri, format!("bad percent-encoding in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl std::str::FromStr for Pkcs11Uri {
    type Err = KeyStoreError;

    fn from_str(uri: &str) -> std::result::Result<Self, KeyStoreError> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| uri_err(uri, "does not start with \"pkcs11:\""))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let text = |v: &str| -> std::result::Result<String, KeyStoreError> {
            String::from_utf8(pct_decode(uri, v)?)
                .map_err(|_| uri_err(uri, format!("{v:?} is not UTF-8")))
        };
        let mut u = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| uri_err(uri, format!("{attr:?} is not NAME=VALUE")))?;
            match k {
                "token" => u.token = Some(text(v)?),
                "serial" => u.serial = Some(text(v)?),
                "object" => u.object = Some(text(v)?),
                "id" => u.id = Some(pct_decode(uri, v)?),
                "slot-id" => {
                    u.slot_id = Some(
                        v.parse()
                            .map_err(|_| uri_err(uri, format!("slot-id {v:?} is not a number")))?,
                    )
                }
                // Attributes that select nothing coco needs to distinguish.
                "type" if v == "secret-key" => {}
                "type" => return Err(uri_err(uri, format!("type={v}: the KEK is a secret-key"))),
                "manufacturer"
                | "model"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => {}
                _ => return Err(uri_err(uri, format!("unknown attribute {k:?}"))),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| uri_err(uri, format!("{attr:?} is not NAME=VALUE")))?;
            match k {
                "module-path" => u.module_path = Some(PathBuf::from(text(v)?)),
                "pin-source" => {
                    let v = text(v)?;
                    u.pin_source = Some(PathBuf::from(v.strip_prefix("file:").unwrap_or(&v)));
                }
                "pin-value" => {
                    return Err(uri_err(
                        uri,
                        "pin-value: a PIN never goes on a command line (use --pin-file or --pin-env)",
                    ));
                }
                "module-name" => {
                    return Err(uri_err(
                        uri,
                        "module-name: give module-path=/path/to/module.so",
                    ));
                }
                _ => return Err(uri_err(uri, format!("unknown query attribute {k:?}"))),
            }
        }
        if u.module_path.is_none() {
            return Err(uri_err(
                uri,
                "no module-path (e.g. ?module-path=/usr/lib/softhsm/libsofthsm2.so)",
            ));
        }
        if u.object.is_none() && u.id.is_none() {
            return Err(uri_err(uri, "names no key: add object=LABEL or id=%XX..."));
        }
        if u.token.is_none() && u.serial.is_none() && u.slot_id.is_none() {
            return Err(uri_err(
                uri,
                "names no token: add token=LABEL, serial= or slot-id=",
            ));
        }
        Ok(u)
    }
}

/// Where the user PIN comes from: never the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// A file (its first line).
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl PinSource {
    /// Reads the PIN (without a trailing newline).
    pub fn read(&self) -> std::result::Result<Zeroizing<String>, KeyStoreError> {
        let pin = match self {
            PinSource::File(p) => {
                let bytes = Zeroizing::new(std::fs::read(p).map_err(|e| KeyStoreError::Pin {
                    source_name: p.display().to_string(),
                    reason: e.to_string(),
                })?);
                Zeroizing::new(
                    std::str::from_utf8(&bytes)
                        .map_err(|_| KeyStoreError::Pin {
                            source_name: p.display().to_string(),
                            reason: "not UTF-8".into(),
                        })?
                        .to_string(),
                )
            }
            PinSource::Env(var) => {
                Zeroizing::new(std::env::var(var).map_err(|e| KeyStoreError::Pin {
                    source_name: format!("${var}"),
                    reason: e.to_string(),
                })?)
            }
        };
        let trimmed = Zeroizing::new(pin.trim_end_matches(['\r', '\n']).to_string());
        if trimmed.is_empty() {
            return Err(KeyStoreError::Pin {
                source_name: match self {
                    PinSource::File(p) => p.display().to_string(),
                    PinSource::Env(v) => format!("${v}"),
                },
                reason: "empty".into(),
            });
        }
        Ok(trimmed)
    }
}

/// Pooled sessions and the KEK's handle; rebuilt after a token reset.
struct Pool {
    sessions: Vec<Session>,
    kek: ObjectHandle,
}

/// The PKCS#11 key store (see the module documentation).
pub struct Pkcs11KeyStore {
    ctx: Pkcs11,
    slot: Slot,
    token: String,
    kek_template: Vec<Attribute>,
    kek_name: String,
    pin: AuthPin,
    dir: PathBuf,
    /// `None` only while the store is being opened.
    pool: Mutex<Option<Pool>>,
}

impl std::fmt::Debug for Pkcs11KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pkcs11KeyStore(token {:?}, KEK {}, {})",
            self.token,
            self.kek_name,
            self.dir.display()
        )
    }
}

fn token_err(function: &'static str, e: CkError) -> KeyStoreError {
    KeyStoreError::Token {
        function,
        reason: match &e {
            CkError::Pkcs11(rv, _) => format!("{rv:?}"),
            e => e.to_string(),
        },
    }
}

fn rv(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Errors after which the sessions (or the login) are gone: rebuild and retry.
fn lost(e: &CkError) -> bool {
    matches!(
        rv(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::CryptokiNotInitialized
        )
    )
}

impl Pkcs11KeyStore {
    /// Opens the store with the user PIN from `pin` (else the URI's `pin-source`): loads the
    /// module, finds the token, logs in with the PIN, finds the KEK
    /// and checks it (AES, sensitive, not extractable, allowed to encrypt and decrypt); blobs
    /// live in `dir` (created if missing, mode 0700). Every misconfiguration is a typed
    /// [`KeyStoreError`]; the service does not start without a usable store.
    pub fn open(uri: &Pkcs11Uri, pin: Option<&PinSource>, dir: &Path) -> Result<Self> {
        let pin = match (pin, &uri.pin_source) {
            (Some(p), _) => p.read()?,
            (None, Some(file)) => PinSource::File(file.clone()).read()?,
            (None, None) => {
                return Err(KeyStoreError::Pin {
                    source_name: "(none)".into(),
                    reason:
                        "no PIN source: --pin-file FILE, --pin-env VAR or pin-source= in the URI"
                            .into(),
                }
                .into());
            }
        };
        let module = uri.module_path.clone().ok_or_else(|| KeyStoreError::Uri {
            uri: String::new(),
            reason: "no module-path".into(),
        })?;
        if !module.is_file() {
            return Err(KeyStoreError::Module {
                path: module,
                reason: "no such file".into(),
            }
            .into());
        }
        let ctx = Pkcs11::new(&module).map_err(|e| KeyStoreError::Module {
            path: module.clone(),
            reason: e.to_string(),
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            // Another store of this process initialised the module already.
            Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
            Err(e) => {
                return Err(KeyStoreError::Module {
                    path: module,
                    reason: format!("C_Initialize: {e}"),
                }
                .into());
            }
        }
        let (slot, token) = find_token(&ctx, uri)?;
        // The URI parser requires object= or id= (or both).
        let mut kek_template = vec![Attribute::Class(ObjectClass::SECRET_KEY)];
        let mut names = Vec::new();
        if let Some(label) = &uri.object {
            kek_template.push(Attribute::Label(label.as_bytes().to_vec()));
            names.push(format!("object={label}"));
        }
        if let Some(id) = &uri.id {
            kek_template.push(Attribute::Id(id.clone()));
            names.push(format!("id={}", hex::encode(id)));
        }
        let kek_name = names.join(";");
        std::fs::create_dir_all(dir).map_err(|e| KeyStoreError::Io {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                KeyStoreError::Io {
                    path: dir.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
        }
        let store = Self {
            ctx,
            slot,
            token,
            kek_template,
            kek_name,
            pin: AuthPin::from(pin.as_str()),
            dir: dir.to_path_buf(),
            pool: Mutex::new(None),
        };
        let pool = store.connect()?;
        *store.pool.lock().unwrap_or_else(|e| e.into_inner()) = Some(pool);
        Ok(store)
    }

    /// A fresh session, logged in, and the KEK (checked).
    fn connect(&self) -> std::result::Result<Pool, KeyStoreError> {
        let session = self.session()?;
        let kek = self.find_kek(&session)?;
        Ok(Pool {
            sessions: vec![session],
            kek,
        })
    }

    /// A new session, logged in (a login covers every session of the process).
    fn session(&self) -> std::result::Result<Session, KeyStoreError> {
        let s = self
            .ctx
            .open_ro_session(self.slot)
            .map_err(|e| token_err("C_OpenSession", e))?;
        match s.login(UserType::User, Some(&self.pin)) {
            Ok(()) => Ok(s),
            Err(e) if rv(&e) == Some(RvError::UserAlreadyLoggedIn) => Ok(s),
            Err(e) if rv(&e) == Some(RvError::PinIncorrect) => Err(KeyStoreError::WrongPin {
                token: self.token.clone(),
            }),
            Err(e) if rv(&e) == Some(RvError::PinLocked) => Err(KeyStoreError::PinLocked {
                token: self.token.clone(),
            }),
            Err(e) => Err(token_err("C_Login", e)),
        }
    }

    fn find_kek(&self, s: &Session) -> std::result::Result<ObjectHandle, KeyStoreError> {
        let found = s
            .find_objects(&self.kek_template)
            .map_err(|e| token_err("C_FindObjects", e))?;
        let kek = match found.as_slice() {
            [k] => *k,
            [] => {
                return Err(KeyStoreError::ObjectNotFound {
                    token: self.token.clone(),
                    object: self.kek_name.clone(),
                });
            }
            many => {
                return Err(KeyStoreError::Ambiguous {
                    token: self.token.clone(),
                    object: self.kek_name.clone(),
                    count: many.len(),
                });
            }
        };
        let attrs = s
            .get_attributes(
                kek,
                &[
                    AttributeType::KeyType,
                    AttributeType::Extractable,
                    AttributeType::Sensitive,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                    AttributeType::ValueLen,
                    AttributeType::Private,
                ],
            )
            .map_err(|e| token_err("C_GetAttributeValue", e))?;
        let unusable = |reason: &str| KeyStoreError::Unusable {
            object: self.kek_name.clone(),
            reason: reason.to_string(),
        };
        let (mut aes, mut encrypt, mut decrypt, mut sensitive, mut private, mut len) =
            (false, false, false, false, false, 0u64);
        for a in &attrs {
            match a {
                Attribute::KeyType(t) => aes = *t == KeyType::AES,
                Attribute::Extractable(true) => {
                    return Err(KeyStoreError::Extractable {
                        object: self.kek_name.clone(),
                    });
                }
                Attribute::Sensitive(b) => sensitive = *b,
                Attribute::Private(b) => private = *b,
                Attribute::Encrypt(b) => encrypt = *b,
                Attribute::Decrypt(b) => decrypt = *b,
                Attribute::ValueLen(n) => len = (*n).into(),
                _ => {}
            }
        }
        if !attrs
            .iter()
            .any(|a| matches!(a, Attribute::Extractable(false)))
        {
            return Err(unusable("the token does not say CKA_EXTRACTABLE = false"));
        }
        if !aes {
            return Err(unusable("not an AES key"));
        }
        if len != 32 {
            return Err(unusable(&format!(
                "a {}-bit AES key; coco needs AES-256",
                len * 8
            )));
        }
        if !sensitive {
            return Err(unusable("not sensitive (CKA_SENSITIVE = false)"));
        }
        if !private {
            return Err(unusable(
                "usable without logging in (CKA_PRIVATE = false; create it with pkcs11-tool --private)",
            ));
        }
        if !(encrypt && decrypt) {
            return Err(unusable(
                "may not encrypt and decrypt (create it with pkcs11-tool --usage-decrypt)",
            ));
        }
        Ok(kek)
    }

    /// Runs `op` on a pooled session with the KEK; after a token reset, rebuilds the pool once
    /// and retries.
    fn with_token<T>(
        &self,
        function: &'static str,
        op: impl Fn(&Session, ObjectHandle) -> std::result::Result<T, CkError>,
    ) -> std::result::Result<std::result::Result<T, CkError>, KeyStoreError> {
        for attempt in 0..2 {
            let pooled = {
                let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
                pool.as_mut().map(|p| (p.sessions.pop(), p.kek))
            };
            let (session, kek) = match pooled {
                Some((Some(s), kek)) => (s, kek),
                Some((None, kek)) => (self.session()?, kek),
                None => {
                    let mut fresh = self.connect()?;
                    let s = fresh.sessions.pop().ok_or_else(|| KeyStoreError::Token {
                        function,
                        reason: "no session".into(),
                    })?;
                    let kek = fresh.kek;
                    *self.pool.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
                    (s, kek)
                }
            };
            let r = op(&session, kek);
            match r {
                Err(e) if lost(&e) && attempt == 0 => {
                    // Every pooled session is stale too: start again from a fresh one.
                    drop(session);
                    let fresh = self.connect()?;
                    *self.pool.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
                    continue;
                }
                r => {
                    let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(p) = pool.as_mut().filter(|p| p.sessions.len() < POOL) {
                        p.sessions.push(session);
                    }
                    return Ok(r);
                }
            }
        }
        Err(KeyStoreError::Token {
            function,
            reason: "the token kept failing after reconnecting".into(),
        })
    }

    fn path(&self, key_id: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.p11",
            hex::encode(Sha256::digest(key_id.as_bytes()))
        ))
    }

    fn aad(key_id: &str) -> Vec<u8> {
        [AAD_PREFIX, key_id.as_bytes()].concat()
    }

    /// Seals `dek` under the KEK for `key_id` and writes the blob (mode 0600). Idempotent for
    /// the same key; a different key under the same id is [`KeyStoreError::Conflict`].
    pub fn put(&self, key_id: &str, dek: &Dek) -> Result<()> {
        if let Some(have) = self.get(key_id)? {
            return if have.same_key(dek) {
                Ok(())
            } else {
                Err(KeyStoreError::Conflict {
                    key_id: key_id.to_string(),
                }
                .into())
            };
        }
        let mut iv = [0u8; IV_LEN];
        getrandom::fill(&mut iv).map_err(|e| ReleaseError::Storage(e.to_string()))?;
        let aad = Self::aad(key_id);
        let sealed = self
            .with_token("C_Encrypt", |s, kek| {
                let mut iv = iv;
                let params = GcmParams::new(&mut iv, &aad, 128u64.into())?;
                s.encrypt(&Mechanism::AesGcm(params), kek, dek.as_bytes())
            })?
            .map_err(|e| token_err("C_Encrypt", e))?;
        let blob = [&MAGIC[..], &iv, &sealed].concat();
        if blob.len() != BLOB_LEN {
            return Err(KeyStoreError::Token {
                function: "C_Encrypt",
                reason: format!("{} bytes out of AES-GCM, expected 48", sealed.len()),
            }
            .into());
        }
        let path = self.path(key_id);
        write_new(&path, &blob).map_err(|e| KeyStoreError::Io {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    /// Logs the process out of the token (as a token reset does: every session loses its
    /// login); the next operation sees the failure and reconnects. For tests of that path.
    #[doc(hidden)]
    pub fn log_out(&self) {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = pool.as_ref().and_then(|p| p.sessions.first()) {
            let _ = s.logout();
        }
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn find_token(ctx: &Pkcs11, uri: &Pkcs11Uri) -> std::result::Result<(Slot, String), KeyStoreError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| token_err("C_GetSlotList", e))?;
    let mut present = Vec::new();
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| token_err("C_GetTokenInfo", e))?;
        let label = info.label().trim_end().to_string();
        let serial = info.serial_number().trim_end().to_string();
        let matches = uri.token.as_ref().is_none_or(|t| *t == label)
            && uri.serial.as_ref().is_none_or(|s| *s == serial)
            && uri.slot_id.is_none_or(|id| id == slot.id());
        if matches {
            return Ok((slot, label));
        }
        present.push(label);
    }
    Err(KeyStoreError::TokenNotFound {
        token: uri
            .token
            .clone()
            .or_else(|| uri.serial.as_ref().map(|s| format!("serial {s}")))
            .unwrap_or_else(|| format!("slot {}", uri.slot_id.unwrap_or_default())),
        present,
    })
}

impl KeyStore for Pkcs11KeyStore {
    fn get(&self, key_id: &str) -> Result<Option<Dek>> {
        let path = self.path(key_id);
        let blob = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(KeyStoreError::Io {
                    path,
                    reason: e.to_string(),
                }
                .into());
            }
        };
        let tampered = |reason: &str| KeyStoreError::Tampered {
            key_id: key_id.to_string(),
            path: path.clone(),
            reason: reason.to_string(),
        };
        if blob.len() != BLOB_LEN {
            return Err(tampered(&format!(
                "{} bytes, a sealed key has {BLOB_LEN}",
                blob.len()
            ))
            .into());
        }
        if !blob.starts_with(MAGIC) {
            return Err(tampered("not a coco PKCS#11 blob (magic)").into());
        }
        let iv: [u8; IV_LEN] = blob[MAGIC.len()..MAGIC.len() + IV_LEN]
            .try_into()
            .map_err(|_| tampered("short"))?;
        let sealed = &blob[MAGIC.len() + IV_LEN..];
        let aad = Self::aad(key_id);
        let opened = self.with_token("C_Decrypt", |s, kek| {
            let mut iv = iv;
            let params = GcmParams::new(&mut iv, &aad, 128u64.into())?;
            s.decrypt(&Mechanism::AesGcm(params), kek, sealed)
                .map(Zeroizing::new)
        })?;
        let plain = match opened {
            Ok(p) => p,
            // The tag does not verify: a changed blob, a blob of another key id, or another
            // KEK.
            Err(e)
                if matches!(
                    rv(&e),
                    Some(
                        RvError::EncryptedDataInvalid
                            | RvError::EncryptedDataLenRange
                            | RvError::GeneralError
                            | RvError::FunctionFailed
                    )
                ) =>
            {
                return Err(tampered(&format!(
                    "the token refused to open it ({:?}): changed, moved from another key id, or sealed by another KEK",
                    rv(&e).unwrap_or(RvError::GeneralError)
                ))
                .into());
            }
            Err(e) => return Err(token_err("C_Decrypt", e).into()),
        };
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| tampered("opened to a key that is not 32 bytes"))?;
        let dek = Dek::from_bytes(bytes);
        let mut bytes = bytes;
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(Some(dek))
    }

    fn import(&self, key_id: &str, dek: &Dek) -> Result<()> {
        self.put(key_id, dek)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_attributes_and_refusals() {
        let u: Pkcs11Uri =
            "pkcs11:token=coco%20prod;object=kek;type=secret-key?module-path=/usr/lib/x.so"
                .parse()
                .unwrap();
        assert_eq!(u.token.as_deref(), Some("coco prod"));
        assert_eq!(u.object.as_deref(), Some("kek"));
        assert_eq!(u.module_path.as_deref(), Some(Path::new("/usr/lib/x.so")));
        let u: Pkcs11Uri = "pkcs11:serial=abc;id=%01%02?module-path=/m.so&pin-source=file:/run/pin"
            .parse()
            .unwrap();
        assert_eq!(u.id, Some(vec![1, 2]));
        assert_eq!(u.pin_source.as_deref(), Some(Path::new("/run/pin")));
        for bad in [
            "token=coco;object=kek?module-path=/m.so",
            "pkcs11:token=coco;object=kek",
            "pkcs11:token=coco;object=kek?module-path=/m.so&pin-value=1234",
            "pkcs11:token=coco?module-path=/m.so",
            "pkcs11:object=kek?module-path=/m.so",
            "pkcs11:token=coco;object=kek;type=private?module-path=/m.so",
            "pkcs11:token=coco;object=k%zz?module-path=/m.so",
            "pkcs11:token=coco;objekt=kek?module-path=/m.so",
        ] {
            assert!(
                matches!(bad.parse::<Pkcs11Uri>(), Err(KeyStoreError::Uri { .. })),
                "{bad}"
            );
        }
    }
}
