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
        range
            .filter_map(|i| Some((chain.get(i)?, chain.get(i + 1)?)))
            .map(|(cert, issuer)| self.fetch(cert, issuer, root, at))
            .collect()
    }
}
