//! coco as a KBS client: fetches a resource from a Key Broker Service (Trustee, or coco's own
//! `/kbs/v0`) the way the Confidential Containers guest client does: `auth`, `attest` with
//! evidence bound to the session (the KBS binding) and a fresh P-256 TEE key, then the resource
//! as a JWE opened with that key. Evidence comes from any [`Attester`] (configfs-tsm and NVML,
//! or the simulated TEE), converted to the KBS shapes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::SESSION_COOKIE;
use super::binding;
use super::session::MAX_TOKEN_LEN;
use super::wire::{
    Attestation, AttestationToken, Challenge, CompositeEvidence, PROTOCOL_VERSION, Request,
    RuntimeData,
};
use crate::error::{ReleaseError, Result};
use crate::jwe::{Curve, TeeKeyPair};
use crate::tls::ClientTls;
use crate::wire::{CpuEvidence, GpuEvidence};
use crate::workload::Attester;

/// The largest answer read from a KBS (a token, a JWE of a key).
const MAX_ANSWER: u64 = 1 << 20;

/// What a fetch returns.
#[derive(Debug)]
pub struct Fetched {
    /// The resource's plaintext (e.g. the model's data key), zeroized when dropped.
    pub resource: Zeroizing<Vec<u8>>,
    /// The attestation token the KBS issued (its EAR; not verified here).
    pub token: String,
}

/// The TEE of the machine this runs on, by its guest device: `tdx` (`/dev/tdx_guest`) or `snp`
/// (`/dev/sev-guest`).
pub fn detect_tee() -> Result<&'static str> {
    if std::path::Path::new("/dev/tdx_guest").exists() {
        Ok("tdx")
    } else if std::path::Path::new("/dev/sev-guest").exists() {
        Ok("snp")
    } else {
        Err(ReleaseError::Collect(
            "no TEE guest device (/dev/tdx_guest, /dev/sev-guest): not a confidential VM".into(),
        ))
    }
}

/// The Confidential Containers guest clients' sample attester (no TEE): evidence
/// `{"svn", "report_data"}`, as their attestation agent sends without hardware. For rehearsals
/// against a KBS whose policy accepts it (Trustee's sample verifier; coco with simulation
/// allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleAttester {
    /// The security version number to state (the guest client states 1).
    pub svn: u64,
}

impl Attester for SampleAttester {
    fn gpu_evidence(&self, _nonce: &[u8; 32]) -> Result<Vec<GpuEvidence>> {
        Ok(Vec::new())
    }

    fn cpu_evidence(&self, report_data: &[u8; 64]) -> Result<CpuEvidence> {
        let e = json!({"svn": self.svn.to_string(), "report_data": B64.encode(report_data)});
        Ok(CpuEvidence {
            platform: "sample".into(),
            evidence: e.to_string().into_bytes().into(),
            certs: None,
            collateral: None,
            crl: None,
        })
    }
}

/// The KBS `primary_evidence` of coco CPU evidence: SNP as the `sev` crate's JSON with the
/// certificates as `cert_chain` (`VCEK`/`VLEK` first, then `ASK`/`ASVK`), TDX as `{"quote"}`,
/// the sample attester's `{"svn", "report_data"}` with the report data cut to `digest_len`
/// bytes (the binding hash's length, unpadded, as the guest client sends it).
pub fn primary_evidence(cpu: &CpuEvidence, digest_len: usize) -> Result<Value> {
    let raw = cpu.evidence.as_bytes();
    match cpu.platform.as_str() {
        "sample" => {
            let s = coco_evidence::sample::parse(raw)
                .map_err(|e| ReleaseError::from_evidence(0, "sample", e))?;
            let rd = &s.claims.report_data[..digest_len.min(64)];
            Ok(json!({"svn": s.claims.svn.to_string(), "report_data": B64.encode(rd)}))
        }
        "tdx" => Ok(json!({"quote": B64.encode(raw)})),
        "snp" | "sim-snp" => {
            let head = raw
                .get(..coco_evidence::snp::abi::REPORT_LEN)
                .unwrap_or(raw);
            let report = coco_evidence::snp::Report::parse(head)
                .map_err(|e| ReleaseError::from_evidence(0, &cpu.platform, e))?;
            let vlek = report.signing_key == coco_evidence::snp::SigningKey::Vlek;
            let certs = match &cpu.certs {
                Some(pem) => coco_evidence::x509::parse_certs(pem.as_bytes())
                    .map_err(|e| ReleaseError::from_evidence(0, &cpu.platform, e))?,
                None => Vec::new(),
            };
            let chain: Vec<Value> = certs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let t = match (i, vlek) {
                        (0, false) => "VCEK",
                        (0, true) => "VLEK",
                        (_, false) => "ASK",
                        (_, true) => "ASVK",
                    };
                    json!({"cert_type": t, "data": c.der()})
                })
                .collect();
            Ok(json!({
                "attestation_report": coco_evidence::snp::sev_json::to_sev_json(&report),
                "cert_chain": chain,
            }))
        }
        other => Err(ReleaseError::Request(format!(
            "cpu evidence of platform {other:?} has no KBS shape here (snp or tdx)"
        ))),
    }
}

/// The KBS `additional_evidence` string of coco GPU evidence (empty without GPUs).
pub fn additional_evidence(gpus: &[GpuEvidence]) -> String {
    if gpus.is_empty() {
        return String::new();
    }
    let list: Vec<Value> = gpus
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({
                "arch": "HOPPER",
                "uuid": format!("GPU-{i}"),
                "evidence": g.evidence,
                "certificate": B64.encode(g.certs.as_deref().unwrap_or("")),
            })
        })
        .collect();
    json!({"nvidia": {"device_evidence_list": list}}).to_string()
}

