//! Errors of key release. Each failure of the decision keeps its cause as data: the evidence
//! error of the piece that did not verify (with its index and platform), the findings of an
//! appraisal that did not affirm, the policy setting a service refuses. [`ReleaseError::kind`]
//! is the stable name used by the CLI's JSON, HTTP, C and Python.

use std::path::PathBuf;

use coco_core::appraise::Finding;
use coco_core::ear::Status;
use coco_evidence::EvidenceError;

/// Why a challenge token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// Not a token of this protocol.
    #[error("malformed token")]
    Malformed,
    /// Its MAC does not verify under this service's secret.
    #[error("token not issued by this service")]
    NotIssuedHere,
    /// Past its expiry.
    #[error("expired challenge")]
    Expired,
    /// Already used once.
    #[error("replayed challenge")]
    Replayed,
    /// The service said so (client side), in these words.
    #[error("{0}")]
    Remote(String),
}

impl ChallengeError {
    /// The stable name (`malformed`, `not_issued_here`, `expired`, `replayed`; `remote`).
    pub fn code(&self) -> &'static str {
        match self {
            ChallengeError::Malformed => "malformed",
            ChallengeError::NotIssuedHere => "not_issued_here",
            ChallengeError::Expired => "expired",
            ChallengeError::Replayed => "replayed",
            ChallengeError::Remote(_) => "remote",
        }
    }

    /// The variant of a stable name (client side); other names keep the service's message.
    pub fn from_code(code: &str, message: &str) -> Self {
        match code {
            "malformed" => ChallengeError::Malformed,
            "not_issued_here" => ChallengeError::NotIssuedHere,
            "expired" => ChallengeError::Expired,
            "replayed" => ChallengeError::Replayed,
            _ => ChallengeError::Remote(message.to_string()),
        }
    }
}

