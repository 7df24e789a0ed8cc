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
    /// A certificate's constraints forbid the place it has in the chain.
    #[error("certificate {cert} {role}")]
    CertificateRole {
        /// Which certificate (its place in the chain and subject CN).
        cert: String,
        /// The place it cannot take.
        role: CertRole,
    },
    /// A certificate extension is present but does not decode.
    #[error("certificate {cert}: malformed {extension} extension: {reason}")]
    Extension {
        /// Which certificate.
        cert: String,
        /// The extension (`KeyUsage`, `BasicConstraints`, ...).
        extension: String,
        /// The decoder's error.
        reason: String,
    },
    /// A certificate chain does not lead to a pinned vendor root.
    #[error("certificate chain: {0}")]
    Chain(ChainError),
    /// A certificate, CRL or signed collateral document is not valid at the verification time.
    #[error(
        "{cert} is not valid at {}: valid {} .. {} (evidence produced in that window is checked \
         at its time with --at, e.g. --at {})",
        coco_core::time::format_rfc3339(*at),
        coco_core::time::format_rfc3339(*not_before),
        coco_core::time::format_rfc3339(*not_after),
        coco_core::time::format_rfc3339(not_before.saturating_add(not_after.saturating_sub(*not_before).min(86_400)))
    )]
    Expired {
        /// What is out of its validity: `certificate ROLE (CN)`, a CRL (`ROLE (issuer)`), or the
        /// signed collateral document.
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
    /// An OCSP response cannot vouch for a certificate (see [`crate::ocsp`]).
    #[error("OCSP for certificate {cert}: {problem}")]
    Ocsp {
        /// The certificate (subject CN and serial number).
        cert: String,
        /// What is wrong.
        problem: OcspProblem,
    },
    /// A signature does not verify.
    #[error("signature of {what} {cause}")]
    Signature {
        /// What was signed, and by whom (e.g. "certificate VCEK by SEV-Milan").
        what: String,
        /// Why it does not verify.
        cause: SignatureCause,
    },
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
    Collateral(CollateralError),
    /// The platform's TCB is below every level the collateral lists ("TCB not supported").
    #[error("no matching TCB level: {0}")]
    NoTcbLevel(String),
    /// The platform could not be determined, or the inputs name different platforms.
    #[error("platform: {0}")]
    Platform(String),
    /// Evidence could not be collected on this machine (configfs-tsm, NVML).
    #[error("collecting evidence from {source_name}: {reason}")]
    Collect {
        /// Where from (a configfs-tsm path, NVML).
        source_name: String,
        /// Why not.
        reason: String,
    },
    /// A platform name this build does not verify.
    #[error("unsupported platform {platform:?} (this build verifies: {supported})")]
    UnsupportedPlatform {
        /// The name given.
        platform: String,
        /// The names this build verifies, comma-separated.
        supported: String,
    },
    /// An option of the caller (not the evidence) is unusable: `at`, `nonce`, ...
    #[error("option {option}: {reason}")]
    Usage {
        /// The option's name as the CLI flag / JSON key spells it.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// GPU `index` of a multi-GPU document did not verify.
    #[error("GPU {index}: {source}")]
    Gpu {
        /// The GPU's position in the document.
        index: usize,
        /// Why.
        #[source]
        source: Box<EvidenceError>,
    },
}

/// A place in a certificate chain that a certificate's constraints forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertRole {
    /// The signing leaf must not be a CA and must allow digitalSignature (when KeyUsage is
    /// present).
    #[error("is the signing leaf, but a CA or without digitalSignature")]
    SigningLeaf,
    /// A certificate that issues others must be a CA with keyCertSign (when KeyUsage is
    /// present).
    #[error("issues certificates but is not a CA with keyCertSign")]
    Issuer,
}

