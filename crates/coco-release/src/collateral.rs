//! Collateral that fetches itself: the documents a verifier needs beside the evidence, fetched
//! from the vendors' services (or a caching service speaking their API), **verified before they
//! are returned** — nothing fetched is trusted.
//!
//! - [`pcs`]: Intel TDX collateral from Intel's PCS API v4 or a PCCS (TCB Info for the quote's
//!   FMSPC, QE Identity, the PCK CRL of the quote's PCK CA, the Root CA CRL), in the layout of
//!   `coco evidence verify --collateral`.
//! - [`kds`]: AMD SEV-SNP collateral from AMD's KDS (the VCEK for the report's chip and TCB,
//!   the product's ASK + ARK and CRL), verified with the report.
//! - [`rim`]: NVIDIA's driver and VBIOS RIMs from the RIM service by the ids a GPU report
//!   names, verified (digest, XML signature to the pinned RIM root, version).
//! - [`ocsp`]: OCSP responses for NVIDIA's GPU device chains from NVIDIA's responder (or any
//!   RFC 6960 responder), each asked with a fresh nonce and verified with it.
//! - [`cache`]: verified TDX collateral by platform, refreshed before it expires, never used
//!   past its validity; what `coco serve --collateral-cache DIR` decides with.

pub mod cache;
pub mod kds;
pub mod ocsp;
pub mod pcs;
pub mod rim;

use std::time::Duration;

use crate::tls::ClientTls;
use pcs::FetchError;

/// The largest response read (a TCB Info document is tens of KiB; a CRL can be larger).
const MAX_BODY: u64 = 8 << 20;
/// The longest `Retry-After` honoured by waiting once (longer ones are returned as the error).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// A response of a vendor service: its body and the header asked for (URL-decoded).
struct Fetched {
    body: Vec<u8>,
    header: Option<String>,
}

/// The HTTP side of the vendors' services: bounded bodies, no redirects, the client's TLS
/// settings; a 429 with a short `Retry-After` is waited out once; any other non-200 is
/// [`FetchError::Status`] naming the URL.
#[derive(Debug, Clone)]
struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    fn new(base: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        let agent = crate::http::agent(base, tls).map_err(|e| match e {
            crate::ReleaseError::Tls(t) => FetchError::Client(t),
            other => FetchError::Transport {
                url: base.into(),
                reason: other.to_string(),
            },
        })?;
        Ok(Self { agent })
    }

    fn get(&self, url: &str, header: Option<&'static str>) -> Result<Fetched, FetchError> {
        self.call(url, header, None)
    }

    /// POSTs `body` with `content_type` (an OCSP request), with the same rules as a GET.
    fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<Fetched, FetchError> {
        self.call(url, None, Some((content_type, body)))
    }

    fn call(
        &self,
        url: &str,
        header: Option<&'static str>,
        post: Option<(&str, &[u8])>,
    ) -> Result<Fetched, FetchError> {
        let transport = |e: &dyn std::fmt::Display| FetchError::Transport {
            url: url.into(),
            reason: e.to_string(),
        };
        let mut waited = false;
        loop {
            let sent = match post {
                None => self.agent.get(url).call(),
                Some((ct, body)) => self.agent.post(url).content_type(ct).send(body),
            };
            let mut r = sent.map_err(|e| transport(&e))?;
            let status = r.status().as_u16();
            if status == 200 {
                let header = header
                    .and_then(|h| r.headers().get(h))
                    .and_then(|v| v.to_str().ok())
                    .map(|v| {
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned()
                    });
                let body = r
                    .body_mut()
                    .with_config()
                    .limit(MAX_BODY)
                    .read_to_vec()
                    .map_err(|e| transport(&e))?;
                return Ok(Fetched { body, header });
            }
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            match retry_after {
                Some(s) if status == 429 && !waited && Duration::from_secs(s) <= MAX_RETRY_WAIT => {
                    waited = true;
                    std::thread::sleep(Duration::from_secs(s));
                }
                _ => {
                    return Err(FetchError::Status {
                        url: url.into(),
                        status,
                        retry_after,
                    });
                }
            }
        }
    }
}
