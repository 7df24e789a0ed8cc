//! The service's HTTP front end: axum routes on hyper's HTTP/1 connections, each under a
//! header-read timer and a lifetime bound, behind a connection cap and a per-peer cap. Every
//! request (body included) has a deadline; every refusal is a JSON error and is audited with the
//! peer's address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::decision::Cancel;
use crate::error::{ReleaseError, Result};
use crate::service::KeyReleaseService;
use crate::tls::ServerTls;
use crate::wire::EvidenceBundle;

/// Request and connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest time one request may take, from its headers to the answer, body upload and
    /// decision included (408 after).
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers, and the longest a
    /// connection may stay idle between requests; the connection is closed after it.
    pub header_timeout: Duration,
    /// Longest time one connection may stay open, whatever it does.
    pub connection_lifetime: Duration,
    /// Most connections open at once; more are closed at once (and audited).
    pub max_connections: usize,
    /// Most connections open at once from one IP address.
    pub max_per_peer: usize,
    /// Most decisions running at once (threads); more wait for one to finish, under their
    /// request deadline.
    pub decision_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(5),
            connection_lifetime: Duration::from_secs(120),
            max_connections: 1024,
            max_per_peer: 256,
            decision_threads: 8,
        }
    }
}

mod kbs;
mod pccs;

#[derive(Clone)]
struct App {
    service: Arc<KeyReleaseService>,
    limits: Limits,
    metrics: Arc<super::Metrics>,
}

fn error(status: StatusCode, kind: &str, message: &str, ear: Option<String>) -> Response {
    error_json(status, json!({"kind": kind, "message": message}), ear)
}

fn error_json(status: StatusCode, error: serde_json::Value, ear: Option<String>) -> Response {
    (status, axum::Json(json!({"error": error, "ear": ear}))).into_response()
}

/// A refusal before the decision: audited with the peer, answered as a JSON error.
fn refuse(app: &App, peer: SocketAddr, status: StatusCode, kind: &str, message: &str) -> Response {
    app.service
        .audit_refusal(Some(peer), status.as_u16(), kind, message);
    error(status, kind, message, None)
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

/// The HTTP status of a refusal (400 malformed, 403 refused, 503 audit or storage failed).
pub fn http_status(e: &ReleaseError) -> u16 {
    status_of(e).as_u16()
}

fn status_of(e: &ReleaseError) -> StatusCode {
    match e.kind() {
        "request" | "wrap" | "usage" => StatusCode::BAD_REQUEST,
        "storage" | "audit" | "keystore" => StatusCode::SERVICE_UNAVAILABLE,
        "timeout" => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::FORBIDDEN,
    }
}

async fn release(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => {
            return refuse(
                &app,
                peer,
                r.status(),
                "request",
                &format!("request body refused: {}", r.body_text()),
            );
        }
    };
    let bundle: EvidenceBundle = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                &app,
                peer,
                StatusCode::BAD_REQUEST,
                "request",
                &format!("not an evidence bundle: {e}"),
            );
        }
    };
    let service = app.service.clone();
    // Dropping this handler (the request deadline) cancels the decision.
    let cancel = Cancel::default();
    let _cancel_on_drop = cancel.on_drop();
    let work = tokio::task::spawn_blocking(move || {
        service.release_unless(&bundle, SystemTime::now(), Some(peer), &cancel)
    });
    match work.await {
        Err(_) => refuse(
            &app,
            peer,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the decision failed",
        ),
        Ok(Ok(resp)) => axum::Json(resp).into_response(),
        Ok(Err(r)) => error_json(status_of(&r.error), r.error.to_json(), r.ear),
    }
}

/// Every request, body upload and decision included, within `request_timeout`.
async fn deadline(State(app): State<App>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match tokio::time::timeout(app.limits.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let message = format!(
                "the request took longer than {} s",
                app.limits.request_timeout.as_secs_f64()
            );
            app.service.audit_refusal(peer, 408, "timeout", &message);
            error(StatusCode::REQUEST_TIMEOUT, "timeout", &message, None)
        }
    }
}

async fn not_found(State(app): State<App>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let message = format!("no route {} {}", req.method(), req.uri().path());
    app.service.audit_refusal(peer, 404, "request", &message);
    error(StatusCode::NOT_FOUND, "request", &message, None)
}

async fn readyz(State(app): State<App>) -> Response {
    if app.service.ready() {
        "ready".into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit",
            "the audit log does not accept writes: no key can be released",
            None,
        )
    }
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(&app.service),
    )
        .into_response()
}

/// The service's routes with the body limit and the request deadline applied. Handlers read
/// the peer from `ConnectInfo<SocketAddr>` ([`Server`] provides it). `/healthz` says the
/// process serves, `/readyz` whether it can release keys, `/metrics` is Prometheus text.
pub fn router(service: Arc<KeyReleaseService>, limits: Limits) -> Router {
    router_with(service, limits, Arc::new(super::Metrics::default()))
}

