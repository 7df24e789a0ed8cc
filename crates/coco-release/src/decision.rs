//! The decision: one function, used by every front end (the key-release service, `coco
//! appraise`, Python's `coco.appraise`, C's `coco_appraise_json`), that turns evidence into
//! an EAR and its findings.
//!
//! A [`Decider`] holds what is loaded once: reference values (from CoRIMs verified under the
//! trusted signer keys), the policy, the simulated root a demo may accept, and the cache of
//! verified certificate links. [`Decider::decide`] verifies every piece of evidence through the
//! one platform dispatch of `coco-evidence`, numbers the attesters (`cpu0`, ..., `gpu0`, ...),
//! sets the expected binding, appraises each attester and the bundle's composition, and
//! returns the [`Outcome`]. Where keys are released ([`Decider::for_release`]) the binding is
//! always checked and a policy that would turn binding or reference values off is refused.
//!
//! ```
//! use coco_core::{appraise::ReferenceValues, policy::Policy};
//! use coco_release::decision::Decider;
//! use coco_release::ReleaseError;
//!
//! let weak = Policy::from_toml("require_binding = false").unwrap();
//! let e = Decider::for_release(ReferenceValues::default(), weak, None).unwrap_err();
//! assert!(matches!(e, ReleaseError::UnsafePolicy { setting: "require_binding" }));
//! ```

use std::time::SystemTime;

use coco_core::appraise::{Attester, Context, Finding, ReferenceValues, appraise};
use coco_core::ear::{Ear, Status};
use coco_core::keys::PublicKey;
use coco_core::policy::Policy;
use coco_core::time::unix;
use coco_evidence::api::{Evidence, EvidencePlatform, Verifier};
use coco_evidence::x509::{Cert, LinkCache};

use crate::binding;
use crate::error::{ReleaseError, Result};

/// The binding a decision checks.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    /// Key release (DESIGN §1): every GPU report answers
    /// `gpu_nonce(challenge, public_key)` and the CPU report_data is
    /// `report_data(challenge, public_key, GPU reports...)`.
    KeyRelease {
        /// The service's challenge nonce.
        challenge: &'a [u8],
        /// The workload's encoded public key.
        public_key: &'a [u8],
    },
    /// The binding of another protocol (the KBS protocol, [`crate::kbs::binding`]): the CPU
    /// report data and every GPU report's nonce, as that protocol computes them from its
    /// session.
    Expected {
        /// The CPU report's REPORT_DATA.
        report_data: [u8; 64],
        /// Every GPU report's nonce.
        gpu_nonce: [u8; 32],
    },
    /// Offline appraisal: every GPU report answers this nonce; CPU report_data is not bound.
    GpuNonce([u8; 32]),
    /// Offline appraisal without a binding (refused where keys are released).
    None,
}

/// What a decision found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The EAR (sign it with [`Ear::to_jwt`]).
    pub ear: Ear,
    /// Every finding, named by submodule (`cpu0.debug`, `composition.gpu0`, ...).
    pub findings: Vec<Finding>,
    /// The attesters appraised, in submodule order of the bundle.
    pub attesters: Vec<Attester>,
}

impl Outcome {
    /// The overall status.
    pub fn status(&self) -> Status {
        self.ear.overall()
    }

    /// Whether the EAR is affirming or a warning (a key may be released).
    pub fn affirmed(&self) -> bool {
        matches!(self.status(), Status::Affirming | Status::Warning)
    }

    /// The refusal, when not affirmed.
    pub fn refusal(&self) -> Option<ReleaseError> {
        (!self.affirmed()).then(|| ReleaseError::Appraisal {
            status: self.status(),
            findings: self.findings.clone(),
        })
    }

    /// The JSON form front ends print: `{"status", "ear", "findings"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.status().name(),
            "ear": self.ear.to_json(),
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Where the decision is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Release,
    Offline,
}

/// Reference values, policy and verification settings, loaded once; see the module docs.
pub struct Decider {
    refs: ReferenceValues,
    policy: Policy,
    sim_root: Option<Cert>,
    chains: LinkCache,
    mode: Mode,
    accept_missing_revocation: bool,
    allow_trailing_data: bool,
    ocsp: Option<std::sync::Arc<dyn coco_evidence::ocsp::OcspSource>>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Decider({:?}, {} reference values, policy {})",
            self.mode,
            self.refs.len(),
            self.policy.id
        )
    }
}