/// Why a release did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The request is malformed (version, encoding, sizes).
    #[error("bad request: {0}")]
    Request(String),
    /// The challenge token is invalid, expired, or already used.
    #[error("challenge: {0}")]
    Challenge(ChallengeError),
    /// A piece of evidence does not verify.
    #[error("evidence {index} ({platform}): {source}")]
    Evidence {
        /// Its position in the bundle (CPU evidence first, then each GPU's).
        index: usize,
        /// Its platform name.
        platform: String,
        /// Why it did not verify.
        #[source]
        source: Box<EvidenceError>,
    },
    /// The evidence verified, but the appraisal is not affirming.
    #[error("appraisal: {}", reasons(.status, .findings))]
    Appraisal {
        /// The EAR's overall status.
        status: Status,
        /// Every finding (claim, expected, found).
        findings: Vec<Finding>,
    },
    /// A policy that would let a key out without binding or without reference values, given
    /// where keys are released.
    #[error(
        "the policy sets {setting} = false: a key-release service never releases a key without \
         it (remove the setting; it is for offline `coco appraise` only)"
    )]
    UnsafePolicy {
        /// The setting.
        setting: &'static str,
    },
    /// An option of the caller is unusable (`at`, `nonce`, ...).
    #[error("option {option}: {reason}")]
    Usage {
        /// The option, as the CLI flag / JSON key spells it.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Key release was asked to decide without the DESIGN §1 binding.
    #[error("key release needs the challenge and public key binding")]
    BindingRequired,
    /// Reference values, trusted keys, the policy or an EAR signing key could not be loaded.
    #[error("configuration: {0}")]
    Config(#[source] coco_core::CoreError),
    /// No key is released under this key id.
    #[error("key: {0}")]
    Key(String),
    /// HPKE wrapping or unwrapping failed.
    #[error("key wrap: {0}")]
    Wrap(String),
    /// The audit record of a release could not be written and flushed: the release did not
    /// happen.
    #[error("audit log: {0}")]
    Audit(String),
    /// The key store cannot be opened or used (HSM, PIN, KEK, a tampered stored key).
    #[error("key store: {0}")]
    KeyStore(#[from] KeyStoreError),
    /// Storage (key store, replay store) failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The EAR a service answered with does not verify under the pinned keys, does not answer
    /// the workload's challenge, or is not affirming (client side): the key is not used.
    #[error("EAR: {0}")]
    Ear(String),
    /// The workload could not collect its own evidence (configfs-tsm, NVML).
    #[error("collect: {0}")]
    Collect(String),
    /// The service refused (client side): its error kind and message.
    #[error("{kind}: {message}")]
    Refused {
        /// The service's error kind (`evidence`, `appraisal`, ...).
        kind: String,
        /// The service's message.
        message: String,
        /// The service's whole error object (`findings`, `cause`, `index`, ... as
        /// [`ReleaseError::to_json`] writes them).
        detail: Box<serde_json::Value>,
    },
    /// The service could not be reached or answered outside the protocol (client side).
    #[error("transport: {0}")]
    Transport(String),
    /// The request this decision answered went away (timed out) before the decision ended;
    /// nothing was released.
    #[error("the request timed out before the decision ended; nothing was released")]
    Cancelled,
    /// TLS could not be set up, or a URL is refused (plain HTTP off loopback).
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

fn reasons(status: &Status, findings: &[Finding]) -> String {
    if findings.is_empty() {
        status.name().to_string()
    } else {
        findings
            .iter()
            .map(Finding::reason)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl ReleaseError {
    /// An option error of evidence verification as a usage error; any other evidence error as
    /// the error of evidence `index` of `platform`.
    pub fn from_evidence(index: usize, platform: &str, e: EvidenceError) -> Self {
        match e {
            EvidenceError::Usage { option, reason } => ReleaseError::Usage { option, reason },
            source => ReleaseError::Evidence {
                index,
                platform: platform.to_string(),
                source: Box::new(source),
            },
        }
    }

    /// The message without its kind prefix.
    pub fn message(&self) -> String {
        match self {
            ReleaseError::Challenge(c) => c.to_string(),
            ReleaseError::Request(m)
            | ReleaseError::Key(m)
            | ReleaseError::Wrap(m)
            | ReleaseError::Storage(m)
            | ReleaseError::Audit(m)
            | ReleaseError::Ear(m)
            | ReleaseError::Collect(m)
            | ReleaseError::Transport(m) => m.clone(),
            ReleaseError::Refused { message, .. } => message.clone(),
            ReleaseError::Appraisal { status, findings } => reasons(status, findings),
            ReleaseError::Config(e) => e.to_string(),
            ReleaseError::Tls(e) => e.to_string(),
            ReleaseError::KeyStore(e) => e.to_string(),
            e => e.to_string(),
        }
    }

    /// `request`, `challenge`, `evidence`, `appraisal`, `policy`, `binding`, `config`,
    /// `key`, `wrap`, `storage`, `collect`, `transport`, `tls`, `timeout` or `keystore`; a refusal received from a service
    /// keeps the service's kind.
    pub fn kind(&self) -> &str {
        match self {
            ReleaseError::Request(_) => "request",
            ReleaseError::Challenge(_) => "challenge",
            ReleaseError::Evidence { .. } => "evidence",
            ReleaseError::Appraisal { .. } => "appraisal",
            ReleaseError::UnsafePolicy { .. } => "policy",
            ReleaseError::BindingRequired => "binding",
            ReleaseError::Usage { .. } => "usage",
            ReleaseError::Config(_) => "config",
            ReleaseError::Key(_) => "key",
            ReleaseError::Wrap(_) => "wrap",
            ReleaseError::Storage(_) => "storage",
            ReleaseError::Audit(_) => "audit",
            ReleaseError::Collect(_) => "collect",
            ReleaseError::Ear(_) => "ear",
            ReleaseError::Refused { kind, .. } => kind,
            ReleaseError::Transport(_) => "transport",
            ReleaseError::Tls(_) => "tls",
            ReleaseError::Cancelled => "timeout",
            ReleaseError::KeyStore(_) => "keystore",
        }
    }

    /// The evidence error, when a piece of evidence did not verify.
    pub fn evidence_error(&self) -> Option<&EvidenceError> {
        match self {
            ReleaseError::Evidence { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The kind of the underlying cause where there is one: the evidence error's kind
    /// (`chain`, `signature`, `expired`, ...), the reference error's kind.
    pub fn cause_kind(&self) -> Option<&'static str> {
        match self {
            ReleaseError::Evidence { source, .. } => Some(source.kind()),
            ReleaseError::Config(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// The stable JSON form: `{"kind", "message"}`, plus `"cause"` (the underlying error's
    /// kind), `"index"` and `"platform"` for evidence, `"findings"` for an appraisal,
    /// `"setting"` for an unsafe policy, `"reason"` (a [`ChallengeError::code`]) for a challenge;
    /// a refusal received from a service is the service's own object.
    pub fn to_json(&self) -> serde_json::Value {
        if let ReleaseError::Refused { detail, .. } = self {
            return (**detail).clone();
        }
        let mut j = serde_json::json!({"kind": self.kind(), "message": self.message()});
        if let Some(c) = self.cause_kind() {
            j["cause"] = c.into();
        }
        match self {
            ReleaseError::Evidence {
                index, platform, ..
            } => {
                j["index"] = (*index).into();
                j["platform"] = platform.as_str().into();
            }
            ReleaseError::Appraisal { status, findings } => {
                j["status"] = status.name().into();
                j["findings"] = findings.iter().map(Finding::to_json).collect();
            }
            ReleaseError::UnsafePolicy { setting } => j["setting"] = (*setting).into(),
            ReleaseError::Usage { option, .. } => j["option"] = (*option).into(),
            ReleaseError::Challenge(c) => j["reason"] = c.code().into(),
            _ => {}
        }
        j
    }
}

/// Result type of this crate.
pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;

/// Why a key store cannot be opened or used (the PKCS#11 store's failures; file stores report
/// [`ReleaseError::Storage`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// The PKCS#11 URI is malformed or incomplete.
    #[error("PKCS#11 URI {uri:?}: {reason}")]
    Uri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The PKCS#11 module cannot be loaded or initialised.
    #[error("PKCS#11 module {}: {reason}", .path.display())]
    Module {
        /// The module path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The PIN cannot be read.
    #[error("PIN from {source_name}: {reason}")]
    Pin {
        /// The file or `$VARIABLE`.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The token refused the PIN.
    #[error("wrong PIN for token {token:?}")]
    WrongPin {
        /// The token label.
        token: String,
    },
    /// The token's user PIN is locked (too many wrong PINs).
    #[error("the user PIN of token {token:?} is locked")]
    PinLocked {
        /// The token label.
        token: String,
    },
    /// No token matches the URI.
    #[error("no token {token:?} (tokens present: {present:?})")]
    TokenNotFound {
        /// What the URI asked for.
        token: String,
        /// The labels of the tokens present.
        present: Vec<String>,
    },
    /// No key on the token matches the URI.
    #[error("no key-encryption key {object} on token {token:?}")]
    ObjectNotFound {
        /// The token label.
        token: String,
        /// The URI's object selector (`object=...`, `id=...`).
        object: String,
    },
    /// Several keys match the URI.
    #[error("{count} keys match {object} on token {token:?}: name one (object= and id=)")]
    Ambiguous {
        /// The token label.
        token: String,
        /// The URI's object selector.
        object: String,
        /// How many match.
        count: usize,
    },
    /// The KEK may leave the token (`CKA_EXTRACTABLE = true`): refused.
    #[error(
        "key-encryption key {object} is extractable (CKA_EXTRACTABLE = true): refused; create \
         one that never leaves the token"
    )]
    Extractable {
        /// The URI's object selector.
        object: String,
    },
    /// The KEK is not a usable key-encryption key.
    #[error("key-encryption key {object}: {reason}")]
    Unusable {
        /// The URI's object selector.
        object: String,
        /// Why.
        reason: String,
    },
    /// A stored (wrapped) key does not open: changed, moved from another id, or sealed by
    /// another KEK.
    #[error("stored key {key_id:?} ({}): {reason}", .path.display())]
    Tampered {
        /// The key id asked for.
        key_id: String,
        /// The blob's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another key is already stored under this id.
    #[error("the store already holds a different key under {key_id:?}")]
    Conflict {
        /// The key id.
        key_id: String,
    },
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {function}: {reason}")]
    Token {
        /// The PKCS#11 function.
        function: &'static str,
        /// The return value (`CKR_...` name) or cause.
        reason: String,
    },
    /// The store's directory or a blob cannot be read or written.
    #[error("{}: {reason}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