fn router_with(
    service: Arc<KeyReleaseService>,
    limits: Limits,
    metrics_: Arc<super::Metrics>,
) -> Router {
    service.observe(metrics_.clone());
    let app = App {
        service,
        limits,
        metrics: metrics_,
    };
    Router::new()
        .route("/v1/challenge", get(challenge))
        .route("/v1/release", post(release))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(kbs::routes())
        .merge(pccs::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(app.clone(), deadline))
        .with_state(app)
}

/// Open connections, in all and per peer address.
struct Admission {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// A connection's place; released when dropped.
struct Admitted {
    admission: Arc<Mutex<Admission>>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut a = self.admission.lock().unwrap_or_else(|e| e.into_inner());
        a.total -= 1;
        if let Some(n) = a.per_peer.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                a.per_peer.remove(&self.ip);
            }
        }
    }
}

fn admit(
    admission: &Arc<Mutex<Admission>>,
    ip: IpAddr,
    limits: &Limits,
) -> std::result::Result<Admitted, &'static str> {
    let mut a = admission.lock().unwrap_or_else(|e| e.into_inner());
    if a.total >= limits.max_connections {
        return Err("too many connections");
    }
    let n = a.per_peer.entry(ip).or_insert(0);
    if *n >= limits.max_per_peer {
        return Err("too many connections from this address");
    }
    *n += 1;
    a.total += 1;
    Ok(Admitted {
        admission: admission.clone(),
        ip,
    })
}

/// One HTTP/1 connection under the header-read timer, until `deadline` at the latest.
async fn serve_connection<S>(
    io: S,
    svc: hyper_util::service::TowerToHyperService<Router>,
    limits: &Limits,
    deadline: tokio::time::Instant,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), svc);
    let _ = tokio::time::timeout_at(deadline, conn).await;
}

/// A server running on its own tokio runtime thread; dropped = shut down.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({})", self.addr)
    }
}

impl Server {
    /// Binds `addr` (use `127.0.0.1:0` for a free loopback port) and serves plain HTTP until
    /// dropped.
    pub fn start(
        service: Arc<KeyReleaseService>,
        addr: SocketAddr,
        limits: Limits,
    ) -> Result<Self> {
        Self::start_with(service, addr, limits, None)
    }

    /// Binds `addr` and serves until dropped, over TLS when `tls` is given. The TLS handshake
    /// runs under the header-read timer; a failed handshake is audited with the peer.
    pub fn start_with(
        service: Arc<KeyReleaseService>,
        addr: SocketAddr,
        limits: Limits,
        tls: Option<ServerTls>,
    ) -> Result<Self> {
        let storage =
            |e: std::io::Error| ReleaseError::Storage(format!("cannot serve on {addr}: {e}"));
        // Decisions are CPU-bound: a few threads for them are as fast as many, and every
        // thread costs memory (its stack, an allocator arena that keeps what it freed).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(limits.decision_threads.max(1))
            .enable_all()
            .build()
            .map_err(storage)?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(storage)?;
        let bound = listener.local_addr().map_err(storage)?;
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let metrics_ = Arc::new(super::Metrics::default());
        let app = router_with(service.clone(), limits, metrics_.clone());
        let admission = Arc::new(Mutex::new(Admission {
            total: 0,
            per_peer: HashMap::new(),
        }));
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.config()));
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                loop {
                    let (stream, peer) = tokio::select! {
                        _ = &mut rx => break,
                        r = listener.accept() => match r {
                            Ok(x) => x,
                            // Out of file descriptors or a reset before accept: back off.
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                continue;
                            }
                        },
                    };
                    let admitted = match admit(&admission, peer.ip(), &limits) {
                        Ok(a) => a,
                        Err(why) => {
                            service.audit_refusal(Some(peer), 0, "connection", why);
                            drop(stream);
                            continue;
                        }
                    };
                    let svc = hyper_util::service::TowerToHyperService::new(
                        app.clone().layer(axum::Extension(ConnectInfo(peer))),
                    );
                    let open = metrics_.open_connections.clone();
                    let acceptor = acceptor.clone();
                    let service = service.clone();
                    open.inc();
                    tokio::spawn(async move {
                        let deadline = tokio::time::Instant::now() + limits.connection_lifetime;
                        match acceptor {
                            None => serve_connection(stream, svc, &limits, deadline).await,
                            Some(acceptor) => {
                                let hello = tokio::time::timeout(
                                    limits.header_timeout,
                                    acceptor.accept(stream),
                                )
                                .await;
                                match hello {
                                    Ok(Ok(tls)) => {
                                        serve_connection(tls, svc, &limits, deadline).await
                                    }
                                    Ok(Err(e)) => service.audit_refusal(
                                        Some(peer),
                                        0,
                                        "tls",
                                        &format!("TLS handshake failed: {e}"),
                                    ),
                                    Err(_) => service.audit_refusal(
                                        Some(peer),
                                        0,
                                        "tls",
                                        "no TLS handshake within the header timeout",
                                    ),
                                }
                            }
                        }
                        open.dec();
                        drop(admitted);
                    });
                }
            });
        });
        Ok(Self {
            addr: bound,
            tls: tls.is_some(),
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The service's base URL (`https://ADDR` when serving TLS, else `http://ADDR`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
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
