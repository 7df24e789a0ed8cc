//! The key-release service: challenge, then verify + bind + appraise + wrap.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coco_core::appraise::ReferenceValues;
use coco_core::ear::Status;
use coco_core::keys::{PublicKey, SigningKey};
use coco_core::policy::Policy;
use coco_core::time::unix;
use coco_evidence::api::{Evidence, EvidencePlatform};
use coco_evidence::tdx;
use coco_evidence::x509::{Cert, parse_certs};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::binding;
use crate::challenge::{ChallengeIssuer, MemoryReplayStore, ReplayStore};
use crate::decision::{Binding, Cancel, Decider};
use crate::error::{ReleaseError, Result};
use crate::keystore::KeyStore;
use crate::wire::{
    Challenge, CpuEvidence, EvidenceBundle, GpuEvidence, ReleaseResponse, WrappedKey,
};
use crate::wrap;

/// How the service decides.
pub struct ServiceConfig {
    /// Reference values (from verified CoRIMs).
    pub references: ReferenceValues,
    /// The appraisal policy.
    pub policy: Policy,
    /// The root of a simulated TEE to accept. `None` (the default) refuses simulated evidence
    /// outright; the policy must also allow simulation.
    pub sim_root: Option<Cert>,
    /// How long a challenge stays valid (seconds).
    pub challenge_ttl_secs: u64,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServiceConfig({} reference values, policy {})",
            self.references.len(),
            self.policy.id
        )
    }
}

/// A refusal, with the EAR when the evidence got as far as appraisal.
#[derive(Debug)]
pub struct Rejection {
    /// Why.
    pub error: ReleaseError,
    /// The EAR (JWT) of the appraisal that refused, if any.
    pub ear: Option<String>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl From<ReleaseError> for Rejection {
    fn from(error: ReleaseError) -> Self {
        Self { error, ear: None }
    }
}

/// Told of every decision and refusal (e.g. Prometheus metrics).
pub trait Observer: Send + Sync {
    /// A key was released after `secs` seconds of decision (coco's protocol), or of handling
    /// the resource request of an attested KBS session.
    fn released(&self, secs: f64);
    /// A KBS attestation was verified and appraised after `secs` seconds (its session may then
    /// fetch resources: each release is told to [`Self::released`]).
    fn attested(&self, secs: f64);
    /// A request was refused, with the refusal's kind, after `secs` seconds (0 for refusals
    /// before the decision).
    fn refused(&self, kind: &str, secs: f64);
}

/// The sizes of the service's bounded state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Verified certificate links remembered.
    pub cached_links: usize,
    /// Used challenges remembered, when the replay store knows.
    pub replay_entries: Option<usize>,
}

/// The service. `Sync`: one instance serves concurrent requests.
pub struct KeyReleaseService {
    pub(crate) issuer: ChallengeIssuer,
    pub(crate) replay: Box<dyn ReplayStore>,
    pub(crate) keys: Box<dyn KeyStore>,
    pub(crate) ear_key: SigningKey,
    /// The one decision (verification, binding, appraisal); it also holds the certificate
    /// links of evidence chains already verified, so the same hardware's next release skips
    /// them.
    pub(crate) decider: Decider,
    audit: Mutex<Box<dyn Write + Send>>,
    audit_ok: std::sync::atomic::AtomicBool,
    pub(crate) observer: std::sync::OnceLock<std::sync::Arc<dyn Observer>>,
    /// TDX collateral the service holds: when set, every TDX quote is verified against it and
    /// never against collateral a client sent (which could be an older, still valid one).
    pub(crate) tdx_collateral: Option<tdx::RawCollateral>,
    /// Collateral fetched per platform and refreshed (takes precedence over the static one).
    tdx_cache: Option<std::sync::Arc<crate::collateral::cache::TdxCache>>,
    /// SNP endorsements fetched from KDS for evidence sent without them.
    snp_endorsements: Option<std::sync::Arc<crate::collateral::kds::SnpEndorsements>>,
}

impl std::fmt::Debug for KeyReleaseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyReleaseService({:?})", self.decider)
    }
}

