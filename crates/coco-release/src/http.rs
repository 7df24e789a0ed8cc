//! The HTTP front end of the service (axum on tokio; feature `server`, on by default) and a
//! blocking client (always).
//!
//! - `GET /v1/challenge` -> [`Challenge`]
//! - `POST /v1/release` with an [`EvidenceBundle`] -> 200 [`ReleaseResponse`], or 4xx
//!   `{"error": {"kind", "message"}, "ear": JWT|null}` (400 malformed, 403 refused,
//!   413 too large), 503 when the decision exceeds the request timeout.
//! - `GET /healthz` -> `ok`
//!
//! TLS on both sides ([`crate::tls`]): the service with `ServerTls`, the client with the
//! system's roots or a given CA; plain HTTP only on loopback or when explicitly allowed.

use std::time::Duration;

use crate::error::{ReleaseError, Result};
use crate::tls::ClientTls;
use crate::wire::{Challenge, EvidenceBundle, ReleaseResponse};

#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use metrics::Metrics;
#[cfg(feature = "server")]
pub use server::{Limits, Server, http_status, router};

/// The HTTP agent of a client of `base`: a 60-second deadline per call, no redirects (where
/// the workload was told to go, and nowhere else), HTTPS only for an `https://` base, with the
/// TLS settings `tls`.
pub(crate) fn agent(base: &str, tls: &ClientTls) -> Result<ureq::Agent> {
    let https = crate::tls::check_url(base, tls)?;
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .max_redirects(0)
        .https_only(https);
    if https {
        config = config.tls_config(crate::tls::ureq_config(tls)?);
    }
    Ok(config.build().into())
}

/// A blocking client of the service.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the service at `base`: `https://` with the system's roots, or `http://` to a
    /// loopback host (e.g. `http://127.0.0.1:8443`).
    pub fn new(base: &str) -> Result<Self> {
        Self::with_tls(base, &ClientTls::default())
    }

    /// A client of the service at `base` with these TLS settings (a CA bundle, plain HTTP off
    /// loopback). A refused URL is [`ReleaseError::Tls`].
    pub fn with_tls(base: &str, tls: &ClientTls) -> Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(base, tls)?,
        })
    }

    fn transport(&self, path: &str, e: impl std::fmt::Display) -> ReleaseError {
        ReleaseError::Transport(format!("{}{path}: {e}", self.base))
    }

    /// `GET /v1/challenge`.
    pub fn challenge(&self) -> Result<Challenge> {
        let path = "/v1/challenge";
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(|e| self.transport(path, e))?;
        if r.status() != 200 {
            return Err(self.transport(path, format!("HTTP status {}", r.status())));
        }
        r.body_mut()
            .read_json()
            .map_err(|e| self.transport(path, e))
    }

    /// `POST /v1/release`; a refusal comes back as the service's [`ReleaseError`] kind.
    pub fn release(&self, bundle: &EvidenceBundle) -> Result<ReleaseResponse> {
        let body = serde_json::to_vec(bundle).map_err(|e| ReleaseError::Request(e.to_string()))?;
        self.post_raw(&body)
    }

    /// Posts raw bytes to `/v1/release` (tests of malformed input).
    pub fn post_raw(&self, body: &[u8]) -> Result<ReleaseResponse> {
        let path = "/v1/release";
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .send(body)
            .map_err(|e| self.transport(path, e))?;
        let status = r.status().as_u16();
        if status == 200 {
            return r
                .body_mut()
                .read_json()
                .map_err(|e| self.transport(path, e));
        }
        let v: serde_json::Value = r.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        let msg = v["error"]["message"].as_str().unwrap_or("").to_string();
        let msg = if msg.is_empty() {
            format!("HTTP status {status}")
        } else {
            msg
        };
        Err(match v["error"]["kind"].as_str() {
            Some("challenge") => ReleaseError::Challenge(crate::error::ChallengeError::from_code(
                v["error"]["reason"].as_str().unwrap_or(""),
                &msg,
            )),
            Some(kind) if (400..600).contains(&status) => {
                let mut detail = v["error"].clone();
                detail["http_status"] = status.into();
                ReleaseError::Refused {
                    kind: kind.to_string(),
                    message: msg,
                    detail: Box::new(detail),
                }
            }
            _ if (400..500).contains(&status) => ReleaseError::Request(msg),
            _ => self.transport(path, format!("HTTP status {status}: {msg}")),
        })
    }
}