/// Reads reference values from CoRIM bytes (signed ones must verify under one of `keys`, each
/// a JWK, SPKI PEM or DER) at `at`.
pub fn load_references(corims: &[&[u8]], keys: &[&[u8]], at: u64) -> Result<ReferenceValues> {
    let keys = keys
        .iter()
        .map(|k| PublicKey::parse(k))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ReleaseError::Config)?;
    ReferenceValues::from_cbor(corims, &keys, at).map_err(ReleaseError::Config)
}

/// Reads a TOML policy, or the strict default when `None`.
pub fn load_policy(toml: Option<&str>) -> Result<Policy> {
    toml.map_or_else(
        || Ok(Policy::default()),
        |t| Policy::from_toml(t).map_err(ReleaseError::Config),
    )
}

impl Decider {
    /// The decision of a key-release service. Refuses a policy that turns binding or reference
    /// values off ([`ReleaseError::UnsafePolicy`] naming the setting). `sim_root` is the
    /// simulated TEE accepted by demos; the policy must also allow simulation.
    pub fn for_release(
        refs: ReferenceValues,
        policy: Policy,
        sim_root: Option<Cert>,
    ) -> Result<Self> {
        if let Some(setting) = policy.release_blockers().first() {
            return Err(ReleaseError::UnsafePolicy { setting });
        }
        Ok(Self {
            refs,
            policy,
            sim_root,
            chains: LinkCache::new(),
            mode: Mode::Release,
            accept_missing_revocation: false,
            allow_trailing_data: false,
            ocsp: None,
        })
    }

    /// The decision of offline appraisal (`coco appraise`): any policy; binding as given.
    pub fn offline(refs: ReferenceValues, policy: Policy) -> Self {
        Self {
            refs,
            policy,
            sim_root: None,
            chains: LinkCache::new(),
            mode: Mode::Offline,
            accept_missing_revocation: false,
            allow_trailing_data: false,
            ocsp: None,
        }
    }

    /// Checks GPU device chains that come without OCSP responses with responses from `source`
    /// (e.g. [`crate::collateral::ocsp::OcspCache`]), so that real GPUs can satisfy a policy
    /// requiring revocation checks. A source that cannot answer is
    /// [`ReleaseError::Storage`] (the service cannot decide now); a revoked certificate is the
    /// evidence's failure.
    pub fn with_ocsp_source(
        mut self,
        source: std::sync::Arc<dyn coco_evidence::ocsp::OcspSource>,
    ) -> Self {
        self.ocsp = Some(source);
        self
    }

    /// Accepts evidence without revocation data at verification (offline only; the policy
    /// still decides per platform whether unchecked revocation is acceptable).
    pub fn accepting_missing_revocation(mut self, yes: bool) -> Self {
        self.accept_missing_revocation = yes && self.mode == Mode::Offline;
        self
    }

    /// Accepts unsigned trailing bytes after evidence structures (offline only).
    pub fn allowing_trailing_data(mut self, yes: bool) -> Self {
        self.allow_trailing_data = yes && self.mode == Mode::Offline;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The reference values.
    pub fn references(&self) -> &ReferenceValues {
        &self.refs
    }

    /// The simulated TEE's root this decision accepts, if any.
    pub fn sim_root(&self) -> Option<&Cert> {
        self.sim_root.as_ref()
    }

    /// How many verified certificate links are remembered.
    pub fn cached_links(&self) -> usize {
        self.chains.len()
    }

    fn verifier(&self, platform: EvidencePlatform, at: SystemTime) -> Verifier<'_> {
        let mut v = Verifier::at(at);
        v.cache = Some(&self.chains);
        v.ocsp_source = self.ocsp.as_deref();
        v.sim_root = self.sim_root.as_ref();
        v.allow_trailing_data = self.allow_trailing_data;
        // The unsigned sample attester only where simulated evidence is allowed at all (its
        // attester is simulated, so appraisal marks it too).
        v.accept_sample = self.policy.allow_simulated;
        // Missing revocation data is a verification error unless the policy waives
        // revocation for this platform; a CRL that is given is always checked.
        let platform = match platform {
            EvidencePlatform::Tdx => coco_core::claims::Platform::Tdx,
            EvidencePlatform::Nvidia | EvidencePlatform::SimGpu => {
                coco_core::claims::Platform::Nvidia
            }
            EvidencePlatform::Sample => coco_core::claims::Platform::Sample,
            _ => coco_core::claims::Platform::Snp,
        };
        v.accept_missing_revocation = self.accept_missing_revocation
            || !self.policy.require_revocation_check.requires(platform);
        v
    }