impl KeyReleaseService {
    /// A service over `keys`, signing EARs with `ear_key`, with an in-memory replay store and a
    /// random challenge secret. Audit lines go to stderr until [`Self::with_audit`]. A policy
    /// that turns binding or reference values off is refused
    /// ([`ReleaseError::UnsafePolicy`]).
    pub fn new(
        keys: Box<dyn KeyStore>,
        ear_key: SigningKey,
        config: ServiceConfig,
    ) -> Result<Self> {
        Ok(Self {
            issuer: ChallengeIssuer::generate(config.challenge_ttl_secs)?,
            replay: Box::new(MemoryReplayStore::default()),
            keys,
            ear_key,
            decider: Decider::for_release(config.references, config.policy, config.sim_root)?,
            audit: Mutex::new(Box::new(std::io::stderr())),
            audit_ok: std::sync::atomic::AtomicBool::new(true),
            observer: std::sync::OnceLock::new(),
            tdx_collateral: None,
            tdx_cache: None,
            snp_endorsements: None,
        })
    }

    /// Completes SNP evidence sent without its VCEK, ASK or CRL from AMD's KDS (the evidence is
    /// verified against the pinned ARK as always; with the CRL, revocation is checked).
    pub fn with_snp_endorsements(
        mut self,
        e: std::sync::Arc<crate::collateral::kds::SnpEndorsements>,
    ) -> Self {
        self.snp_endorsements = Some(e);
        self
    }

    /// The service's own endorsements of CPU `evidence`, for both protocols: SNP evidence is
    /// completed from KDS ([`Self::complete_snp`]), and a TDX quote gets the collateral the
    /// service holds ([`Self::service_tdx_collateral`]) in place of any the client sent.
    pub(crate) fn endorse_cpu(&self, evidence: &mut Evidence, now: SystemTime) -> Result<()> {
        self.complete_snp(evidence, now)?;
        if evidence.platform == EvidencePlatform::Tdx
            && let Some(c) = self.service_tdx_collateral(&evidence.bytes, now)?
        {
            evidence.collateral = Some(c);
        }
        Ok(())
    }

    /// Completes SNP `evidence` from KDS when the service fetches endorsements (a no-op
    /// otherwise). KDS knowing nothing of the chip is the evidence's failure; KDS unreachable is
    /// [`ReleaseError::Storage`] (the service cannot decide now).
    fn complete_snp(&self, evidence: &mut Evidence, now: SystemTime) -> Result<()> {
        use crate::collateral::pcs::FetchError;
        let Some(e) = &self.snp_endorsements else {
            return Ok(());
        };
        if evidence.platform != EvidencePlatform::Snp {
            return Ok(());
        }
        e.complete(evidence, now).map_err(|err| match err {
            FetchError::Status {
                status: 404 | 410, ..
            }
            | FetchError::Verify(_) => ReleaseError::Evidence {
                index: 0,
                platform: "snp".into(),
                source: Box::new(coco_evidence::EvidenceError::Certificate {
                    cert: "VCEK".into(),
                    reason: format!("not obtainable from AMD KDS: {err}"),
                }),
            },
            other => ReleaseError::Storage(format!("SNP endorsements: {other}")),
        })
    }

    /// Checks GPU device chains with OCSP answers from `source` (NVIDIA's responder through
    /// [`crate::collateral::ocsp::OcspCache`]), for both protocols; see
    /// [`Decider::with_ocsp_source`].
    pub fn with_gpu_ocsp(
        mut self,
        source: std::sync::Arc<dyn coco_evidence::ocsp::OcspSource>,
    ) -> Self {
        self.decider = self.decider.with_ocsp_source(source);
        self
    }

    /// Verifies every TDX quote against collateral from `cache` (fetched from the PCS for the
    /// quote's platform, refreshed before it expires, never used past its validity), ignoring
    /// collateral a client sends.
    pub fn with_tdx_collateral_cache(
        mut self,
        cache: std::sync::Arc<crate::collateral::cache::TdxCache>,
    ) -> Self {
        self.tdx_cache = Some(cache);
        self
    }

    /// The TDX collateral cache, when the service has one (its PCCS-compatible endpoints
    /// serve from it).
    pub fn tdx_collateral_cache(
        &self,
    ) -> Option<&std::sync::Arc<crate::collateral::cache::TdxCache>> {
        self.tdx_cache.as_ref()
    }

