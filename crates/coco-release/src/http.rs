//! The HTTP front end of the service (axum on tokio) and a blocking client.
//!
//! - `GET /v1/challenge` -> [`Challenge`]
//! - `POST /v1/release` with an [`EvidenceBundle`] -> 200 [`ReleaseResponse`], or 4xx
//!   `{"error": {"kind", "message"}, "ear": JWT|null}` (400 malformed, 403 refused,
//!   413 too large), 503 when the decision exceeds the request timeout.
//! - `GET /healthz` -> `ok`
//!
//! The data key travels HPKE-wrapped to the attested workload key, so plain HTTP on loopback
//! or inside a trusted network does not expose it; put TLS in front for anything else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::error::{ReleaseError, Result};
use crate::service::KeyReleaseService;
use crate::wire::{Challenge, EvidenceBundle, ReleaseResponse};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest time a decision may take (503 after).
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
struct App {
    service: Arc<KeyReleaseService>,
    limits: Limits,
}

fn error(status: StatusCode, kind: &str, message: &str, ear: Option<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"kind": kind, "message": message}, "ear": ear})),
    )
        .into_response()
}

async fn challenge(State(app): State<App>) -> Response {
    match app.service.challenge(SystemTime::now()) {
        Ok(c) => axum::Json(c).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.kind(),
            &e.to_string(),
            None,
        ),
    }
}

async fn release(State(app): State<App>, body: Bytes) -> Response {
    let bundle: EvidenceBundle = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "request",
                &format!("not an evidence bundle: {e}"),
                None,
            );
        }
    };
    let service = app.service.clone();
    let work = tokio::task::spawn_blocking(move || service.release(&bundle, SystemTime::now()));
    match tokio::time::timeout(app.limits.request_timeout, work).await {
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the decision took too long",
            None,
        ),
        Ok(Err(_)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the decision failed",
            None,
        ),
        Ok(Ok(Ok(resp))) => axum::Json(resp).into_response(),
        Ok(Ok(Err(r))) => {
            let status = match r.error.kind() {
                "request" | "wrap" => StatusCode::BAD_REQUEST,
                "storage" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::FORBIDDEN,
            };
            error(status, r.error.kind(), r.error.message(), r.ear)
        }
    }
}

/// The service's routes with the body limit applied.
pub fn router(service: Arc<KeyReleaseService>, limits: Limits) -> Router {
    Router::new()
        .route("/v1/challenge", get(challenge))
        .route("/v1/release", post(release))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(App { service, limits })
}

/// A server running on its own tokio runtime thread; dropped = shut down.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({})", self.addr)
    }
}

impl Server {
    /// Binds `addr` (use `127.0.0.1:0` for a free loopback port) and serves until dropped.
    pub fn start(
        service: Arc<KeyReleaseService>,
        addr: SocketAddr,
        limits: Limits,
    ) -> Result<Self> {
        let storage =
            |e: std::io::Error| ReleaseError::Storage(format!("cannot serve on {addr}: {e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(storage)?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(storage)?;
        let bound = listener.local_addr().map_err(storage)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(service, limits);
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Ok(Self {
            addr: bound,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A blocking client of the service.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

fn transport(e: impl std::fmt::Display) -> ReleaseError {
    ReleaseError::Storage(format!("HTTP: {e}"))
}

impl Client {
    /// A client of the service at `base` (e.g. `http://127.0.0.1:8443`).
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// `GET /v1/challenge`.
    pub fn challenge(&self) -> Result<Challenge> {
        let mut r = self
            .agent
            .get(format!("{}/v1/challenge", self.base))
            .call()
            .map_err(transport)?;
        if r.status() != 200 {
            return Err(transport(format!("challenge: status {}", r.status())));
        }
        r.body_mut().read_json().map_err(transport)
    }

    /// `POST /v1/release`; a refusal comes back as the service's [`ReleaseError`] kind.
    pub fn release(&self, bundle: &EvidenceBundle) -> Result<ReleaseResponse> {
        let body = serde_json::to_vec(bundle).map_err(|e| ReleaseError::Request(e.to_string()))?;
        self.post_raw(&body)
    }

    /// Posts raw bytes to `/v1/release` (tests of malformed input).
    pub fn post_raw(&self, body: &[u8]) -> Result<ReleaseResponse> {
        let mut r = self
            .agent
            .post(format!("{}/v1/release", self.base))
            .header("content-type", "application/json")
            .send(body)
            .map_err(transport)?;
        let status = r.status().as_u16();
        if status == 200 {
            return r.body_mut().read_json().map_err(transport);
        }
        let v: serde_json::Value = r.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        let msg = v["error"]["message"].as_str().unwrap_or("").to_string();
        let msg = if msg.is_empty() {
            format!("HTTP status {status}")
        } else {
            msg
        };
        Err(match v["error"]["kind"].as_str() {
            Some("challenge") => ReleaseError::Challenge(msg),
            Some("evidence") => ReleaseError::Evidence(msg),
            Some("appraisal") => ReleaseError::Appraisal(msg),
            Some("key") => ReleaseError::Key(msg),
            Some("wrap") => ReleaseError::Wrap(msg),
            _ if (400..500).contains(&status) => ReleaseError::Request(msg),
            _ => ReleaseError::Storage(msg),
        })
    }
}
