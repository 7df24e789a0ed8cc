//! Intel TDX collateral from the Provisioning Certification Service (PCS API v4, or a PCCS that
//! serves the same paths): the TCB Info of the quote's FMSPC, the TD QE Identity, the CRL of the
//! quote's PCK CA, and the Root CA CRL (from the root certificate's distribution point, or a
//! PCCS's `rootcacrl`). Bodies are kept byte for byte (their signatures cover the exact JSON);
//! issuer chains come URL-encoded in response headers. 404 and 410 are typed refusals; a 429
//! with `Retry-After` is retried once when the wait is short. The result is verified
//! ([`coco_evidence::tdx::verify_collateral`]) and must name the quote's FMSPC before it is
//! returned.

use std::time::SystemTime;

use coco_evidence::EvidenceError;
use coco_evidence::tdx::abi::Quote;
use coco_evidence::tdx::pck::PckExtensions;
use coco_evidence::tdx::{RawCollateral, VerifyOptions};
use coco_evidence::x509::parse_certs;

use super::{Fetched, Fetcher};
use crate::tls::ClientTls;

/// Intel's PCS.
pub const INTEL_PCS: &str = "https://api.trustedservices.intel.com";
/// The Intel SGX Root CA's CRL distribution point.
pub const INTEL_ROOT_CA_CRL: &str =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
/// Which PCK CA issued a quote's PCK certificate (the CRL to fetch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PckCa {
    /// Intel SGX PCK Platform CA.
    Platform,
    /// Intel SGX PCK Processor CA.
    Processor,
}

impl PckCa {
    /// `platform` or `processor` (the PCS `ca` parameter).
    pub fn name(self) -> &'static str {
        match self {
            PckCa::Platform => "platform",
            PckCa::Processor => "processor",
        }
    }
}

/// What fetching collateral for a quote needs from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteIds {
    /// The FMSPC of the quote's PCK certificate.
    pub fmspc: [u8; 6],
    /// The CA that issued the PCK certificate.
    pub ca: PckCa,
}

/// Why collateral could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The quote does not say what to fetch (no PCK chain, no SGX extension, unknown CA).
    #[error("quote: {0}")]
    Quote(#[source] EvidenceError),
    /// The service answered with an error status (404: nothing for this FMSPC or CA; 410: gone;
    /// 429: too many requests, with the wait it asked for).
    #[error("{url}: HTTP {status}{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// `Retry-After`, seconds, when given.
        retry_after: Option<u64>,
    },
    /// A header the response must carry is missing or unreadable.
    #[error("{url}: no usable {header} header")]
    Header {
        /// The URL asked.
        url: String,
        /// The header.
        header: &'static str,
    },
    /// The request failed (connection, TLS, body over the size limit).
    #[error("{url}: {reason}")]
    Transport {
        /// The URL asked.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The fetched collateral does not verify (signature, chain, window) or is not the
    /// quote's.
    #[error("the fetched collateral does not verify: {0}")]
    Verify(#[source] EvidenceError),
    /// The client could not be set up (URL, TLS).
    #[error("{0}")]
    Client(#[from] crate::tls::TlsError),
}

impl FetchError {
    /// The stable kind: `quote`, `status`, `header`, `transport`, `verify`, `tls`.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Quote(_) => "quote",
            FetchError::Status { .. } => "status",
            FetchError::Header { .. } => "header",
            FetchError::Transport { .. } => "transport",
            FetchError::Verify(_) => "verify",
            FetchError::Client(_) => "tls",
        }
    }
}

/// The FMSPC and PCK CA of a quote (from the PCK certificate it carries).
pub fn quote_ids(quote: &[u8]) -> Result<QuoteIds, FetchError> {
    let q = Quote::parse_allowing_trailing_data(quote).map_err(FetchError::Quote)?;
    let certs = parse_certs(&q.pck_chain).map_err(FetchError::Quote)?;
    let leaf = certs.first().ok_or_else(|| {
        FetchError::Quote(EvidenceError::Certificate {
            cert: "PCK".into(),
            reason: "the quote carries no PCK certificate chain (certification data type 5)".into(),
        })
    })?;
    let ext = PckExtensions::from_cert(leaf).map_err(FetchError::Quote)?;
    let issuer = leaf.issuer_cn();
    let ca = if issuer.contains("Platform") {
        PckCa::Platform
    } else if issuer.contains("Processor") {
        PckCa::Processor
    } else {
        return Err(FetchError::Quote(EvidenceError::Certificate {
            cert: "PCK".into(),
            reason: format!("issued by {issuer:?}, neither the PCK Platform nor the Processor CA"),
        }));
    };
    Ok(QuoteIds {
        fmspc: ext.fmspc,
        ca,
    })
}

