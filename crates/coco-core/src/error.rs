//! Errors of this crate: CoRIM decoding and signatures, EAR documents, policy.

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// CBOR that does not have the structure the CDDL requires. `path` names the element
    /// (e.g. `corim-map/tags[0]/comid/triples/reference[2]`).
    #[error("malformed {path}: {reason}")]
    Malformed {
        /// Where in the document.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A signature does not verify under any trusted key, or its algorithm is not allowed.
    #[error("signature: {0}")]
    Signature(SignatureError),
    /// A document names a profile this library does not implement.
    #[error("{document} has profile {profile:?}, which this library does not implement")]
    UnknownProfile {
        /// Which document (`EAR`, `CoRIM "id"`).
        document: String,
        /// The profile it names.
        profile: String,
    },
    /// A key could not be read.
    #[error("key: {0}")]
    Key(String),
    /// A document is outside its validity window at the injected time.
    #[error(
        "{what} is not valid at {}: valid {} .. {} (verify at another time with --at)",
        crate::time::format_rfc3339(*at),
        not_before.map_or("(any time)".into(), crate::time::format_rfc3339),
        not_after.map_or("(no end)".into(), crate::time::format_rfc3339)
    )]
    Expired {
        /// Which document or signature.
        what: String,
        /// The time (Unix seconds).
        at: u64,
        /// Start of validity, if any (Unix seconds).
        not_before: Option<u64>,
        /// End of validity, if any (Unix seconds).
        not_after: Option<u64>,
    },
    /// The document names a profile this library does not implement, or breaks a rule of the
    /// profile it names.
    #[error("profile: {0}")]
    Profile(String),
    /// An EAR that is malformed or violates the EAR rules.
    #[error("EAR: {0}")]
    Ear(String),
    /// A policy file that cannot be used.
    #[error("policy: {0}")]
    Policy(String),
}

impl CoreError {
    /// A [`CoreError::Malformed`] at `path`.
    pub fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        CoreError::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A short machine-readable kind (`malformed`, `signature`, `key`, `expired`, `profile`,
    /// `ear`, `policy`).
    pub fn kind(&self) -> &'static str {
        match self {
            CoreError::Malformed { .. } => "malformed",
            CoreError::Signature(_) => "signature",
            CoreError::UnknownProfile { .. } => "profile",
            CoreError::Key(_) => "key",
            CoreError::Expired { .. } => "expired",
            CoreError::Profile(_) => "profile",
            CoreError::Ear(_) => "ear",
            CoreError::Policy(_) => "policy",
        }
    }
}

/// Why a signed document (CoRIM, EAR) does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature algorithm is not one this library accepts (ES256, ES384).
    #[error("{document}: algorithm {alg} is not accepted (ES256, ES384)")]
    Algorithm {
        /// The document (`CoRIM`, `JWT`, `CWT`).
        document: &'static str,
        /// The algorithm it names.
        alg: String,
    },
    /// No trusted key verifies the signature.
    #[error(
        "the {document}'s {alg} signature does not verify under any of the {trusted} trusted key(s)"
    )]
    Untrusted {
        /// The document.
        document: &'static str,
        /// Its algorithm.
        alg: &'static str,
        /// How many keys were tried.
        trusted: usize,
    },
    /// A signature could not be produced.
    #[error("cannot sign the {document}: {reason}")]
    Sign {
        /// The document.
        document: &'static str,
        /// Why.
        reason: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
