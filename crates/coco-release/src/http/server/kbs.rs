//! The KBS routes (`/kbs/v0/...`): bytes and cookies in, [`KeyReleaseService`]'s KBS operations
//! ([`crate::kbs`]) decide, RFC 7807 problems out.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::App;
use crate::decision::Cancel;
use crate::kbs::{KbsError, SESSION_COOKIE};

/// The problem response of `e`.
fn problem(e: &KbsError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.to_problem().to_string(),
    )
        .into_response()
}

/// A body refused by the body limit or a broken upload, as a problem (audited).
fn body_refused(app: &App, peer: SocketAddr, r: &BytesRejection) -> Response {
    let message = format!("request body refused: {}", r.body_text());
    app.service
        .audit_refusal(Some(peer), r.status().as_u16(), "request", &message);
    let body = serde_json::json!({
        "type": format!("{}SerdeError", crate::kbs::error::ERROR_TYPE_PREFIX),
        "detail": message,
    });
    (r.status(), axum::Json(body)).into_response()
}

/// The session token of the request's `kbs-session-id` cookie.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// `body` as JSON with the session cookie set to `token`.
fn with_session(body: String, token: &str, max_age: u64) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/kbs/v0; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    );
    let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            r.headers_mut().insert(header::SET_COOKIE, v);
            r
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn auth(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_refused(&app, peer, &r),
    };
    match app.service.kbs_auth(&body, SystemTime::now(), Some(peer)) {
        Ok((challenge, token)) => with_session(
            serde_json::to_string(&challenge).unwrap_or_default(),
            &token,
            app.service.challenge_ttl_secs(),
        ),
        Err(e) => problem(&e),
    }
}

async fn attest(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_refused(&app, peer, &r),
    };
    let token = session_token(&headers);
    let service = app.service.clone();
    // Dropping this handler (the request deadline) cancels the decision.
    let cancel = Cancel::default();
    let _cancel_on_drop = cancel.on_drop();
    let work = tokio::task::spawn_blocking(move || {
        service.kbs_attest(
            token.as_deref(),
            &body,
            SystemTime::now(),
            Some(peer),
            &cancel,
        )
    });
    match work.await {
        Ok(Ok((t, session))) => with_session(
            serde_json::to_string(&t).unwrap_or_default(),
            &session,
            crate::kbs::broker::ATTESTED_SESSION_SECS,
        ),
        Ok(Err(e)) => problem(&e),
        Err(_) => problem(&KbsError::Unavailable(crate::ReleaseError::Storage(
            "the decision failed".into(),
        ))),
    }
}

async fn resource(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = session_token(&headers);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string());
    let service = app.service.clone();
    // A key store may be an HSM: off the async workers. The cookie wins when both are sent.
    let work = tokio::task::spawn_blocking(move || match (token, bearer) {
        (None, Some(jwt)) => {
            service.kbs_resource_bearer(&jwt, &path, SystemTime::now(), Some(peer))
        }
        (token, _) => service.kbs_resource(token.as_deref(), &path, SystemTime::now(), Some(peer)),
    });
    match work.await {
        Ok(Ok(jwe)) => (
            [(header::CONTENT_TYPE, "application/json")],
            jwe.to_string(),
        )
            .into_response(),
        Ok(Err(e)) => problem(&e),
        Err(_) => problem(&KbsError::Unavailable(crate::ReleaseError::Storage(
            "the release failed".into(),
        ))),
    }
}

/// The KBS routes, merged into the service's router.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/kbs/v0/auth", post(auth))
        .route("/kbs/v0/attest", post(attest))
        .route("/kbs/v0/resource/{*path}", get(resource))
}
