//! Errors of key release.

/// Why a release did not happen. `kind()` names the class; the message says what exactly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The request is malformed (version, encoding, sizes).
    #[error("bad request: {0}")]
    Request(String),
    /// The challenge token is invalid, expired, or already used.
    #[error("challenge: {0}")]
    Challenge(String),
    /// The evidence does not verify.
    #[error("evidence: {0}")]
    Evidence(String),
    /// The evidence verified, but the appraisal is not affirming.
    #[error("appraisal: {0}")]
    Appraisal(String),
    /// No key is released under this key id.
    #[error("key: {0}")]
    Key(String),
    /// HPKE wrapping or unwrapping failed.
    #[error("key wrap: {0}")]
    Wrap(String),
    /// Storage (key store, audit log) failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The workload could not collect its own evidence (configfs-tsm, NVML).
    #[error("collect: {0}")]
    Collect(String),
    /// The service could not be reached or answered outside the protocol (client side).
    #[error("transport: {0}")]
    Transport(String),
}

impl ReleaseError {
    /// The message without its kind.
    pub fn message(&self) -> &str {
        match self {
            ReleaseError::Request(m)
            | ReleaseError::Challenge(m)
            | ReleaseError::Evidence(m)
            | ReleaseError::Appraisal(m)
            | ReleaseError::Key(m)
            | ReleaseError::Wrap(m)
            | ReleaseError::Storage(m)
            | ReleaseError::Collect(m)
            | ReleaseError::Transport(m) => m,
        }
    }

    /// `request`, `challenge`, `evidence`, `appraisal`, `key`, `wrap`, `storage`, `collect`
    /// or `transport`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReleaseError::Request(_) => "request",
            ReleaseError::Challenge(_) => "challenge",
            ReleaseError::Evidence(_) => "evidence",
            ReleaseError::Appraisal(_) => "appraisal",
            ReleaseError::Key(_) => "key",
            ReleaseError::Wrap(_) => "wrap",
            ReleaseError::Storage(_) => "storage",
            ReleaseError::Collect(_) => "collect",
            ReleaseError::Transport(_) => "transport",
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;
