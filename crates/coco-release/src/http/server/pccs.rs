//! PCCS-compatible read endpoints (Intel's PCS API v4 paths) served from the service's TDX
//! collateral cache, so that existing DCAP clients (dcap-qvl, Intel's QVL) can use coco as
//! their caching service: `GET /tdx/certification/v4/tcb?fmspc=`, `/tdx/certification/v4/qe/
//! identity`, `/sgx/certification/v4/pckcrl?ca=[&encoding=der]`, `/sgx/certification/v4/
//! rootcacrl`, with the issuer chains URL-encoded in the headers PCS uses. What the cache does
//! not hold is fetched and verified first: a TCB Info request fills the platform's whole set,
//! a CRL request its CRL; QE Identity comes from any platform cached (DCAP clients ask for it
//! after the TCB Info). Only collateral valid now is served.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::App;
use crate::collateral::cache::TdxCache;
use crate::collateral::pcs::{PckCa, QuoteIds};

fn query<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        message.to_string(),
    )
        .into_response()
}

fn cache(app: &App) -> Option<&TdxCache> {
    app.service.tdx_collateral_cache().map(|c| c.as_ref())
}

fn no_cache() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "this service keeps no collateral cache (--collateral-cache)",
    )
}

fn encoded(chain: &[u8]) -> Option<HeaderValue> {
    let text = String::from_utf8_lossy(chain);
    let enc = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC);
    HeaderValue::from_str(&enc.to_string()).ok()
}

fn answer(content_type: &str, body: Vec<u8>, chains: &[(&'static str, &[u8])]) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type.to_string())], body).into_response();
    for (name, chain) in chains {
        if let Some(v) = encoded(chain) {
            r.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    r
}

async fn tcb(State(app): State<App>, uri: Uri) -> Response {
    let Some(c) = cache(&app) else {
        return no_cache();
    };
    let Some(fmspc) = query(&uri, "fmspc")
        .and_then(|f| hex::decode(f).ok())
        .and_then(|f| <[u8; 6]>::try_from(f).ok())
    else {
        return plain(StatusCode::BAD_REQUEST, "fmspc: 6 bytes of hex");
    };
    let now = c.now();
    let entry = match c.find(now, |e| e.fmspc == fmspc) {
        Some(e) => e,
        None => {
            let ids = QuoteIds {
                fmspc,
                ca: PckCa::Platform,
            };
            let cache = app.service.tdx_collateral_cache().cloned();
            let fetched = tokio::task::spawn_blocking(move || {
                cache.map(|c| {
                    c.get(&ids, now)
                        .map(|_| c.find(now, |e| e.fmspc == ids.fmspc))
                })
            })
            .await;
            match fetched {
                Ok(Some(Ok(Some(e)))) => e,
                Ok(Some(Err(e))) => return plain(StatusCode::NOT_FOUND, &e.to_string()),
                _ => return plain(StatusCode::SERVICE_UNAVAILABLE, "collateral unavailable"),
            }
        }
    };
    answer(
        "application/json",
        entry.raw.tcb_info.clone(),
        &[
            ("tcb-info-issuer-chain", &entry.raw.tcb_signing_chain),
            ("sgx-tcb-info-issuer-chain", &entry.raw.tcb_signing_chain),
        ],
    )
}

async fn qe_identity(State(app): State<App>) -> Response {
    let Some(now) = cache(&app).map(TdxCache::now) else {
        return no_cache();
    };
    let cache = app.service.tdx_collateral_cache().cloned();
    let got = tokio::task::spawn_blocking(move || cache.map(|c| c.qe_identity(now))).await;
    match got {
        Ok(Some(Ok((body, chain)))) => answer(
            "application/json",
            body,
            &[("sgx-enclave-identity-issuer-chain", &chain)],
        ),
        Ok(Some(Err(e))) => plain(StatusCode::NOT_FOUND, &e.to_string()),
        _ => plain(StatusCode::SERVICE_UNAVAILABLE, "collateral unavailable"),
    }
}

async fn pck_crl(State(app): State<App>, uri: Uri) -> Response {
    let Some(c) = cache(&app) else {
        return no_cache();
    };
    let ca = match query(&uri, "ca") {
        Some("platform") => PckCa::Platform,
        Some("processor") => PckCa::Processor,
        _ => return plain(StatusCode::BAD_REQUEST, "ca: platform or processor"),
    };
    let cache = app.service.tdx_collateral_cache().cloned();
    let now = c.now();
    let got = tokio::task::spawn_blocking(move || cache.map(|c| c.pck_crl(ca, now))).await;
    let (der, chain) = match got {
        Ok(Some(Ok(x))) => x,
        Ok(Some(Err(e))) => return plain(StatusCode::NOT_FOUND, &e.to_string()),
        _ => return plain(StatusCode::SERVICE_UNAVAILABLE, "collateral unavailable"),
    };
    let (content_type, body) = if query(&uri, "encoding") == Some("der") {
        ("application/pkix-crl", der)
    } else {
        let pem = pem_rfc7468_encode("X509 CRL", &der);
        ("application/x-pem-file", pem.into_bytes())
    };
    answer(content_type, body, &[("sgx-pck-crl-issuer-chain", &chain)])
}

/// PEM with 64-column base64 lines.
fn pem_rfc7468_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

async fn root_ca_crl(State(app): State<App>) -> Response {
    let Some(now) = cache(&app).map(TdxCache::now) else {
        return no_cache();
    };
    let cache = app.service.tdx_collateral_cache().cloned();
    let got = tokio::task::spawn_blocking(move || cache.map(|c| c.root_ca_crl(now))).await;
    match got {
        // A PCCS answers with the DER as hex text.
        Ok(Some(Ok(der))) => answer("text/plain", hex::encode(der).into_bytes(), &[]),
        Ok(Some(Err(e))) => plain(StatusCode::NOT_FOUND, &e.to_string()),
        _ => plain(StatusCode::SERVICE_UNAVAILABLE, "collateral unavailable"),
    }
}

/// The PCCS-compatible routes.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/tdx/certification/v4/tcb", get(tcb))
        .route("/tdx/certification/v4/qe/identity", get(qe_identity))
        .route("/sgx/certification/v4/pckcrl", get(pck_crl))
        .route("/sgx/certification/v4/rootcacrl", get(root_ca_crl))
}