/// Why a certificate chain does not lead to the pinned root (the chain is named by its role,
/// e.g. "GPU device chain", "TCB signing chain").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// `cert` names `issuer` as its issuer, not the certificate it was checked against.
    #[error("{cert} is issued by {issuer:?}, not by {expected:?}")]
    WrongIssuer {
        /// The certificate (its subject CN or role).
        cert: String,
        /// The issuer it names.
        issuer: String,
        /// The issuer expected.
        expected: String,
    },
    /// `cert` is not signed by the trusted `root` (the signature check said `reason`).
    #[error("{cert} is not signed by the trusted {root}: {reason}")]
    NotSignedByRoot {
        /// The certificate.
        cert: String,
        /// The pinned root.
        root: String,
        /// Why the check failed.
        reason: String,
    },
    /// The chain carries a root certificate that is not the pinned one.
    #[error(
        "{chain} carries {found:?} (SHA-256 {fingerprint}), which is not the trusted root {trusted:?}"
    )]
    UntrustedRoot {
        /// The chain's role.
        chain: String,
        /// The root found.
        found: String,
        /// Its SHA-256 fingerprint.
        fingerprint: String,
        /// The pinned root.
        trusted: String,
    },
    /// Collateral verified under another root than the one trusted for the quote.
    #[error(
        "the collateral was verified under {verified_under:?}, not the root trusted here ({trusted:?})"
    )]
    CollateralRoot {
        /// The root the collateral verified under.
        verified_under: String,
        /// The root trusted here.
        trusted: String,
    },
    /// More certificates than a chain of this kind has.
    #[error("{chain}: {count} certificates, more than the {max} a chain may have")]
    TooLong {
        /// The chain's role.
        chain: String,
        /// How many were given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// No certificate was given.
    #[error("{chain}: no certificates given")]
    Empty {
        /// The chain's role.
        chain: String,
    },
    /// The certificates form a loop.
    #[error("{chain}: the certificates form a loop")]
    Loop {
        /// The chain's role.
        chain: String,
    },
    /// More than one certificate issues none of the others.
    #[error("{chain}: more than one leaf ({})", leaves.join(", "))]
    MultipleLeaves {
        /// The chain's role.
        chain: String,
        /// The leaves' subject CNs.
        leaves: Vec<String>,
    },
    /// `cert`'s issuer is neither in the input nor the pinned root.
    #[error(
        "{chain}: no issuer {issuer:?} for {cert:?} in the input, and it is not the pinned {root:?}"
    )]
    UnknownIssuer {
        /// The chain's role.
        chain: String,
        /// The certificate whose issuer is missing.
        cert: String,
        /// The issuer it names.
        issuer: String,
        /// The pinned root.
        root: String,
    },
    /// No certificate of the chain is issued by the pinned root.
    #[error("{chain} has no certificate issued by the trusted root {root:?} (it holds {})", certs.join(", "))]
    NoneIssuedByRoot {
        /// The chain's role.
        chain: String,
        /// The pinned root.
        root: String,
        /// The subject CNs of the certificates it holds.
        certs: Vec<String>,
    },
    /// Certificates were given that are not part of the chain.
    #[error("{chain}: certificate(s) not in the chain: {}", certs.join(", "))]
    Unused {
        /// The chain's role.
        chain: String,
        /// Their subject CNs.
        certs: Vec<String>,
    },
    /// The chain lacks the certificate of a role (e.g. NVIDIA's device identity).
    #[error("{chain} has no {role} certificate")]
    MissingRole {
        /// The chain's role.
        chain: String,
        /// The role missing.
        role: String,
    },
}

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureCause {
    /// The signature is present and wrong.
    #[error("does not verify")]
    Invalid,
    /// The signature bits are missing or not octet-aligned.
    #[error("is missing")]
    Missing,
    /// The signed document's digest differs from the digest the signature covers (the
    /// document was edited after signing).
    #[error(
        "covers digest {declared}, but the document's digest is {computed} (edited after signing)"
    )]
    DigestMismatch {
        /// The document's digest, hex.
        computed: String,
        /// The digest in the signed part, hex.
        declared: String,
    },
}

