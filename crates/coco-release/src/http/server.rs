//! The service's HTTP front end (axum on tokio).

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
use crate::wire::EvidenceBundle;

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
    error_json(status, json!({"kind": kind, "message": message}), ear)
}

fn error_json(status: StatusCode, error: serde_json::Value, ear: Option<String>) -> Response {
    (status, axum::Json(json!({"error": error, "ear": ear}))).into_response()
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
            error_json(status, r.error.to_json(), r.ear)
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