/// A blocking client of a Key Broker Service.
#[derive(Debug, Clone)]
pub struct KbsClient {
    base: String,
    agent: ureq::Agent,
}

/// The `kbs-session-id` of a response's `Set-Cookie` headers.
fn session_cookie<B>(r: &ureq::http::Response<B>) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() <= MAX_TOKEN_LEN)
}

impl KbsClient {
    /// A client of the KBS at `base` (e.g. `https://kbs.example:8080`) with these TLS settings
    /// (plain HTTP only to loopback unless allowed).
    pub fn new(base: &str, tls: &ClientTls) -> Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            agent: crate::http::agent(base, tls)?,
        })
    }

    fn transport(&self, path: &str, e: impl std::fmt::Display) -> ReleaseError {
        ReleaseError::Transport(format!("{}{path}: {e}", self.base))
    }

    /// A non-200 answer as the KBS's problem: [`ReleaseError::Refused`] with `kind` the problem
    /// type's last segment (`PolicyDeny`, `AttestationError`, ...).
    fn refused(&self, path: &str, mut r: ureq::http::Response<ureq::Body>) -> ReleaseError {
        let status = r.status().as_u16();
        let v: Value = r
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_json()
            .unwrap_or(Value::Null);
        match v.get("type").and_then(Value::as_str) {
            Some(t) => {
                let kind = t.rsplit('/').next().unwrap_or(t).to_string();
                let message = format!(
                    "{} (HTTP {status} from {}{path})",
                    v["detail"].as_str().unwrap_or(""),
                    self.base
                );
                let detail = json!({
                    "kind": kind,
                    "message": message,
                    "http_status": status,
                    "type": t,
                    "url": format!("{}{path}", self.base),
                });
                ReleaseError::Refused {
                    kind,
                    message,
                    detail: Box::new(detail),
                }
            }
            None => self.transport(path, format!("HTTP status {status}")),
        }
    }

    /// The JSON of a 200 answer, at most [`MAX_ANSWER`] bytes.
    fn answer<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        r: &mut ureq::http::Response<ureq::Body>,
    ) -> Result<T> {
        r.body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_json()
            .map_err(|e| self.transport(path, e))
    }

    fn post(
        &self,
        path: &str,
        body: &Value,
        cookie: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(c) = cookie {
            req = req.header("cookie", format!("{SESSION_COOKIE}={c}"));
        }
        req.send(body.to_string().as_bytes())
            .map_err(|e| self.transport(path, e))
    }

    /// Fetches `resource` (`<repository>/<type>/<tag>`) with evidence from `attester` for
    /// `tee` (`snp` or `tdx`).
    pub fn get_resource(
        &self,
        attester: &dyn Attester,
        tee: &str,
        resource: &str,
    ) -> Result<Fetched> {
        // auth
        let path = "/kbs/v0/auth";
        let req = Request {
            version: PROTOCOL_VERSION.into(),
            tee: tee.into(),
            extra_params: json!({"supported-hash-algorithms": ["sha256", "sha384", "sha512"]}),
        };
        let mut r = self.post(path, &serde_json::to_value(&req).expect("serialises"), None)?;
        if r.status() != 200 {
            return Err(self.refused(path, r));
        }
        let cookie = session_cookie(&r)
            .ok_or_else(|| self.transport(path, "no kbs-session-id cookie in the answer"))?;
        let challenge: Challenge = self.answer(path, &mut r)?;
        let hash = match challenge
            .extra_params
            .get("selected-hash-algorithm")
            .and_then(Value::as_str)
        {
            Some(name) => binding::hash_by_name(name).ok_or_else(|| {
                self.transport(
                    path,
                    format!("selected-hash-algorithm {name:?} is not offered"),
                )
            })?,
            None => coco_core::initdata::Algorithm::Sha384,
        };

        // attest: a fresh TEE key, evidence bound to it and to the nonce
        let key = TeeKeyPair::generate(Curve::P256)?;
        let jwk = key.public_jwk();
        let gpus = attester
            .gpu_evidence(&binding::gpu_nonce(hash, &challenge.nonce, &jwk).map_err(kbs_err)?)?;
        let additional = additional_evidence(&gpus);
        let report_data =
            binding::report_data(hash, &challenge.nonce, &jwk, &additional).map_err(kbs_err)?;
        let cpu = attester.cpu_evidence(&report_data)?;
        let att = Attestation {
            init_data: None,
            runtime_data: RuntimeData {
                nonce: challenge.nonce.clone(),
                tee_pubkey: jwk,
            },
            tee_evidence: CompositeEvidence {
                primary_evidence: primary_evidence(&cpu, hash.digest(b"").len())?,
                additional_evidence: additional,
            },
        };
        let path = "/kbs/v0/attest";
        let mut r = self.post(
            path,
            &serde_json::to_value(&att).expect("serialises"),
            Some(&cookie),
        )?;
        if r.status() != 200 {
            return Err(self.refused(path, r));
        }
        // A KBS may renew the cookie when the session attested (coco does; Trustee keeps it).
        let cookie = session_cookie(&r).unwrap_or(cookie);
        let token: AttestationToken = self.answer(path, &mut r)?;

        // resource
        let path = format!("/kbs/v0/resource/{resource}");
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
            .call()
            .map_err(|e| self.transport(&path, e))?;
        if r.status() != 200 {
            return Err(self.refused(&path, r));
        }
        let jwe: Value = self.answer(&path, &mut r)?;
        Ok(Fetched {
            resource: key.decrypt(&jwe)?,
            token: token.token,
        })
    }
}

fn kbs_err(e: super::KbsError) -> ReleaseError {
    ReleaseError::Request(e.to_string())
}