/// A client of a PCS (or PCCS).
#[derive(Debug, Clone)]
pub struct Pcs {
    base: String,
    root_ca_crl: String,
    http: Fetcher,
}

impl Pcs {
    /// A client of the PCS API at `base` (e.g. [`INTEL_PCS`], or a PCCS's
    /// `https://pccs.internal:8081`), taking the Root CA CRL from `root_ca_crl` (e.g.
    /// [`INTEL_ROOT_CA_CRL`], or a PCCS's `.../sgx/certification/v4/rootcacrl`), with these TLS
    /// settings (plain HTTP only to loopback unless allowed).
    pub fn new(base: &str, root_ca_crl: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        crate::tls::check_url(root_ca_crl, tls)?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            root_ca_crl: root_ca_crl.to_string(),
            http: Fetcher::new(base, tls)?,
        })
    }

    fn get(&self, url: &str, header: &'static str) -> Result<Fetched, FetchError> {
        self.http.get(url, Some(header))
    }

    fn chain(&self, f: &Fetched, url: &str, header: &'static str) -> Result<Vec<u8>, FetchError> {
        match &f.header {
            Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {
                Ok(pem.clone().into_bytes())
            }
            _ => Err(FetchError::Header {
                url: url.into(),
                header,
            }),
        }
    }

    /// Fetches the TD QE Identity (the body byte for byte) with its issuer chain (PEM),
    /// verified at `at` on its own: chain to the pinned Intel root, signature, id and version,
    /// window. Returns them with the end of its window (Unix seconds).
    pub fn qe_identity(&self, at: SystemTime) -> Result<(Vec<u8>, Vec<u8>, u64), FetchError> {
        let url = format!("{}/tdx/certification/v4/qe/identity", self.base);
        let f = self.get(&url, "SGX-Enclave-Identity-Issuer-Chain")?;
        let chain = self.chain(&f, &url, "SGX-Enclave-Identity-Issuer-Chain")?;
        let (_, until) =
            coco_evidence::tdx::verify_qe_identity(&f.body, &chain, &VerifyOptions::at(at))
                .map_err(FetchError::Verify)?;
        Ok((f.body, chain, until))
    }

    /// Fetches the CRL of the PCK CA `ca` (DER) with its issuer chain (PEM), verified at
    /// `at`: signed by the chain's PCK CA, which the pinned Intel root issued, and inside its
    /// window.
    pub fn pck_crl(
        &self,
        ca: PckCa,
        at: SystemTime,
    ) -> Result<(Vec<u8>, Vec<u8>, u64), FetchError> {
        let (der, chain) = self.fetch_pck_crl(ca)?;
        let crl = coco_evidence::x509::Crl::from_der(&der).map_err(FetchError::Verify)?;
        verify_pck_crl(&crl, &chain)?;
        crl.check_window(at, "PCK CRL")
            .map_err(FetchError::Verify)?;
        let until = crl.window().1.unwrap_or(u64::MAX);
        Ok((der, chain, until))
    }

    /// The PCK CA's CRL (DER) and its issuer chain (PEM), as fetched (not yet verified).
    fn fetch_pck_crl(&self, ca: PckCa) -> Result<(Vec<u8>, Vec<u8>), FetchError> {
        let url = format!(
            "{}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
            self.base,
            ca.name()
        );
        let f = self.get(&url, "SGX-PCK-CRL-Issuer-Chain")?;
        let chain = self.chain(&f, &url, "SGX-PCK-CRL-Issuer-Chain")?;
        Ok((f.body, chain))
    }

    /// The Root CA CRL (DER) as fetched (not yet verified): a PCCS serves it as hex text, the
    /// distribution point as DER.
    fn fetch_root_ca_crl(&self) -> Result<Vec<u8>, FetchError> {
        let body = self.http.get(&self.root_ca_crl, None)?.body;
        Ok(match hex::decode(String::from_utf8_lossy(&body).trim()) {
            Ok(der) if body.first() != Some(&0x30) => der,
            _ => body,
        })
    }

    /// Fetches the Root CA CRL (DER), verified at `at`: signed by the pinned Intel root and
    /// inside its window.
    pub fn root_ca_crl(&self, at: SystemTime) -> Result<(Vec<u8>, u64), FetchError> {
        let der = self.fetch_root_ca_crl()?;
        let crl = coco_evidence::x509::Crl::from_der(&der).map_err(FetchError::Verify)?;
        crl.verify_signed_by(coco_evidence::tdx::roots::intel_root())
            .map_err(FetchError::Verify)?;
        crl.check_window(at, "Root CA CRL")
            .map_err(FetchError::Verify)?;
        let until = crl.window().1.unwrap_or(u64::MAX);
        Ok((der, until))
    }

    /// Fetches the TDX collateral of a quote with `ids` and verifies it at `at`: the result
    /// has a valid signature chain to Intel's pinned root, is inside its validity window, and
    /// its TCB Info is for the quote's FMSPC.
    pub fn tdx(&self, ids: &QuoteIds, at: SystemTime) -> Result<TdxCollateral, FetchError> {
        let fmspc = hex::encode_upper(ids.fmspc);
        let tcb_url = format!("{}/tdx/certification/v4/tcb?fmspc={fmspc}", self.base);
        let tcb = self.get(&tcb_url, "TCB-Info-Issuer-Chain")?;
        let tcb_signing_chain = self.chain(&tcb, &tcb_url, "TCB-Info-Issuer-Chain")?;
        let qe_url = format!("{}/tdx/certification/v4/qe/identity", self.base);
        let qe = self.get(&qe_url, "SGX-Enclave-Identity-Issuer-Chain")?;
        let (pck_crl, pck_crl_issuer_chain) = self.fetch_pck_crl(ids.ca)?;
        let root_ca_crl = self.fetch_root_ca_crl()?;
        let raw = RawCollateral {
            tcb_info: tcb.body,
            qe_identity: qe.body,
            tcb_signing_chain,
            pck_crl: Some(pck_crl),
            root_ca_crl: Some(root_ca_crl),
        };
        TdxCollateral::verified(raw, pck_crl_issuer_chain, ids, at)
    }
}

