//! The three KBS operations on a [`KeyReleaseService`]: `auth`, `attest`, `resource`. The HTTP
//! front end only moves bytes and cookies; everything decided is decided here, audited, and
//! refused with a typed [`KbsError`].

use std::net::SocketAddr;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coco_core::appraise::Finding;
use coco_core::claims::Claims;
use coco_core::initdata::{Field, InitData};
use coco_core::time::{format_rfc3339, unix};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::KbsError;
use super::session::{Session, SessionKey, Step};
use super::wire::{Attestation, AttestationToken, Challenge, PROTOCOL_VERSION, Request};
use super::{binding, evidence};
use crate::decision::{Binding, Cancel};
use crate::error::{ChallengeError, ReleaseError};
use crate::jwe::{self, TeeKey};
use crate::service::KeyReleaseService;

/// How a resource request proves its session.
enum Credential<'a> {
    /// The `kbs-session-id` cookie (or none).
    Cookie(Option<&'a str>),
    /// `Authorization: Bearer` with the attestation token.
    Bearer(&'a str),
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kbs-session-id";

/// How long an attested session may fetch resources (seconds); also the EAR's lifetime.
pub const ATTESTED_SESSION_SECS: u64 = 300;

/// The TEEs whose evidence this service appraises.
const TEES: &[&str] = &["snp", "tdx", "sample"];

/// The longest segment of a resource path.
const MAX_SEGMENT: usize = 128;

/// A resource path `<repository>/<type>/<tag>` (the key id), or why not. One leading `/` is
/// dropped: guest-components' `trustee-attester --path repo/type/tag` asks for
/// `/kbs/v0/resource//repo/type/tag` (its `ResourceUri` keeps the path's leading slash).
pub fn resource_id(path: &str) -> Result<&str, KbsError> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let ok = segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.len() <= MAX_SEGMENT
                && *s != "."
                && *s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(path)
    } else {
        Err(KbsError::InvalidRequestPath(
            path.chars().take(300).collect(),
        ))
    }
}

impl KeyReleaseService {
    fn kbs_sessions(&self) -> SessionKey {
        SessionKey::new(self.issuer.derive(b"kbs/v0/session"))
    }

    fn kbs_session(&self, token: Option<&str>, now: u64, step: Step) -> Result<Session, KbsError> {
        let token = token.ok_or(KbsError::NoSession)?;
        let s = self
            .kbs_sessions()
            .open(token, now)
            .map_err(KbsError::Session)?;
        match (s.step, step) {
            (a, b) if a == b => Ok(s),
            (Step::Auth, _) => Err(KbsError::Step(
                "the session has not attested: POST /kbs/v0/attest first",
            )),
            (Step::Attested, _) => Err(KbsError::Step(
                "the session attested already: start a new one with /kbs/v0/auth",
            )),
        }
    }

    /// Audits a refused KBS request and tells the observer; the refusal stands whether or not
    /// its record could be written.
    fn kbs_refused(&self, event: &str, peer: Option<SocketAddr>, e: &KbsError) {
        if let Some(o) = self.observer.get() {
            o.refused(e.error_type(), 0.0);
        }
        let _ = self.audit(json!({
            "time": format_rfc3339(unix(SystemTime::now())),
            "event": event,
            "protocol": "kbs",
            "peer": peer.map(|p| p.to_string()),
            "decision": "refuse",
            "status": e.status(),
            "kind": e.error_type(),
            "reason": e.to_string(),
        }));
    }