/// Why an OCSP response cannot vouch for a certificate (beyond signatures, chains and time,
/// which have their own [`EvidenceError`] kinds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspProblem {
    /// The response does not decode, or is not a basic response.
    #[error("malformed OCSP response: {0}")]
    Malformed(String),
    /// The responder answered with an error status (`tryLater`, `unauthorized`, ...).
    #[error("the responder answered {0}")]
    Status(String),
    /// No single response of the response names the certificate.
    #[error("no OCSP response names it")]
    NotCovered,
    /// The responder's certificate may not sign OCSP responses (no `id-kp-OCSPSigning`).
    #[error("responder {0:?} is not authorised to sign OCSP responses (no id-kp-OCSPSigning)")]
    ResponderNotAuthorized(String),
    /// The response carries no nonce, or another one than the request's.
    #[error("nonce: the request sent {expected}, the response carries {found}")]
    Nonce {
        /// The nonce sent, hex.
        expected: String,
        /// The nonce found, hex (`none` when absent).
        found: String,
    },
    /// The responder does not know the certificate.
    #[error("the responder does not know the certificate (status unknown)")]
    Unknown,
}

/// Why collateral cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CollateralError {
    /// A collateral file could not be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// Revocation data is required and missing.
    #[error("revocation data missing: {} (pass --no-revocation-check, or waive revocation for the platform in the policy, to verify without it)", missing.join(", "))]
    RevocationMissing {
        /// The missing documents (`pck_crl.der`, `root_ca_crl.der`).
        missing: Vec<String>,
    },
    /// Collateral the verifier must obtain itself (e.g. OCSP responses) cannot be obtained
    /// now: a service cannot decide, rather than the evidence being wrong.
    #[error("{what} unavailable: {reason}")]
    Unavailable {
        /// What (e.g. `OCSP response for <cert>`).
        what: String,
        /// Why.
        reason: String,
    },
    /// A collateral document is malformed or inconsistent.
    #[error("{document}: {reason}")]
    Invalid {
        /// The document (`tcb_info.json`, `qe_identity.json`, ...).
        document: String,
        /// What is wrong.
        reason: String,
    },
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

    /// The error itself, or for a GPU of a multi-GPU document the error of that GPU.
    pub fn root(&self) -> &EvidenceError {
        match self {
            EvidenceError::Gpu { source, .. } => source.root(),
            e => e,
        }
    }

    /// A signature failure.
    pub fn signature(what: impl Into<String>, cause: SignatureCause) -> Self {
        EvidenceError::Signature {
            what: what.into(),
            cause,
        }
    }

    /// A short machine-readable kind, as the CLI's JSON `error.kind` reports it (a GPU of a
    /// multi-GPU document reports its own error's kind).
    pub fn kind(&self) -> &'static str {
        match self {
            EvidenceError::Malformed { .. } => "malformed",
            EvidenceError::UnsupportedVersion { .. } => "unsupported_version",
            EvidenceError::Certificate { .. } => "certificate",
            EvidenceError::Chain(_) => "chain",
            EvidenceError::CertificateRole { .. } | EvidenceError::Extension { .. } => {
                "certificate"
            }
            EvidenceError::UnsupportedPlatform { .. } => "platform",
            EvidenceError::Usage { .. } => "usage",
            EvidenceError::Gpu { source, .. } => source.kind(),
            EvidenceError::Expired { .. } => "expired",
            EvidenceError::Revoked { .. } => "revoked",
            EvidenceError::Ocsp { .. } => "ocsp",
            EvidenceError::Signature { .. } => "signature",
            EvidenceError::Mismatch { .. } => "mismatch",
            EvidenceError::Collateral(_) => "collateral",
            EvidenceError::NoTcbLevel(_) => "no_tcb_level",
            EvidenceError::Platform(_) => "platform",
            EvidenceError::Collect { .. } => "collect",
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = EvidenceError> = std::result::Result<T, E>;