/// Checks that `chain` (PEM) holds the PCK CA that signed `crl`, and that the pinned Intel root
/// issued that CA.
fn verify_pck_crl(crl: &coco_evidence::x509::Crl, chain: &[u8]) -> Result<(), FetchError> {
    let certs = parse_certs(chain).map_err(FetchError::Verify)?;
    let issuer = certs
        .iter()
        .find(|c| c.subject_cn() == crl.issuer_cn())
        .ok_or_else(|| {
            FetchError::Verify(EvidenceError::Certificate {
                cert: "PCK CA".into(),
                reason: format!("the PCK CRL issuer chain has no {:?}", crl.issuer_cn()),
            })
        })?;
    crl.verify_signed_by(issuer).map_err(FetchError::Verify)?;
    issuer
        .verify_signed_by(coco_evidence::tdx::roots::intel_root(), None)
        .map_err(FetchError::Verify)
}

/// TDX collateral that verified for a quote's FMSPC, with the time it stays valid until.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxCollateral {
    /// The documents, byte for byte.
    pub raw: RawCollateral,
    /// The earliest `nextUpdate` of TCB Info, QE Identity and both CRLs (Unix seconds): past
    /// it the collateral is not used.
    pub valid_until: u64,
    /// TCB Info's `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// The PCK CRL's issuer chain (PEM: the PCK CA, the root), verified: a PCCS serves it
    /// beside the CRL.
    pub pck_crl_issuer_chain: Vec<u8>,
    /// The PCK CA whose CRL this is.
    pub ca: PckCa,
    /// The FMSPC of the TCB Info.
    pub fmspc: [u8; 6],
}

impl TdxCollateral {
    /// Verifies `raw` at `at` (chain to Intel's pinned root, signatures, windows), that its
    /// TCB Info is for `ids`' FMSPC, and that `pck_crl_issuer_chain` holds the PCK CA that
    /// signed the PCK CRL, issued by the pinned root.
    pub fn verified(
        raw: RawCollateral,
        pck_crl_issuer_chain: Vec<u8>,
        ids: &QuoteIds,
        at: SystemTime,
    ) -> Result<Self, FetchError> {
        let v = coco_evidence::tdx::verify_collateral(&raw, &VerifyOptions::at(at))
            .map_err(FetchError::Verify)?;
        if let Some(crl) = &v.pck_crl {
            verify_pck_crl(crl, &pck_crl_issuer_chain)?;
        }
        if v.fmspc != ids.fmspc {
            return Err(FetchError::Verify(EvidenceError::Mismatch {
                what: "TCB Info FMSPC vs. the quote's PCK certificate".into(),
                evidence: hex::encode(ids.fmspc),
                endorsement: hex::encode(v.fmspc),
            }));
        }
        let crls = [&v.pck_crl, &v.root_ca_crl]
            .into_iter()
            .flatten()
            .filter_map(|c| c.window().1);
        let valid_until = [v.tcb_info_window.1, v.qe_identity_window.1]
            .into_iter()
            .chain(crls)
            .min()
            .unwrap_or(0);
        Ok(Self {
            raw,
            valid_until,
            tcb_evaluation_data_number: v.tcb_info.tcb_evaluation_data_number,
            pck_crl_issuer_chain,
            ca: ids.ca,
            fmspc: ids.fmspc,
        })
    }
}
