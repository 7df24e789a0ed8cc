//! Errors of evidence parsing and verification.

/// Why evidence was rejected. Each variant says what was wrong and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A field is out of bounds, has a reserved value or the input has the wrong size.
    #[error("malformed {structure}: field `{field}` at offset {offset:#x}: {reason}")]
    Malformed {
        /// The structure being parsed (e.g. "SNP report").
        structure: &'static str,
        /// The field's name as the vendor specification gives it.
        field: &'static str,
        /// Byte offset of the field.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A version this library does not read.
    #[error("unsupported {structure} version {version}")]
    UnsupportedVersion {
        /// The structure.
        structure: &'static str,
        /// The version found.
        version: u32,
    },
    /// A certificate could not be parsed, or is missing from the input.
    #[error("certificate {cert}: {reason}")]
    Certificate {
        /// Which certificate (its role, e.g. "VCEK").
        cert: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate chain does not lead to a pinned vendor root.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// A certificate is not valid at the verification time.
    #[error(
        "certificate {cert} is not valid at {}: valid {} .. {}",
        coco_core::time::format_rfc3339(*at),
        coco_core::time::format_rfc3339(*not_before),
        coco_core::time::format_rfc3339(*not_after)
    )]
    Expired {
        /// Which certificate.
        cert: String,
        /// The verification time (seconds since the Unix epoch, UTC).
        at: u64,
        /// Start of validity (Unix seconds).
        not_before: u64,
        /// End of validity (Unix seconds).
        not_after: u64,
    },
    /// A certificate was revoked.
    #[error("certificate {cert} (serial {serial}) is revoked")]
    Revoked {
        /// Which certificate.
        cert: String,
        /// Its serial number, hex.
        serial: String,
    },
    /// A signature does not verify.
    #[error("signature of {0} does not verify")]
    Signature(String),
    /// A value in the evidence disagrees with its endorsement (e.g. TCB vs. VCEK extensions).
    #[error("{what}: evidence says {evidence}, endorsement says {endorsement}")]
    Mismatch {
        /// What disagrees.
        what: String,
        /// The value in the evidence.
        evidence: String,
        /// The value in the certificate or collateral.
        endorsement: String,
    },
    /// Collateral (TCB Info, QE Identity, CRLs) is missing, unreadable or inconsistent.
    #[error("collateral: {0}")]
    Collateral(String),
    /// The platform's TCB is below every level the collateral lists ("TCB not supported").
    #[error("no matching TCB level: {0}")]
    NoTcbLevel(String),
    /// The platform could not be determined, or the inputs name different platforms.
    #[error("platform: {0}")]
    Platform(String),
}

impl EvidenceError {
    /// A [`EvidenceError::Malformed`] for `field` at `offset` of `structure`.
    pub fn malformed(
        structure: &'static str,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> Self {
        EvidenceError::Malformed {
            structure,
            field,
            offset,
            reason: reason.into(),
        }
    }

    /// A short machine-readable kind, as the CLI's JSON `error.kind` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            EvidenceError::Malformed { .. } => "malformed",
            EvidenceError::UnsupportedVersion { .. } => "unsupported_version",
            EvidenceError::Certificate { .. } => "certificate",
            EvidenceError::Chain(_) => "chain",
            EvidenceError::Expired { .. } => "expired",
            EvidenceError::Revoked { .. } => "revoked",
            EvidenceError::Signature(_) => "signature",
            EvidenceError::Mismatch { .. } => "mismatch",
            EvidenceError::Collateral(_) => "collateral",
            EvidenceError::NoTcbLevel(_) => "no_tcb_level",
            EvidenceError::Platform(_) => "platform",
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = EvidenceError> = std::result::Result<T, E>;