    /// The collateral the service verifies TDX `quote` against at `now`: from its cache, else
    /// its static collateral; `None` when it holds neither (coco's protocol then uses the
    /// client's). A PCS that cannot be reached, with nothing valid cached, is
    /// [`ReleaseError::Storage`] (503: the service cannot decide now).
    fn service_tdx_collateral(
        &self,
        quote: &[u8],
        now: SystemTime,
    ) -> Result<Option<tdx::RawCollateral>> {
        use crate::collateral::pcs::{FetchError, quote_ids};
        match &self.tdx_cache {
            Some(cache) => {
                let ids = quote_ids(quote).map_err(|e| match e {
                    FetchError::Quote(source) => ReleaseError::Evidence {
                        index: 0,
                        platform: "tdx".into(),
                        source: Box::new(source),
                    },
                    other => ReleaseError::Storage(other.to_string()),
                })?;
                cache
                    .get(&ids, now)
                    .map(Some)
                    .map_err(|e| ReleaseError::Storage(format!("TDX collateral: {e}")))
            }
            None => Ok(self.tdx_collateral.clone()),
        }
    }

    /// Verifies every TDX quote against `collateral` (e.g. fetched from Intel PCS by the
    /// operator), ignoring collateral a client sends; the KBS protocol, whose clients send
    /// none, needs it for TDX.
    pub fn with_tdx_collateral(mut self, collateral: tdx::RawCollateral) -> Self {
        self.tdx_collateral = Some(collateral);
        self
    }

    /// The service's TDX collateral, if it holds some.
    pub fn tdx_collateral(&self) -> Option<&tdx::RawCollateral> {
        self.tdx_collateral.as_ref()
    }

    /// Uses `issuer` (e.g. with a secret shared by replicas) and `replay` (shared storage).
    pub fn with_challenges(
        mut self,
        issuer: ChallengeIssuer,
        replay: Box<dyn ReplayStore>,
    ) -> Self {
        self.issuer = issuer;
        self.replay = replay;
        self
    }

    /// Writes one JSON audit line per decision (and per refusal before one) to `sink`, each
    /// flushed before the answer: a release whose line cannot be written does not happen.
    pub fn with_audit(mut self, sink: Box<dyn Write + Send>) -> Self {
        self.audit = Mutex::new(sink);
        self
    }

    /// The key EARs are signed with (for clients that check the EAR).
    pub fn ear_public_key(&self) -> PublicKey {
        self.ear_key.public()
    }

    /// How long a challenge (and a KBS session before attestation) stays valid, in seconds.
    pub fn challenge_ttl_secs(&self) -> u64 {
        self.issuer.ttl_secs()
    }

    /// A fresh challenge.
    pub fn challenge(&self, now: SystemTime) -> Result<Challenge> {
        self.issuer.issue(unix(now))
    }

