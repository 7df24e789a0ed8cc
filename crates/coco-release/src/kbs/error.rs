//! Why a KBS request was refused, with the problem type and HTTP status the protocol gives
//! it (Trustee's error family: 401 unless a policy denied, 403, or nothing is there, 404).

use serde_json::json;

use crate::error::{ChallengeError, ReleaseError};

/// The prefix of every problem type.
pub const ERROR_TYPE_PREFIX: &str = "https://github.com/confidential-containers/kbs/errors/";

/// A refused KBS request. Tests assert the variant; clients see [`KbsError::error_type`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KbsError {
    /// No session cookie (and no token) was sent.
    #[error("no session: send the kbs-session-id cookie that /kbs/v0/auth set")]
    NoSession,
    /// The session cookie is malformed, not issued here, expired or spent.
    #[error("session: {0}")]
    Session(ChallengeError),
    /// The session exists but has not attested (resource before attest, attest twice).
    #[error("the session is at the wrong step: {0}")]
    Step(&'static str),
    /// A protocol version other than 0.4.0.
    #[error("protocol version {0:?}: this service speaks 0.4.0")]
    Version(String),
    /// A TEE this service does not appraise.
    #[error("tee {0:?}: this service appraises snp, tdx and sample evidence")]
    Tee(String),
    /// The request body is not the message of its endpoint.
    #[error("bad request: {0}")]
    Request(String),
    /// The evidence did not verify, is not bound to this session, or its init-data does not
    /// match.
    #[error("attestation: {0}")]
    Attestation(ReleaseError),
    /// The evidence verified and is bound, but the appraisal does not affirm it.
    #[error("access denied by policy: the EAR is {status}")]
    PolicyDeny {
        /// The EAR's overall status.
        status: String,
    },
    /// A resource path that is not `<repository>/<type>/<tag>`.
    #[error("resource path {0:?}: expected <repository>/<type>/<tag> of [A-Za-z0-9._-]")]
    InvalidRequestPath(String),
    /// No key under this resource path.
    #[error("no resource {0:?}")]
    ResourceNotFound(String),
    /// The service cannot decide or release now (audit log, replay store or key store
    /// failed; the decision timed out).
    #[error("{0}")]
    Unavailable(ReleaseError),
}

impl KbsError {
    /// The last segment of the problem type (`TokenNotFound`, `InvalidSession`,
    /// `AttestationError`, `PolicyDeny`, `InvalidRequestPath`, `ResourceNotFound`,
    /// `SerdeError`, `Unavailable`, `Timeout`).
    pub fn error_type(&self) -> &'static str {
        match self {
            KbsError::NoSession => "TokenNotFound",
            KbsError::Session(_) | KbsError::Step(_) => "InvalidSession",
            KbsError::Version(_) | KbsError::Tee(_) | KbsError::Attestation(_) => {
                "AttestationError"
            }
            KbsError::Request(_) => "SerdeError",
            KbsError::PolicyDeny { .. } => "PolicyDeny",
            KbsError::InvalidRequestPath(_) => "InvalidRequestPath",
            KbsError::ResourceNotFound(_) => "ResourceNotFound",
            KbsError::Unavailable(ReleaseError::Cancelled) => "Timeout",
            KbsError::Unavailable(_) => "Unavailable",
        }
    }

    /// The HTTP status: 403 policy, 404 path or resource, 503 unavailable, 408 timeout, else
    /// 401.
    pub fn status(&self) -> u16 {
        match self {
            KbsError::PolicyDeny { .. } => 403,
            KbsError::InvalidRequestPath(_) | KbsError::ResourceNotFound(_) => 404,
            KbsError::Unavailable(ReleaseError::Cancelled) => 408,
            KbsError::Unavailable(_) => 503,
            _ => 401,
        }
    }

    /// The RFC 7807 body: `{"type": PREFIX + error_type, "detail": message}`.
    pub fn to_problem(&self) -> serde_json::Value {
        json!({
            "type": format!("{ERROR_TYPE_PREFIX}{}", self.error_type()),
            "detail": self.to_string(),
        })
    }

    /// An error of the decision, sorted: what the service cannot do now is
    /// [`KbsError::Unavailable`], the rest is the evidence's fault.
    pub fn from_decision(e: ReleaseError) -> Self {
        match e.kind() {
            "storage" | "audit" | "keystore" | "timeout" => KbsError::Unavailable(e),
            _ => KbsError::Attestation(e),
        }
    }
}
