//! NVIDIA's reference integrity manifests from the RIM service (`rim.attestation.nvidia.com`,
//! `GET /v1/rim/<id>` → `{"id", "rim": base64, "sha256", "rim_format", ...}`), by the ids a GPU
//! report names: the driver RIM `NV_GPU_DRIVER_<chip>_<driver version>` and the VBIOS RIM
//! `NV_GPU_VBIOS_<project>_<project sku>_<chip sku>_<VBIOS version without dots>`. Each answer
//! is checked before it is returned: the id is the one asked for, the `sha256` covers the
//! decoded bytes, the RIM's XML signature chains to NVIDIA's pinned RIM root at the given time,
//! and its version is the report's.

use std::time::SystemTime;

use base64::Engine;
use coco_evidence::EvidenceError;
use coco_evidence::nvidia::abi::Report;
use coco_evidence::nvidia::rim;
use sha2::{Digest, Sha256};

use super::Fetcher;
use super::pcs::FetchError;
use crate::tls::ClientTls;

/// NVIDIA's RIM service.
pub const NVIDIA_RIM_SERVICE: &str = "https://rim.attestation.nvidia.com";

/// A RIM the service returned, verified.
#[derive(Debug, Clone)]
pub struct FetchedRim {
    /// Its id.
    pub id: String,
    /// The RIM (SWID XML), byte for byte.
    pub bytes: Vec<u8>,
    /// Its version (`colloquialVersion`).
    pub version: String,
}

/// The RIM ids of a GPU report: `(driver, vbios)`.
pub fn rim_ids(report: &Report, chip: &str) -> Result<(String, String), FetchError> {
    let missing = |what: &str| {
        FetchError::Quote(EvidenceError::Platform(format!(
            "the GPU report does not state its {what}: no RIM id"
        )))
    };
    let o = &report.opaque;
    let driver = o
        .driver_version()
        .ok_or_else(|| missing("driver version"))?;
    let vbios = o.vbios_version().ok_or_else(|| missing("VBIOS version"))?;
    let project = o.project().ok_or_else(|| missing("project"))?;
    let sku = o.project_sku().ok_or_else(|| missing("project SKU"))?;
    let chip_sku = o.chip_sku().ok_or_else(|| missing("chip SKU"))?;
    Ok((
        format!("NV_GPU_DRIVER_{chip}_{driver}"),
        format!(
            "NV_GPU_VBIOS_{project}_{sku}_{chip_sku}_{}",
            vbios.replace('.', "").to_uppercase()
        ),
    ))
}

/// The fields of a RIM service answer that are checked (others, e.g. `last_updated`, are
/// ignored).
#[derive(serde::Deserialize)]
struct RimAnswer {
    id: String,
    /// The RIM, standard base64.
    rim: String,
    /// Hex SHA-256 of the decoded RIM.
    sha256: String,
}

/// A client of the RIM service.
#[derive(Debug, Clone)]
pub struct RimService {
    base: String,
    http: Fetcher,
}

impl RimService {
    /// A client of the RIM service at `base` (e.g. [`NVIDIA_RIM_SERVICE`]).
    pub fn new(base: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http: Fetcher::new(base, tls)?,
        })
    }

    /// Fetches RIM `id` and verifies it at `at`; `version`, when given, must be its
    /// `colloquialVersion` (the report's driver or VBIOS version).
    pub fn get(
        &self,
        id: &str,
        version: Option<&str>,
        at: SystemTime,
    ) -> Result<FetchedRim, FetchError> {
        let url = format!("{}/v1/rim/{id}", self.base);
        let body = self.http.get(&url, None)?.body;
        let bad = |reason: String| {
            FetchError::Verify(EvidenceError::Platform(format!("{url}: {reason}")))
        };
        let v: RimAnswer = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("not a RIM service answer: {e}")))?;
        if v.id != id {
            return Err(bad(format!("answers for id {:?}", v.id)));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&v.rim)
            .map_err(|_| bad("rim is not base64".into()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if !v.sha256.eq_ignore_ascii_case(&digest) {
            return Err(bad(format!(
                "sha256 {} does not match the RIM ({digest})",
                v.sha256
            )));
        }
        let signed = rim::RimDocument::parse(&bytes)
            .and_then(|doc| rim::verify(doc, at))
            .map_err(FetchError::Verify)?;
        if let Some(want) = version
            && !signed.colloquial_version.eq_ignore_ascii_case(want)
        {
            return Err(FetchError::Verify(EvidenceError::Mismatch {
                what: format!("RIM {id} version vs. the report"),
                evidence: want.to_string(),
                endorsement: signed.colloquial_version.clone(),
            }));
        }
        Ok(FetchedRim {
            id: id.to_string(),
            version: signed.colloquial_version.clone(),
            bytes,
        })
    }
}

/// The certificate chain (PEM) at `url`, as a TCG-era CoRIM names its signer: fetched with the
/// services' rules (bounded body, no redirects, 404/429 typed). Not trusted: the caller checks
/// its thumbprint and chain ([`coco_evidence::nvidia::corim_signer::signer_key`]).
pub fn corim_signer(url: &str, tls: &ClientTls) -> Result<Vec<u8>, FetchError> {
    Fetcher::new(url, tls)?.get(url, None).map(|f| f.body)
}