    /// `POST /kbs/v0/auth`: a fresh nonce and the session token (the `kbs-session-id`
    /// cookie's value), valid for the challenge lifetime.
    pub fn kbs_auth(
        &self,
        body: &[u8],
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> Result<(Challenge, String), KbsError> {
        let r = self.kbs_auth_inner(body, now);
        if let Err(e) = &r {
            self.kbs_refused("kbs-auth", peer, e);
        }
        r
    }

    fn kbs_auth_inner(
        &self,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(Challenge, String), KbsError> {
        let req: Request = serde_json::from_slice(body)
            .map_err(|e| KbsError::Request(format!("not an auth request: {e}")))?;
        if req.version != PROTOCOL_VERSION {
            return Err(KbsError::Version(req.version.chars().take(64).collect()));
        }
        if !TEES.contains(&req.tee.as_str()) {
            return Err(KbsError::Tee(req.tee.chars().take(64).collect()));
        }
        let hash = binding::select_hash(&req.extra_params)?;
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(|e| {
            KbsError::Unavailable(ReleaseError::Storage(format!("no randomness: {e}")))
        })?;
        let nonce = B64.encode(nonce);
        let session = Session {
            step: Step::Auth,
            nonce: nonce.clone(),
            tee: req.tee,
            hash: hash.name().to_string(),
            exp: unix(now) + self.issuer.ttl_secs(),
            tee_pubkey: None,
            status: None,
            affirmed: false,
        };
        Ok((
            Challenge {
                nonce,
                extra_params: json!({"selected-hash-algorithm": hash.name()}),
            },
            self.kbs_sessions().seal(&session),
        ))
    }

    /// `POST /kbs/v0/attest`: verifies the evidence, checks its binding to the session (and
    /// its init-data), appraises it through the service's decision and spends the nonce.
    /// Returns the EAR token and the attested session's token. Evidence that does not verify
    /// or is not bound is [`KbsError::Attestation`]; an appraisal that does not affirm still
    /// answers (the EAR says why) and its session is refused resources
    /// ([`KbsError::PolicyDeny`]), as Trustee does. Audited, fail closed.
    pub fn kbs_attest(
        &self,
        token: Option<&str>,
        body: &[u8],
        now: SystemTime,
        peer: Option<SocketAddr>,
        cancel: &Cancel,
    ) -> Result<(AttestationToken, String), KbsError> {
        let started = SystemTime::now();
        let r = self.kbs_attest_inner(token, body, now, peer, cancel);
        if let Err(e) = &r {
            self.kbs_refused("kbs-attest", peer, e);
        } else if let Some(o) = self.observer.get() {
            o.attested(started.elapsed().map_or(0.0, |d| d.as_secs_f64()));
        }
        r
    }

    fn kbs_attest_inner(
        &self,
        token: Option<&str>,
        body: &[u8],
        now: SystemTime,
        peer: Option<SocketAddr>,
        cancel: &Cancel,
    ) -> Result<(AttestationToken, String), KbsError> {
        let t = unix(now);
        let session = self.kbs_session(token, t, Step::Auth)?;
        let att: Attestation = serde_json::from_slice(body)
            .map_err(|e| KbsError::Request(format!("not an attestation: {e}")))?;
        let rd = &att.runtime_data;
        if !bool::from(rd.nonce.as_bytes().ct_eq(session.nonce.as_bytes())) {
            return Err(KbsError::Attestation(ReleaseError::Request(
                "runtime-data.nonce is not the nonce of this session".into(),
            )));
        }
        // The key the resource will be encrypted to must be usable before anything is spent;
        // the session and the EAR keep only its public members (a client cannot grow its own
        // cookie with extra members).
        TeeKey::from_jwk(&rd.tee_pubkey).map_err(KbsError::Attestation)?;
        let stored_key = public_members(&rd.tee_pubkey);
        let nonce: [u8; 32] = B64
            .decode(&session.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(KbsError::Session(ChallengeError::Malformed))?;
        if self.replay.is_used(&nonce) {
            return Err(KbsError::Session(ChallengeError::Replayed));
        }
        let hash = binding::hash_by_name(&session.hash)
            .ok_or(KbsError::Session(ChallengeError::Malformed))?;
        let additional = &att.tee_evidence.additional_evidence;
        let report_data = binding::report_data(hash, &rd.nonce, &rd.tee_pubkey, additional)?;
        let gpu_nonce = binding::gpu_nonce(hash, &rd.nonce, &rd.tee_pubkey)?;
        let sim_root = self.decider.sim_root();
        let mut cpu = evidence::cpu(&session.tee, &att.tee_evidence.primary_evidence, sim_root)?;
        self.endorse_cpu(&mut cpu, now)
            .map_err(KbsError::from_decision)?;
        // KBS clients send no collateral: the service's own, or nothing to verify with.
        if cpu.platform == coco_evidence::api::EvidencePlatform::Tdx && cpu.collateral.is_none() {
            return Err(KbsError::Attestation(ReleaseError::Usage {
                option: "tdx-collateral",
                reason: "TDX evidence needs collateral the service holds (coco serve \
                         --collateral-cache DIR, or --tdx-collateral DIR); KBS clients send \
                         none"
                    .into(),
            }));
        }
        let mut pieces = vec![cpu];
        pieces.extend(evidence::gpus(additional, sim_root)?);
        let mut outcome = self
            .decider
            .decide_unless(
                &pieces,
                Binding::Expected {
                    report_data,
                    gpu_nonce,
                },
                now,
                Some(session.nonce.clone()),
                cancel,
            )
            .map_err(KbsError::from_decision)?;
        cancel.check().map_err(KbsError::Unavailable)?;
        // Evidence that answers another session is not this session's evidence at all.
        let unbound: Vec<Finding> = outcome
            .findings
            .iter()
            .filter(|f| f.claim.ends_with(".report_data") || f.claim.ends_with(".nonce"))
            .cloned()
            .collect();
        if !unbound.is_empty() {
            return Err(KbsError::Attestation(ReleaseError::Appraisal {
                status: outcome.status(),
                findings: unbound,
            }));
        }
        let init_data = match &att.init_data {
            Some(w) => check_init_data(w, &outcome)?,
            None => None,
        };
        if !self
            .replay
            .first_use(&nonce, session.exp, t)
            .map_err(KbsError::Unavailable)?
        {
            return Err(KbsError::Session(ChallengeError::Replayed));
        }
        // The EAR carries what a relying party of the token needs: the TEE key (bearer use)
        // and the verified init-data, where Trustee's EAR has them.
        let ear = &mut outcome.ear;
        ear.exp = Some(i64::try_from(t + ATTESTED_SESSION_SECS).unwrap_or(i64::MAX));
        if let Some(cpu) = ear.submods.get_mut("cpu0") {
            let mut annotated = json!({"runtime_data_claims": {"tee-pubkey": stored_key}});
            if let Some(d) = &init_data {
                annotated["init_data"] = hex::encode(d.digest()).into();
                annotated["init_data_claims"] = json!(d.data);
            }
            cpu.extra
                .insert("ear.veraison.annotated-evidence".into(), annotated);
        }
        let jwt = outcome.ear.to_jwt(&self.ear_key);
        let status = outcome.status();
        let affirmed = outcome.affirmed();
        self.audit(json!({
            "time": format_rfc3339(t),
            "event": "kbs-attest",
            "protocol": "kbs",
            "peer": peer.map(|p| p.to_string()),
            "decision": if affirmed { "attested" } else { "denied" },
            "tee": session.tee,
            "gpus": pieces.len() - 1,
            "ear_status": status.name(),
            "init_data": init_data.as_ref().map(|d| hex::encode(d.digest())),
            "reason": outcome.refusal().map(|e| e.message()),
        }))
        .map_err(KbsError::Unavailable)?;
        let attested = Session {
            step: Step::Attested,
            exp: t + ATTESTED_SESSION_SECS,
            tee_pubkey: Some(stored_key),
            status: Some(status.name().to_string()),
            affirmed,
            ..session
        };
        Ok((
            AttestationToken { token: jwt },
            self.kbs_sessions().seal(&attested),
        ))
    }

    /// `GET /kbs/v0/resource/<path>`: the key of key id `path`, as a flattened JWE to the
    /// attested TEE key. Audited, fail closed: a release whose record cannot be written does
    /// not happen.
    pub fn kbs_resource(
        &self,
        token: Option<&str>,
        path: &str,
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> Result<Value, KbsError> {
        self.kbs_resource_as(Credential::Cookie(token), path, now, peer)
    }

    /// [`Self::kbs_resource`] for a client that presents the attestation token instead of the
    /// session cookie (`Authorization: Bearer`, the KBS passport mode): the token must be an
    /// EAR this service signed, unexpired, carrying the TEE key; it releases what the session
    /// it came from would.
    pub fn kbs_resource_bearer(
        &self,
        jwt: &str,
        path: &str,
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> Result<Value, KbsError> {
        self.kbs_resource_as(Credential::Bearer(jwt), path, now, peer)
    }

    /// The attested session an EAR token of this service stands for.
    fn bearer_session(&self, jwt: &str, t: u64) -> Result<Session, KbsError> {
        let invalid = |_| KbsError::Session(ChallengeError::NotIssuedHere);
        let ear =
            coco_core::ear::Ear::from_jwt(jwt, &[self.ear_key.public()], t).map_err(invalid)?;
        let exp = ear
            .exp
            .and_then(|e| u64::try_from(e).ok())
            .ok_or(KbsError::Session(ChallengeError::Malformed))?;
        if t > exp {
            return Err(KbsError::Session(ChallengeError::Expired));
        }
        let tee_pubkey = ear
            .submods
            .get("cpu0")
            .and_then(|c| c.extra.get("ear.veraison.annotated-evidence"))
            .and_then(|a| a.pointer("/runtime_data_claims/tee-pubkey"))
            .cloned()
            .ok_or(KbsError::Session(ChallengeError::Malformed))?;
        let status = ear.overall();
        Ok(Session {
            step: Step::Attested,
            nonce: ear.nonce.clone().unwrap_or_default(),
            tee: "bearer".into(),
            hash: String::new(),
            exp,
            tee_pubkey: Some(tee_pubkey),
            status: Some(status.name().to_string()),
            affirmed: matches!(
                status,
                coco_core::ear::Status::Affirming | coco_core::ear::Status::Warning
            ),
        })
    }

    /// A resource for either credential: the release told to the observer, or the refusal
    /// audited.
    fn kbs_resource_as(
        &self,
        credential: Credential<'_>,
        path: &str,
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> Result<Value, KbsError> {
        let started = SystemTime::now();
        let r = self.kbs_resource_inner(credential, path, now, peer);
        match &r {
            Err(e) => self.kbs_refused("key-release", peer, e),
            Ok(_) => {
                if let Some(o) = self.observer.get() {
                    o.released(started.elapsed().map_or(0.0, |d| d.as_secs_f64()));
                }
            }
        }
        r
    }

    fn kbs_resource_inner(
        &self,
        credential: Credential<'_>,
        path: &str,
        now: SystemTime,
        peer: Option<SocketAddr>,
    ) -> Result<Value, KbsError> {
        let t = unix(now);
        let id = resource_id(path)?;
        let session = match credential {
            Credential::Cookie(token) => self.kbs_session(token, t, Step::Attested)?,
            Credential::Bearer(jwt) => self.bearer_session(jwt, t)?,
        };
        if !session.affirmed {
            return Err(KbsError::PolicyDeny {
                status: session.status.unwrap_or_default(),
            });
        }
        let jwk = session
            .tee_pubkey
            .as_ref()
            .ok_or(KbsError::Session(ChallengeError::Malformed))?;
        let key = TeeKey::from_jwk(jwk).map_err(KbsError::Attestation)?;
        let dek = self
            .keys
            .get(id)
            .map_err(KbsError::Unavailable)?
            .ok_or_else(|| KbsError::ResourceNotFound(id.to_string()))?;
        let jwe = jwe::encrypt(&key, dek.as_bytes()).map_err(KbsError::Unavailable)?;
        self.audit(json!({
            "time": format_rfc3339(t),
            "event": "key-release",
            "protocol": "kbs",
            "peer": peer.map(|p| p.to_string()),
            "decision": "release",
            "key_id": id,
            "tee": session.tee,
            "ear_status": session.status,
        }))
        .map_err(KbsError::Unavailable)?;
        Ok(jwe)
    }
}

/// The public members of a JWK (`kty`, `crv`, `alg`, `x`, `y`, `n`, `e`), nothing else.
fn public_members(jwk: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in ["kty", "crv", "alg", "x", "y", "n", "e"] {
        if let Some(v) = jwk.get(k).filter(|v| v.is_string()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// Parses the attestation's init-data and checks its digest against the CPU evidence's
/// configuration field (TDX MRCONFIGID, SNP HOST_DATA); a mismatch is an attestation failure
/// naming `cpu0.init_data`. `None` for the sample attester, which has no such field.
fn check_init_data(
    w: &super::wire::InitDataWire,
    outcome: &crate::decision::Outcome,
) -> Result<Option<InitData>, KbsError> {
    if w.format != "toml" {
        return Err(KbsError::Request(format!(
            "init-data format {:?}: toml",
            w.format.chars().take(32).collect::<String>()
        )));
    }
    let d = InitData::parse(w.body.as_bytes())
        .map_err(|e| KbsError::Attestation(ReleaseError::Config(e)))?;
    let cpu = outcome
        .attesters
        .iter()
        .find(|a| a.platform().is_cpu())
        .ok_or_else(|| KbsError::Request("no CPU evidence".into()))?;
    let (found, expected): (&[u8], Vec<u8>) = match cpu.claims() {
        Claims::Tdx(c) => (&c.mr_config_id, d.field_value(Field::TdxMrConfigId)),
        Claims::Snp(c) => (&c.host_data, d.field_value(Field::SnpHostData)),
        Claims::Gpu(_) => return Err(KbsError::Request("no CPU evidence".into())),
        // The sample attester has no configuration field: the init-data stays unverified and
        // is not exposed as claims (as Trustee's sample verifier, which skips it).
        Claims::Sample(_) => return Ok(None),
    };
    if !bool::from(found.ct_eq(&expected)) {
        return Err(KbsError::Attestation(ReleaseError::Appraisal {
            status: coco_core::ear::Status::Contraindicated,
            findings: vec![Finding::new(
                format!("{}.init_data", cpu.name()),
                json!(hex::encode(&expected)),
                json!(hex::encode(found)),
                "configuration",
            )],
        }));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_are_three_plain_segments() {
        assert_eq!(
            resource_id("default/model/dek").unwrap(),
            "default/model/dek"
        );
        assert_eq!(
            resource_id("/default/model/dek").unwrap(),
            "default/model/dek"
        );
        for bad in [
            "a/b", "a/b/c/d", "a//c", "//a/b/c", "/a/b", "../b/c", "a/./c", "a/b/c%2f", "a/b/ c",
            "",
        ] {
            assert!(
                matches!(resource_id(bad), Err(KbsError::InvalidRequestPath(_))),
                "{bad}"
            );
        }
        assert!(resource_id(&format!("a/b/{}", "c".repeat(MAX_SEGMENT + 1))).is_err());
    }
}
