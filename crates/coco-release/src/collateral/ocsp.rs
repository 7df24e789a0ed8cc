//! OCSP responses for NVIDIA's GPU device chains, from NVIDIA's responder
//! (`https://ocsp.ndis.nvidia.com/`, RFC 6960 over HTTP POST) or any responder speaking the
//! same protocol. Each request carries a fresh 32-byte nonce and a SHA-384 CertID, as NVIDIA's
//! verifiers send them; each answer is verified with that nonce before it is returned
//! ([`coco_evidence::ocsp::check`]: responder chain to the device chain's pinned root,
//! signature, CertID, window, status), so a revoked certificate is an error here already.

use std::time::SystemTime;

use coco_evidence::ocsp::{self, CertOcsp, CheckOptions, OcspResponse};
use coco_evidence::x509::Cert;

use super::Fetcher;
use super::pcs::FetchError;
use crate::tls::ClientTls;

/// NVIDIA's OCSP responder.
pub const NVIDIA_OCSP: &str = "https://ocsp.ndis.nvidia.com/";

/// One certificate's verified response.
#[derive(Debug, Clone)]
pub struct FetchedOcsp {
    /// The response, byte for byte (what `coco evidence verify --collateral` reads back).
    pub response: OcspResponse,
    /// What it said, as checked.
    pub status: CertOcsp,
}

/// A client of an OCSP responder.
#[derive(Debug, Clone)]
pub struct OcspClient {
    url: String,
    http: Fetcher,
}

impl OcspClient {
    /// A client of the responder at `url` (e.g. [`NVIDIA_OCSP`]).
    pub fn new(url: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        Ok(Self {
            url: url.to_string(),
            http: Fetcher::new(url, tls)?,
        })
    }

    /// Asks about `cert` (issued by `issuer`, under the pinned `root`) with a fresh nonce and
    /// verifies the answer at `at`.
    pub fn fetch(
        &self,
        cert: &Cert,
        issuer: &Cert,
        root: &Cert,
        at: SystemTime,
    ) -> Result<FetchedOcsp, FetchError> {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(|e| FetchError::Transport {
            url: self.url.clone(),
            reason: format!("no randomness for the nonce: {e}"),
        })?;
        let request = ocsp::request(cert, issuer, Some(&nonce)).map_err(FetchError::Verify)?;
        let body = self
            .http
            .post(&self.url, "application/ocsp-request", &request)?
            .body;
        let response = OcspResponse::from_der(&body).map_err(FetchError::Verify)?;
        let mut opts = CheckOptions::at(at);
        opts.nonce = Some(&nonce);
        let status =
            ocsp::check(&response, cert, issuer, root, &opts).map_err(FetchError::Verify)?;
        Ok(FetchedOcsp { response, status })
    }

    /// Responses for `chain[range]` (leaf first, the pinned root last; NVIDIA's device chain
    /// asks about [`coco_evidence::nvidia::verify::ocsp_range`]), each verified.
    pub fn fetch_chain(
        &self,
        chain: &[Cert],
        range: std::ops::Range<usize>,
        at: SystemTime,
    ) -> Result<Vec<FetchedOcsp>, FetchError> {
        let root = chain.last().ok_or_else(|| {
            FetchError::Quote(coco_evidence::EvidenceError::Certificate {
                cert: "device chain".into(),
                reason: "empty".into(),
            })
        })?;
        ocsp::links(chain, range)
            .map(|(cert, issuer)| self.fetch(cert, issuer, root, at))
            .collect()
    }
}

/// The most certificates [`OcspCache`] remembers (a fleet's GPUs: one device identity each,
/// plus the shared provisioner CAs).
pub const OCSP_CACHE_CAPACITY: usize = 4096;

/// A cached, verified response and when it is asked again.
#[derive(Debug, Clone)]
struct Cached {
    response: OcspResponse,
    /// Asked again from here on (half way through the response's window).
    refresh_at: u64,
    /// Never used after this (`nextUpdate`, or `thisUpdate` + the maximum age).
    valid_until: u64,
}

/// Verified OCSP answers for the GPU device chains a service sees, by certificate: a
/// certificate is asked about once, again half way through its answer's window, and an answer
/// is never used past its window. While the responder is unreachable a cached answer still in
/// its window is used; without one the source is
/// [`CollateralError::Unavailable`](coco_evidence::error::CollateralError::Unavailable) (a
/// service answers 503: it cannot decide now). Bounded ([`OCSP_CACHE_CAPACITY`]: the entry
/// closest to expiry is dropped first). Thread-safe.
#[derive(Debug)]
pub struct OcspCache {
    client: OcspClient,
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], Cached>>,
    capacity: usize,
}

impl OcspCache {
    /// A cache asking the responder of `client`.
    pub fn new(client: OcspClient) -> Self {
        Self::with_capacity(client, OCSP_CACHE_CAPACITY)
    }

    /// A cache of at most `capacity` certificates.
    pub fn with_capacity(client: OcspClient, capacity: usize) -> Self {
        Self {
            client,
            entries: Default::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many certificates have a cached answer.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn one(
        &self,
        cert: &Cert,
        issuer: &Cert,
        root: &Cert,
        at: SystemTime,
    ) -> coco_evidence::Result<OcspResponse> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(cert.der()).into();
        let now = coco_core::time::unix(at);
        let cached = self.entries.lock().ok().and_then(|e| e.get(&key).cloned());
        if let Some(c) = &cached
            && now < c.refresh_at
        {
            return Ok(c.response.clone());
        }
        match self.client.fetch(cert, issuer, root, at) {
            Ok(f) => {
                let span = f.status.valid_until.saturating_sub(f.status.this_update);
                let entry = Cached {
                    response: f.response.clone(),
                    refresh_at: f.status.this_update.saturating_add(span / 2),
                    valid_until: f.status.valid_until,
                };
                if let Ok(mut e) = self.entries.lock() {
                    if e.len() >= self.capacity
                        && !e.contains_key(&key)
                        && let Some(k) =
                            e.iter().min_by_key(|(_, c)| c.valid_until).map(|(k, _)| *k)
                    {
                        e.remove(&k);
                    }
                    e.insert(key, entry);
                }
                Ok(f.response)
            }
            // A revoked certificate, a forged or stale answer: the evidence's failure.
            Err(FetchError::Verify(e)) => Err(e),
            Err(other) => match cached {
                Some(c) if now <= c.valid_until => Ok(c.response),
                _ => Err(coco_evidence::EvidenceError::Collateral(
                    coco_evidence::error::CollateralError::Unavailable {
                        what: format!(
                            "OCSP response for {} (serial {})",
                            cert.subject_cn(),
                            cert.serial_hex()
                        ),
                        reason: other.to_string(),
                    },
                )),
            },
        }
    }
}

impl coco_evidence::ocsp::OcspSource for OcspCache {
    fn responses(
        &self,
        chain: &[Cert],
        range: std::ops::Range<usize>,
        at: SystemTime,
    ) -> coco_evidence::Result<Vec<OcspResponse>> {
        let Some(root) = chain.last() else {
            return Ok(Vec::new());
        };
        ocsp::links(chain, range)
            .map(|(cert, issuer)| self.one(cert, issuer, root, at))
            .collect()
    }
}
