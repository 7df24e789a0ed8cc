//! KBS `tee-evidence` to coco [`Evidence`]: nothing is verified here, only decoded, with a
//! typed error naming the member that is wrong. The CPU evidence comes first, then one piece
//! per GPU of `additional_evidence`, in order (the decision numbers them `cpu0`, `gpu0`, ...).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coco_evidence::api::{Evidence, EvidencePlatform};
use coco_evidence::x509::{Cert, MAX_CHAIN_CERTS, parse_certs};
use serde::Deserialize;
use serde_json::Value;

use super::error::KbsError;
use super::wire::NvidiaDevice;

/// The largest certificate taken from an SNP `cert_chain`.
const MAX_CERT_BYTES: usize = 16 << 10;

fn bad(what: &str, reason: impl std::fmt::Display) -> KbsError {
    KbsError::Request(format!("tee-evidence: {what}: {reason}"))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, KbsError> {
    B64.decode(s.trim())
        .map_err(|_| bad(what, "not standard base64"))
}

/// Whether `cert` was issued by the simulated root (then its evidence is the simulated
/// platform's, which only that root can verify).
fn issued_by(cert: &Cert, root: Option<&Cert>) -> bool {
    root.is_some_and(|r| {
        cert.inner().tbs_certificate().issuer() == r.inner().tbs_certificate().subject()
    })
}

#[derive(Deserialize)]
struct SnpCert {
    cert_type: String,
    data: Vec<u8>,
}

#[derive(Deserialize)]
struct SnpEvidence {
    attestation_report: Value,
    #[serde(default)]
    cert_chain: Option<Vec<SnpCert>>,
}

#[derive(Deserialize)]
struct TdxEvidence {
    quote: String,
    #[serde(default)]
    #[allow(dead_code)]
    cc_eventlog: Option<String>,
}

/// The CPU evidence of `tee`. SNP: the report rebuilt from its sev JSON, the VCEK/VLEK and
/// ASK/ASVK of `cert_chain` (a sent ARK is ignored: the pinned one is used). TDX: the quote.
/// Sample: `{"svn", "report_data"}` (accepted only where the policy allows simulation).
/// Evidence whose endorsement key the simulated root issued is the simulated platform's.
pub fn cpu(tee: &str, primary: &Value, sim_root: Option<&Cert>) -> Result<Evidence, KbsError> {
    match tee {
        "snp" => {
            let e = SnpEvidence::deserialize(primary).map_err(|e| bad("snp", e))?;
            let bytes = coco_evidence::snp::sev_json::to_report_bytes(&e.attestation_report)
                .map_err(|e| bad("snp attestation_report", e))?;
            let chain = e.cert_chain.unwrap_or_default();
            if chain.len() > MAX_CHAIN_CERTS + 1 {
                return Err(bad(
                    "snp cert_chain",
                    format!("{} certificates, more than a chain has", chain.len()),
                ));
            }
            let mut certs = Vec::new();
            for (i, c) in chain.iter().enumerate() {
                if !matches!(c.cert_type.as_str(), "VCEK" | "VLEK" | "ASK" | "ASVK") {
                    continue;
                }
                if c.data.len() > MAX_CERT_BYTES {
                    return Err(bad(&format!("snp cert_chain[{i}]"), "too large"));
                }
                let cert = Cert::from_der(&c.data)
                    .map_err(|err| bad(&format!("snp cert_chain[{i}] ({})", c.cert_type), err))?;
                // The endorsement key first, as the verifier reads it.
                if matches!(c.cert_type.as_str(), "VCEK" | "VLEK") {
                    certs.insert(0, cert);
                } else {
                    certs.push(cert);
                }
            }
            let platform = match certs.first() {
                Some(vek) if issued_by(vek, sim_root) => EvidencePlatform::SimSnp,
                _ => EvidencePlatform::Snp,
            };
            let mut ev = Evidence::new(platform, bytes);
            ev.certs = certs;
            Ok(ev)
        }
        "tdx" => {
            let e = TdxEvidence::deserialize(primary).map_err(|e| bad("tdx", e))?;
            Ok(Evidence::new(
                EvidencePlatform::Tdx,
                b64(&e.quote, "tdx quote")?,
            ))
        }
        "sample" => {
            let bytes = serde_json::to_vec(primary).map_err(|e| bad("sample", e))?;
            Ok(Evidence::new(EvidencePlatform::Sample, bytes))
        }
        other => Err(KbsError::Tee(other.to_string())),
    }
}

#[derive(Deserialize)]
struct Additional {
    #[serde(default)]
    nvidia: Option<NvidiaList>,
}

#[derive(Deserialize)]
struct NvidiaList {
    device_evidence_list: Vec<NvidiaDevice>,
}

/// The GPUs of `additional_evidence` (a JSON string; empty for none). Each device's report and
/// PEM chain; a chain the simulated root issued makes it a simulated GPU.
pub fn gpus(additional: &str, sim_root: Option<&Cert>) -> Result<Vec<Evidence>, KbsError> {
    if additional.trim().is_empty() {
        return Ok(Vec::new());
    }
    let a: Additional =
        serde_json::from_str(additional).map_err(|e| bad("additional_evidence", e))?;
    let Some(list) = a.nvidia else {
        return Ok(Vec::new());
    };
    if list.device_evidence_list.len() > coco_evidence::nvidia::MAX_GPUS {
        return Err(bad(
            "additional_evidence",
            format!(
                "{} GPUs, more than a machine carries ({})",
                list.device_evidence_list.len(),
                coco_evidence::nvidia::MAX_GPUS
            ),
        ));
    }
    list.device_evidence_list
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let what = format!("nvidia device_evidence_list[{i}]");
            let pem = b64(&d.certificate, &format!("{what}.certificate"))?;
            let blocks = pem.windows(10).filter(|w| w == b"-----BEGIN").count();
            if blocks > MAX_CHAIN_CERTS + 1 {
                return Err(bad(
                    &what,
                    format!("{blocks} certificates, more than a chain has"),
                ));
            }
            let certs = parse_certs(&pem).map_err(|e| bad(&format!("{what}.certificate"), e))?;
            let platform = match certs.first() {
                Some(leaf) if issued_by(leaf, sim_root) => EvidencePlatform::SimGpu,
                _ => EvidencePlatform::Nvidia,
            };
            let mut ev = Evidence::new(platform, b64(&d.evidence, &format!("{what}.evidence"))?);
            ev.certs = certs;
            Ok(ev)
        })
        .collect()
}