    /// Verifies every piece of `evidence` (CPU and GPU, in bundle order), binds, appraises and
    /// returns the outcome at `now` with `nonce` as the EAR's `eat_nonce`. A piece that does
    /// not verify is an error ([`ReleaseError::Evidence`] with its index); an appraisal that
    /// does not affirm is an [`Outcome`] whose [`Outcome::refusal`] says why.
    pub fn decide(
        &self,
        evidence: &[Evidence],
        binding: Binding<'_>,
        now: SystemTime,
        nonce: Option<String>,
    ) -> Result<Outcome> {
        self.decide_unless(evidence, binding, now, nonce, &Cancel::default())
    }

    /// [`Self::decide`], abandoned with [`ReleaseError::Cancelled`] before the next piece of
    /// evidence once `cancel` is set (the request it answers timed out).
    pub fn decide_unless(
        &self,
        evidence: &[Evidence],
        binding: Binding<'_>,
        now: SystemTime,
        nonce: Option<String>,
        cancel: &Cancel,
    ) -> Result<Outcome> {
        let n_gpu = evidence.iter().filter(|e| e.platform.is_gpu()).count();
        if n_gpu > coco_evidence::nvidia::MAX_GPUS || evidence.len() > n_gpu + 4 {
            return Err(ReleaseError::Request(format!(
                "{} pieces of evidence ({n_gpu} GPUs): more than one machine carries (at most {} GPUs)",
                evidence.len(),
                coco_evidence::nvidia::MAX_GPUS
            )));
        }
        let (gpu_nonce, report_data) = match binding {
            Binding::KeyRelease {
                challenge,
                public_key,
            } => (
                Some(binding::gpu_nonce(challenge, public_key)),
                Some(binding::report_data(
                    challenge,
                    public_key,
                    evidence
                        .iter()
                        .filter(|e| e.platform.is_gpu())
                        .map(|e| e.bytes.as_slice()),
                )),
            ),
            Binding::Expected {
                report_data,
                gpu_nonce,
            } => (Some(gpu_nonce), Some(report_data)),
            Binding::GpuNonce(n) if self.mode == Mode::Offline => (Some(n), None),
            _ if self.mode == Mode::Release => return Err(ReleaseError::BindingRequired),
            _ => (None, None),
        };
        let (mut cpus, mut gpus) = (0, 0);
        let mut attesters = Vec::new();
        for (index, e) in evidence.iter().enumerate() {
            cancel.check()?;
            let mut v = self.verifier(e.platform, now);
            v.gpu_nonce = gpu_nonce;
            let verified = v.verify(e).map_err(|source| match source.root() {
                coco_evidence::EvidenceError::Collateral(
                    coco_evidence::error::CollateralError::Unavailable { .. },
                ) => ReleaseError::Storage(format!("evidence {index}: {source}")),
                _ => ReleaseError::Evidence {
                    index,
                    platform: e.platform.name().to_string(),
                    source: Box::new(source),
                },
            })?;
            let (prefix, next) = if verified.is_gpu() {
                ("gpu", &mut gpus)
            } else {
                ("cpu", &mut cpus)
            };
            let list = verified.attesters(prefix, *next);
            *next += list.len();
            attesters.extend(list.into_iter().map(|a| {
                let expected = if a.platform().is_cpu() {
                    report_data.map(|r| r.to_vec())
                } else {
                    gpu_nonce.map(|n| n.to_vec())
                };
                match expected {
                    Some(x) => a.with_expected_binding(&x),
                    None => a,
                }
            }));
        }
        let ctx = Context {
            now: unix(now),
            nonce,
        };
        let (ear, findings) = appraise(&attesters, &self.refs, &self.policy, &ctx);
        Ok(Outcome {
            ear,
            findings,
            attesters,
        })
    }
}