    /// Writes one audit line and flushes it; an error when either fails.
    pub(crate) fn audit(&self, line: serde_json::Value) -> Result<()> {
        // One write of the whole line (not one per JSON token), then the flush, under the lock.
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| ReleaseError::Audit(e.to_string()))?;
        bytes.push(b'\n');
        let mut sink = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let r = sink.write_all(&bytes).and_then(|_| sink.flush());
        self.audit_ok
            .store(r.is_ok(), std::sync::atomic::Ordering::Relaxed);
        r.map_err(|e| ReleaseError::Audit(e.to_string()))
    }

    /// Reports every decision and refusal to `observer` from now on (once; later calls are
    /// ignored).
    pub fn observe(&self, observer: std::sync::Arc<dyn Observer>) {
        let _ = self.observer.set(observer);
    }

    /// Whether the service can release keys: its last audit write succeeded (a replica whose
    /// audit log is broken reports not ready, so that a load balancer drains it).
    pub fn ready(&self) -> bool {
        self.audit_ok.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The sizes of the bounded state (for metrics).
    pub fn sizes(&self) -> Sizes {
        Sizes {
            cached_links: self.decider.cached_links(),
            replay_entries: self.replay.entries(),
        }
    }

    /// Audits a refusal made before the decision (a malformed or oversized request, a
    /// timeout, a connection over the caps): `status` is the HTTP status (0 when the
    /// connection was closed without one). A refusal stays a refusal when its audit record
    /// cannot be written.
    pub fn audit_refusal(&self, peer: Option<SocketAddr>, status: u16, kind: &str, reason: &str) {
        if let Some(o) = self.observer.get() {
            o.refused(kind, 0.0);
        }
        let _ = self.audit(json!({
            "time": coco_core::time::format_rfc3339(unix(SystemTime::now())),
            "event": "refusal",
            "peer": peer.map(|p| p.to_string()),
            "status": status,
            "kind": kind,
            "reason": reason,
        }));
    }

    /// Verifies, binds, appraises and, when affirming, wraps the key. Every decision is
    /// audited (never with key material); a release whose audit record cannot be written and
    /// flushed does not happen ([`ReleaseError::Audit`]).
    pub fn release(
        &self,
        bundle: &EvidenceBundle,
        now: SystemTime,
    ) -> std::result::Result<ReleaseResponse, Rejection> {
        self.release_from(bundle, now, None)
    }

    /// [`Self::release`] for a request from `peer` (recorded in the audit line).
    pub fn release_from(
        &self,
        bundle: &EvidenceBundle,
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> std::result::Result<ReleaseResponse, Rejection> {
        self.release_unless(bundle, now, peer, &Cancel::default())
    }

    /// [`Self::release_from`], abandoned ([`ReleaseError::Cancelled`], audited as a refusal)
    /// once `cancel` is set: before each piece of evidence, before the challenge is spent and
    /// before the release is audited. The HTTP front end cancels when a request times out.
    pub fn release_unless(
        &self,
        bundle: &EvidenceBundle,
        now: SystemTime,
        peer: Option<SocketAddr>,
        cancel: &Cancel,
    ) -> std::result::Result<ReleaseResponse, Rejection> {
        let started = unix(now);
        let result = self
            .decide(bundle, now, cancel)
            .and_then(|r| cancel.check().map(|()| r).map_err(Rejection::from));
        let (decision, reason, status) = match &result {
            Ok((_, s)) => ("release", String::new(), s.name()),
            Err(r) => (
                "refuse",
                r.error.message(),
                r.ear.as_ref().map_or("none", |_| "contraindicated"),
            ),
        };
        let audited = self.audit(json!({
            "time": coco_core::time::format_rfc3339(started),
            "event": "key-release",
            "peer": peer.map(|p| p.to_string()),
            "decision": decision,
            "key_id": bundle.key_id,
            "cpu": bundle.cpu.platform,
            "gpus": bundle.gpus.len(),
            "ear_status": status,
            "reason": reason,
            "kind": result.as_ref().err().map(|r| r.error.kind()),
        }));
        let outcome = match (result, audited) {
            (Ok((r, _)), Ok(())) => Ok(r),
            // Fail closed: the wrapped key is dropped unsent.
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(r), _) => Err(r),
        };
        if let Some(o) = self.observer.get() {
            let secs = SystemTime::now()
                .duration_since(now)
                .map_or(0.0, |d| d.as_secs_f64());
            match &outcome {
                Ok(_) => o.released(secs),
                Err(r) => o.refused(r.error.kind(), secs),
            }
        }
        outcome
    }

    fn decide(
        &self,
        bundle: &EvidenceBundle,
        now: SystemTime,
        cancel: &Cancel,
    ) -> std::result::Result<(ReleaseResponse, Status), Rejection> {
        let t = unix(now);
        if bundle.version != 1 {
            return Err(ReleaseError::Request(format!(
                "version {} (this service speaks 1)",
                bundle.version
            ))
            .into());
        }
        if bundle.key_id.is_empty() || bundle.key_id.len() > 256 {
            return Err(ReleaseError::Request("key_id must be 1..=256 bytes".into()).into());
        }
        let (challenge, expires_at) = self.issuer.verify(&bundle.token, t)?;
        let pk = bundle.public_key.as_bytes();
        wrap::check_public_key(bundle.kem, pk)?;
        if self.replay.is_used(&challenge) {
            return Err(ReleaseError::Challenge(crate::error::ChallengeError::Replayed).into());
        }

        let mut cpu = cpu_evidence(&bundle.cpu)?;
        self.endorse_cpu(&mut cpu, now)?;
        let mut evidence = vec![cpu];
        for (i, g) in bundle.gpus.iter().enumerate() {
            evidence.push(gpu_evidence(g, i)?);
        }
        let outcome = self.decider.decide_unless(
            &evidence,
            Binding::KeyRelease {
                challenge: &challenge,
                public_key: pk,
            },
            now,
            Some(hex::encode(Sha256::digest(challenge))),
            cancel,
        )?;
        cancel.check()?;
        // Single use, spent once the evidence verified (garbage does not burn a challenge that
        // someone else saw), whatever the appraisal says.
        if !self.replay.first_use(&challenge, expires_at, t)? {
            return Err(ReleaseError::Challenge(crate::error::ChallengeError::Replayed).into());
        }
        let jwt = outcome.ear.to_jwt(&self.ear_key);
        if let Some(error) = outcome.refusal() {
            return Err(Rejection {
                error,
                ear: Some(jwt),
            });
        }
        let status = outcome.status();
        let dek = self
            .keys
            .get(&bundle.key_id)?
            .ok_or_else(|| ReleaseError::Key(format!("no key {:?}", bundle.key_id)))?;
        let info = binding::wrap_info(&bundle.key_id, &jwt);
        let w = wrap::wrap(
            bundle.kem,
            pk,
            dek.as_bytes(),
            &info,
            bundle.key_id.as_bytes(),
        )?;
        Ok((
            ReleaseResponse {
                version: 1,
                ear: jwt,
                wrapped_key: WrappedKey {
                    kem: w.kem,
                    enc: w.enc.into(),
                    ciphertext: w.ciphertext.into(),
                },
            },
            status,
        ))
    }
}

/// The certificates of one piece of evidence; more PEM blocks than a chain may have are refused
/// before any is parsed.
fn certs(pem: &Option<String>, what: &str) -> Result<Vec<Cert>> {
    match pem {
        Some(p) => {
            let blocks = p.matches("-----BEGIN").count();
            if blocks > coco_evidence::x509::MAX_CHAIN_CERTS + 1 {
                return Err(ReleaseError::Request(format!(
                    "{what}: {blocks} certificates, more than a chain may have ({})",
                    coco_evidence::x509::MAX_CHAIN_CERTS
                )));
            }
            parse_certs(p.as_bytes()).map_err(|e| ReleaseError::Request(format!("{what}: {e}")))
        }
        None => Ok(Vec::new()),
    }
}

/// The bundle's CPU evidence, decoded (nothing is verified here).
fn cpu_evidence(cpu: &CpuEvidence) -> Result<Evidence> {
    let platform = match cpu.platform.as_str() {
        "snp" => EvidencePlatform::Snp,
        "tdx" => EvidencePlatform::Tdx,
        "sim-snp" => EvidencePlatform::SimSnp,
        other => {
            return Err(ReleaseError::Request(format!(
                "cpu.platform {other:?}: snp, tdx or sim-snp"
            )));
        }
    };
    let mut e = Evidence::new(platform, cpu.evidence.0.clone());
    e.certs = certs(&cpu.certs, "cpu.certs")?;
    if let Some(crl) = &cpu.crl {
        e.crl = Some(
            coco_evidence::x509::Crl::from_der(crl)
                .map_err(|err| ReleaseError::Request(format!("cpu.crl: {err}")))?,
        );
    }
    if let Some(c) = &cpu.collateral {
        e.collateral = Some(c.to_raw());
    }
    Ok(e)
}

/// GPU `i` of the bundle, decoded.
fn gpu_evidence(g: &GpuEvidence, i: usize) -> Result<Evidence> {
    let platform = match g.platform.as_str() {
        "nvidia" => EvidencePlatform::Nvidia,
        "sim-gpu" => EvidencePlatform::SimGpu,
        other => {
            return Err(ReleaseError::Request(format!(
                "gpus[{i}].platform {other:?}: nvidia or sim-gpu"
            )));
        }
    };
    let mut e = Evidence::new(platform, g.evidence.0.clone());
    e.certs = certs(&g.certs, &format!("gpus[{i}].certs"))?;
    Ok(e)
}

/// Seconds as a `SystemTime` (helper for callers with Unix times).
pub fn at(unix_secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_secs)
}