/// Set when the request a decision answers is gone (timed out, disconnected): the decision
/// stops at its next step instead of verifying evidence nobody waits for, and a release not yet
/// audited does not happen. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// Sets the flag.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// [`ReleaseError::Cancelled`] once the flag is set.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(ReleaseError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A guard that sets the flag when dropped (held by the future that waits for the
    /// decision, so that dropping that future on a timeout cancels the decision).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Sets its [`Cancel`] when dropped.
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// What [`appraise_json`] appraises: evidence and endorsements as bytes and the options of
/// `coco evidence verify` (the C ABI's and Python's shape).
#[derive(Debug, Clone, Copy)]
pub struct AppraiseRequest<'a> {
    /// `(platform, bytes)` of each piece of evidence (`snp`, `azure-snp`, `tdx`, `nvidia`).
    pub evidence: &'a [(&'a str, &'a [u8])],
    /// CoRIM files' bytes (signed ones must verify under one of `corim_keys`).
    pub references: &'a [&'a [u8]],
    /// Trusted CoRIM signer keys (JWK, SPKI PEM or DER).
    pub corim_keys: &'a [&'a [u8]],
    /// The policy TOML (the strict default when `None`).
    pub policy_toml: Option<&'a str>,
    /// A PKCS#8 PEM key to sign the EAR with (the result then has `jwt`).
    pub sign_key_pem: Option<&'a str>,
    /// Options shared by every piece of evidence (`certs`, `collateral`, `crl`, `nonce`,
    /// `at`, `no_revocation_check`, `allow_trailing_data`).
    pub options: &'a coco_evidence::api::Options,
}

/// Offline appraisal of `(platform, bytes)` evidence with the endorsements and options of
/// `coco evidence verify` (`certs`, `collateral`, `crl`, `nonce` as the GPUs' expected nonce,
/// `at`, `no_revocation_check`, `allow_trailing_data`): the tail of `coco appraise`, Python's
/// `coco.appraise` and C's `coco_appraise_json`.
pub fn decide_offline(
    refs: ReferenceValues,
    policy: Policy,
    evidence: &[(&str, &[u8])],
    opts: &coco_evidence::api::Options,
) -> Result<Outcome> {
    let at = opts
        .time()
        .map_err(|e| ReleaseError::from_evidence(0, "at", e))?;
    let evidence = evidence
        .iter()
        .enumerate()
        .map(|(i, (p, b))| {
            opts.evidence(p, b.to_vec())
                .map_err(|e| ReleaseError::from_evidence(i, p, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let binding = match opts
        .gpu_nonce()
        .map_err(|e| ReleaseError::from_evidence(0, "nonce", e))?
    {
        Some(n) => Binding::GpuNonce(n),
        None => Binding::None,
    };
    Decider::offline(refs, policy)
        .accepting_missing_revocation(opts.no_revocation_check)
        .allowing_trailing_data(opts.allow_trailing_data)
        .decide(&evidence, binding, at, None)
}

/// The error object of [`appraise_json`]: [`ReleaseError::to_json`] with `kind` the most
/// specific kind (an evidence error's own kind, e.g. `chain` or `mismatch`, as
/// `coco evidence verify --json` reports it) and `class` the decision's kind (`evidence`).
pub fn error_json(e: &ReleaseError) -> serde_json::Value {
    let mut j = e.to_json();
    if let Some(cause) = e.cause_kind() {
        j["class"] = j["kind"].take();
        j["kind"] = cause.into();
    }
    j
}

/// Offline appraisal from bytes, for the C ABI and Python: loads reference values and policy,
/// decides through [`Decider::offline`] and returns `{"status", "ear", "findings", "jwt"?}`,
/// or the [`error_json`] of what went wrong.
pub fn appraise_json(
    req: &AppraiseRequest<'_>,
) -> std::result::Result<serde_json::Value, serde_json::Value> {
    let run = || -> Result<serde_json::Value> {
        let opts = req.options;
        let ev = |index: usize, platform: &str| {
            let platform = platform.to_string();
            move |e| ReleaseError::from_evidence(index, &platform, e)
        };
        let at = opts.time().map_err(ev(0, "at"))?;
        let refs = load_references(req.references, req.corim_keys, unix(at))?;
        let policy = load_policy(req.policy_toml)?;
        let key = req
            .sign_key_pem
            .map(coco_core::keys::SigningKey::from_pkcs8_pem)
            .transpose()
            .map_err(ReleaseError::Config)?;
        let outcome = decide_offline(refs, policy, req.evidence, opts)?;
        let mut out = outcome.to_json();
        if let Some(k) = &key {
            out["jwt"] = outcome.ear.to_jwt(k).into();
        }
        Ok(out)
    };
    run().map_err(|e| error_json(&e))
}
