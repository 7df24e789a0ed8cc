//! EAR (EAT Attestation Result, draft-ietf-rats-ear) with AR4SI trust vectors.
//!
//! Written in the current draft's naming (`ear_status`, `ear_trustworthiness_vector`,
//! `ear_appraisal_policy_ids`, profile `tag:ietf.org,2026:rats/ear#04`); read in both that
//! naming and the legacy one deployed by Veraison and Trustee (`ear.status`,
//! `ear.trustworthiness-vector`, `ear.appraisal-policy-id`, ...), as JSON, as a JWT (ES256 /
//! ES384) and as a CWT (COSE_Sign1 with CBOR keys). Signatures are checked only against keys
//! the caller passes; a `jwk` in a JWT header is never trusted by itself.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::value::Value;
use serde_json::{Map, Value as Json, json};

use crate::cbor;
use crate::error::{CoreError, Result, SignatureError};
use crate::keys::{PublicKey, SigningKey};

/// The profile this crate writes.
pub const PROFILE: &str = "tag:ietf.org,2026:rats/ear#04";
/// Profiles this crate reads.
pub const KNOWN_PROFILES: &[&str] = &[
    PROFILE,
    "tag:ietf.org,2026:rats/ear#03",
    "tag:ietf.org,2025-07:ear",
    "tag:github.com,2023:veraison/ear",
    "tag:github.com,2024:confidential-containers/Trustee",
];

fn ear_err(msg: impl Into<String>) -> CoreError {
    CoreError::Ear(msg.into())
}

/// An appraisal status (trustworthiness tier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// No claim.
    None,
    /// Affirming.
    Affirming,
    /// Warning.
    Warning,
    /// Contraindicated.
    Contraindicated,
}

impl Status {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Affirming => "affirming",
            Status::Warning => "warning",
            Status::Contraindicated => "contraindicated",
        }
    }

    /// The CBOR value (0, 2, 32, 96).
    pub fn code(self) -> i64 {
        match self {
            Status::None => 0,
            Status::Affirming => 2,
            Status::Warning => 32,
            Status::Contraindicated => 96,
        }
    }

    /// The tier of a trust-vector value (AR4SI): none −1..1, affirming 2..31 and −32..−2,
    /// warning 32..95 and −96..−33, contraindicated 96..127 and −128..−97.
    pub fn of_claim(v: i8) -> Self {
        match v {
            -1..=1 => Status::None,
            2..=31 | -32..=-2 => Status::Affirming,
            32..=95 | -96..=-33 => Status::Warning,
            _ => Status::Contraindicated,
        }
    }

    fn from_json(v: &Json) -> Result<Self> {
        match v {
            Json::String(s) => match s.as_str() {
                "none" => Ok(Status::None),
                "affirming" => Ok(Status::Affirming),
                "warning" => Ok(Status::Warning),
                "contraindicated" => Ok(Status::Contraindicated),
                other => Err(ear_err(format!("unknown status {other:?}"))),
            },
            Json::Number(n) => match n.as_i64() {
                Some(0) => Ok(Status::None),
                Some(2) => Ok(Status::Affirming),
                Some(32) => Ok(Status::Warning),
                Some(96) => Ok(Status::Contraindicated),
                _ => Err(ear_err(format!("unknown status {n}"))),
            },
            other => Err(ear_err(format!("status is {other}"))),
        }
    }
}

/// The AR4SI trust-vector categories, in CBOR key order.
pub const CATEGORIES: [&str; 8] = [
    "instance-identity",
    "configuration",
    "executables",
    "file-system",
    "hardware",
    "runtime-opaque",
    "storage-opaque",
    "sourced-data",
];

/// A trust vector: one optional claim per AR4SI category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrustVector(pub [Option<i8>; 8]);

impl TrustVector {
    /// Sets the claim of `category` (one of [`CATEGORIES`]).
    pub fn set(&mut self, category: &str, value: i8) {
        if let Some(i) = CATEGORIES.iter().position(|c| *c == category) {
            self.0[i] = Some(value);
        }
    }

    /// The claim of `category`.
    pub fn get(&self, category: &str) -> Option<i8> {
        CATEGORIES
            .iter()
            .position(|c| *c == category)
            .and_then(|i| self.0[i])
    }

    /// The worst tier of the vector (no claims: `none`).
    pub fn status(&self) -> Status {
        self.0
            .iter()
            .flatten()
            .map(|v| Status::of_claim(*v))
            .max()
            .unwrap_or(Status::None)
    }

    fn to_json(self) -> Json {
        let mut m = Map::new();
        for (c, v) in CATEGORIES.iter().zip(self.0) {
            if let Some(v) = v {
                m.insert((*c).into(), json!(v));
            }
        }
        Json::Object(m)
    }

    fn from_json(v: &Json) -> Result<Self> {
        let m = v
            .as_object()
            .ok_or_else(|| ear_err("trust vector is not an object"))?;
        let mut tv = TrustVector::default();
        for (k, v) in m {
            let i = CATEGORIES
                .iter()
                .position(|c| c == k)
                .ok_or_else(|| ear_err(format!("unknown trust-vector category {k:?}")))?;
            let n = v
                .as_i64()
                .and_then(|n| i8::try_from(n).ok())
                .ok_or_else(|| ear_err(format!("trust-vector {k} is not an int8")))?;
            tv.0[i] = Some(n);
        }
        Ok(tv)
    }
}

/// One submodule's appraisal.
#[derive(Debug, Clone, PartialEq)]
pub struct Appraisal {
    /// Its status; never better than the worst tier of its vector.
    pub status: Status,
    /// Its trust vector.
    pub trust_vector: TrustVector,
    /// The policies applied, in order.
    pub policy_ids: Vec<String>,
    /// Every other claim of the submodule (extensions, key attestation, our reasons).
    pub extra: Map<String, Json>,
}

impl Appraisal {
    /// The key the verifier attested as held by this attester (`akpub` of
    /// `ear_veraison_key_attestation` / `ear.veraison.key-attestation`): base64url of a DER
    /// SubjectPublicKeyInfo, which must decode.
    pub fn attested_key(&self) -> Result<PublicKey> {
        let ka = [
            "ear_veraison_key_attestation",
            "ear.veraison.key-attestation",
        ]
        .iter()
        .find_map(|k| self.extra.get(*k))
        .ok_or_else(|| ear_err("no key attestation"))?;
        let akpub = ka
            .get("akpub")
            .and_then(Json::as_str)
            .ok_or_else(|| ear_err("key attestation without akpub"))?;
        let der = URL_SAFE_NO_PAD
            .decode(akpub)
            .map_err(|e| ear_err(format!("akpub is not base64url: {e}")))?;
        PublicKey::from_spki_der(&der)
    }
}

/// The verifier's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierId {
    /// Developer.
    pub developer: String,
    /// Build.
    pub build: String,
}

/// An EAR claims-set.
#[derive(Debug, Clone, PartialEq)]
pub struct Ear {
    /// eat_profile.
    pub profile: String,
    /// iat (Unix seconds).
    pub iat: i64,
    /// exp, if any.
    pub exp: Option<i64>,
    /// The verifier.
    pub verifier_id: VerifierId,
    /// eat_nonce, if any.
    pub nonce: Option<String>,
    /// The overall status (top-level `ear_status`), if given.
    pub status: Option<Status>,
    /// The appraisals, by submodule name (`cpu0`, `gpu0`...).
    pub submods: BTreeMap<String, Appraisal>,
    /// Top-level claims not modelled above.
    pub extra: Map<String, Json>,
}

fn take<'a>(m: &'a Map<String, Json>, names: &[&str]) -> Option<&'a Json> {
    names.iter().find_map(|n| m.get(*n))
}

impl Ear {
    /// The overall status: the worst of the submodules'.
    pub fn overall(&self) -> Status {
        self.submods
            .values()
            .map(|a| a.status)
            .max()
            .unwrap_or(Status::None)
    }

    /// The JSON claims-set in the current draft's naming.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("eat_profile".into(), json!(self.profile));
        m.insert("iat".into(), json!(self.iat));
        if let Some(e) = self.exp {
            m.insert("exp".into(), json!(e));
        }
        m.insert(
            "ear_verifier_id".into(),
            json!({"developer": self.verifier_id.developer, "build": self.verifier_id.build}),
        );
        if let Some(n) = &self.nonce {
            m.insert("eat_nonce".into(), json!(n));
        }
        m.insert(
            "ear_status".into(),
            json!(self.status.unwrap_or(self.overall()).name()),
        );
        let mut subs = Map::new();
        for (name, a) in &self.submods {
            let mut s = Map::new();
            s.insert("ear_status".into(), json!(a.status.name()));
            s.insert(
                "ear_trustworthiness_vector".into(),
                a.trust_vector.to_json(),
            );
            if !a.policy_ids.is_empty() {
                s.insert("ear_appraisal_policy_ids".into(), json!(a.policy_ids));
            }
            for (k, v) in &a.extra {
                s.insert(k.clone(), v.clone());
            }
            subs.insert(name.clone(), Json::Object(s));
        }
        m.insert("submods".into(), Json::Object(subs));
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Json::Object(m)
    }

    /// Reads a JSON claims-set in either naming and validates it: a known profile, integer
    /// `iat` (and `exp`), a verifier id, at least one submodule, each with a status no better
    /// than its trust vector's worst tier.
    pub fn from_json(v: &Json) -> Result<Self> {
        let m = v
            .as_object()
            .ok_or_else(|| ear_err("claims-set is not a JSON object"))?;
        let profile = m
            .get("eat_profile")
            .and_then(Json::as_str)
            .ok_or_else(|| ear_err("missing eat_profile"))?
            .to_string();
        if !KNOWN_PROFILES.contains(&profile.as_str()) {
            return Err(CoreError::UnknownProfile {
                document: "EAR".into(),
                profile,
            });
        }
        let int = |name: &str| -> Result<Option<i64>> {
            match m.get(name) {
                None => Ok(None),
                Some(Json::Number(n)) if n.is_i64() => Ok(n.as_i64()),
                Some(other) => Err(ear_err(format!("{name} must be an integer, found {other}"))),
            }
        };
        let iat = int("iat")?.ok_or_else(|| ear_err("missing iat"))?;
        let exp = int("exp")?;
        let vid = take(m, &["ear_verifier_id", "ear.verifier-id"])
            .ok_or_else(|| ear_err("missing verifier id"))?;
        let s = |k: &str| vid.get(k).and_then(Json::as_str).map(str::to_string);
        let verifier_id = VerifierId {
            developer: s("developer").ok_or_else(|| ear_err("verifier id without developer"))?,
            build: s("build").ok_or_else(|| ear_err("verifier id without build"))?,
        };
        let subs = m
            .get("submods")
            .and_then(Json::as_object)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ear_err("missing or empty submods"))?;
        let mut submods = BTreeMap::new();
        for (name, sv) in subs {
            let sm = sv
                .as_object()
                .ok_or_else(|| ear_err(format!("submod {name} is not an object")))?;
            let status = Status::from_json(
                take(sm, &["ear_status", "ear.status"])
                    .ok_or_else(|| ear_err(format!("submod {name} without a status")))?,
            )?;
            let trust_vector = take(
                sm,
                &["ear_trustworthiness_vector", "ear.trustworthiness-vector"],
            )
            .map(TrustVector::from_json)
            .transpose()?
            .unwrap_or_default();
            // "none" claims nothing; any verdict must be at least the vector's worst tier.
            if status != Status::None && status < trust_vector.status() {
                return Err(ear_err(format!(
                    "submod {name}: status {} is better than its trust vector's worst tier {}",
                    status.name(),
                    trust_vector.status().name()
                )));
            }
            let policy_ids =
                match take(sm, &["ear_appraisal_policy_ids", "ear.appraisal-policy-id"]) {
                    None => Vec::new(),
                    Some(Json::String(s)) => vec![s.clone()],
                    Some(Json::Array(a)) => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| ear_err("policy id is not text"))
                        })
                        .collect::<Result<_>>()?,
                    Some(other) => return Err(ear_err(format!("policy id is {other}"))),
                };
            let known = [
                "ear_status",
                "ear.status",
                "ear_trustworthiness_vector",
                "ear.trustworthiness-vector",
                "ear_appraisal_policy_ids",
                "ear.appraisal-policy-id",
            ];
            let extra = sm
                .iter()
                .filter(|(k, _)| !known.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            submods.insert(
                name.clone(),
                Appraisal {
                    status,
                    trust_vector,
                    policy_ids,
                    extra,
                },
            );
        }
        let status = take(m, &["ear_status"])
            .map(Status::from_json)
            .transpose()?;
        let known = [
            "eat_profile",
            "iat",
            "exp",
            "ear_verifier_id",
            "ear.verifier-id",
            "submods",
            "ear_status",
            "eat_nonce",
        ];
        let ear = Ear {
            profile,
            iat,
            exp,
            verifier_id,
            nonce: m
                .get("eat_nonce")
                .and_then(Json::as_str)
                .map(str::to_string),
            status,
            submods,
            extra: m
                .iter()
                .filter(|(k, _)| !known.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        if let Some(s) = ear.status
            && s != Status::None
            && s < ear.overall()
        {
            return Err(ear_err(format!(
                "top-level status {} is better than the worst submod ({})",
                s.name(),
                ear.overall().name()
            )));
        }
        Ok(ear)
    }

    /// Checks `exp` (if any) against `at` (Unix seconds).
    pub fn check_time(&self, at: u64) -> Result<()> {
        if let Some(exp) = self.exp
            && (at as i128) > exp as i128
        {
            return Err(CoreError::Expired {
                what: "EAR".into(),
                at,
                not_before: u64::try_from(self.iat).ok(),
                not_after: u64::try_from(exp).ok(),
            });
        }
        Ok(())
    }

    /// Signs the claims-set as a compact JWT (ES256 or ES384 by the key's curve).
    pub fn to_jwt(&self, key: &SigningKey) -> String {
        let header = json!({"alg": key.public().jose_alg(), "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(self.to_json().to_string())
        );
        let sig = key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Verifies a token of either form: a CWT (COSE_Sign1, CBOR) or a compact JWT (text),
    /// told apart by its first byte; see [`Ear::from_cwt`] and [`Ear::from_jwt`].
    pub fn from_token(token: &[u8], trusted: &[PublicKey], at: u64) -> Result<Self> {
        if token.first().is_some_and(|b| *b == 0xd2 || *b == 0xd8) {
            return Self::from_cwt(token, trusted, at);
        }
        let t = std::str::from_utf8(token).map_err(|_| {
            CoreError::malformed("EAR", "the token is neither text (JWT) nor CBOR (CWT)")
        })?;
        Self::from_jwt(t.trim(), trusted, at)
    }

    /// Verifies a compact JWT against `trusted` keys (the header's `alg` must be the key's
    /// ES256/ES384; `none`, HMAC and everything else are rejected), then validates the claims
    /// and `exp` at `at`.
    pub fn from_jwt(token: &str, trusted: &[PublicKey], at: u64) -> Result<Self> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
            return Err(ear_err(format!(
                "a compact JWT is header.payload.signature, found {} part(s)",
                parts.len()
            )));
        }
        let dec = |p: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|e| ear_err(format!("JWT {what} is not base64url: {e}")))
        };
        let header: Json = serde_json::from_slice(&dec(parts[0], "header")?)
            .map_err(|e| ear_err(format!("JWT header: {e}")))?;
        let alg = header.get("alg").and_then(Json::as_str).unwrap_or("");
        if alg != "ES256" && alg != "ES384" {
            return Err(CoreError::Signature(SignatureError::Algorithm {
                document: "JWT",
                alg: alg.to_string(),
            }));
        }
        let sig = dec(parts[2], "signature")?;
        let input = format!("{}.{}", parts[0], parts[1]);
        if !trusted
            .iter()
            .any(|k| k.jose_alg() == alg && k.verify(input.as_bytes(), &sig))
        {
            return Err(CoreError::Signature(SignatureError::Untrusted {
                document: "JWT",
                alg: if alg == "ES256" { "ES256" } else { "ES384" },
                trusted: trusted.len(),
            }));
        }
        let claims: Json = serde_json::from_slice(&dec(parts[1], "payload")?)
            .map_err(|e| ear_err(format!("JWT payload: {e}")))?;
        let ear = Self::from_json(&claims)?;
        ear.check_time(at)?;
        Ok(ear)
    }

    /// Verifies a CWT (`18(COSE_Sign1)`, optionally inside tag 61) with CBOR-keyed claims
    /// against `trusted` keys, then validates as [`Ear::from_jwt`] does.
    pub fn from_cwt(bytes: &[u8], trusted: &[PublicKey], at: u64) -> Result<Self> {
        use coset::CborSerializable;
        let v = cbor::decode(bytes, "EAR CWT")?;
        let inner = match cbor::untag(&v) {
            (Some(61), x) => x,
            _ => &v,
        };
        let arr = cbor::tagged(inner, 18, "EAR CWT").unwrap_or(inner);
        let sign1 = coset::CoseSign1::from_slice(&cbor::encode(arr))
            .map_err(|e| ear_err(format!("COSE_Sign1: {e}")))?;
        let alg = match &sign1.protected.header.alg {
            Some(coset::RegisteredLabelWithPrivate::Assigned(coset::iana::Algorithm::ES256)) => -7,
            Some(coset::RegisteredLabelWithPrivate::Assigned(coset::iana::Algorithm::ES384)) => -35,
            other => {
                return Err(CoreError::Signature(SignatureError::Algorithm {
                    document: "CWT",
                    alg: format!("{other:?}"),
                }));
            }
        };
        if !trusted.iter().any(|k| {
            k.cose_alg() == alg
                && sign1
                    .verify_signature(b"", |s, d| if k.verify(d, s) { Ok(()) } else { Err(()) })
                    .is_ok()
        }) {
            return Err(CoreError::Signature(SignatureError::Untrusted {
                document: "CWT",
                alg: if alg == -7 { "ES256" } else { "ES384" },
                trusted: trusted.len(),
            }));
        }
        let payload = sign1
            .payload
            .as_deref()
            .ok_or_else(|| ear_err("CWT without payload"))?;
        let ear = Self::from_json(&cbor_claims_to_json(&cbor::decode(payload, "EAR claims")?)?)?;
        ear.check_time(at)?;
        Ok(ear)
    }
}

/// Maps a CBOR EAR claims-set (integer keys) to the JSON naming.
pub fn cbor_claims_to_json(v: &Value) -> Result<Json> {
    let m = cbor::map(v, "EAR claims")?;
    let mut out = Map::new();
    for (k, val) in m {
        let name = match cbor::int(k) {
            Some(265) => "eat_profile",
            Some(6) => "iat",
            Some(4) => "exp",
            Some(10) => "eat_nonce",
            Some(1004) => {
                let vm = cbor::map(val, "verifier-id")?;
                let t = |k| {
                    cbor::get(vm, k)
                        .and_then(|x| cbor::text(x, "verifier-id").ok())
                        .unwrap_or_default()
                        .to_string()
                };
                out.insert(
                    "ear_verifier_id".into(),
                    json!({"developer": t(0), "build": t(1)}),
                );
                continue;
            }
            Some(1002) => {
                out.insert(
                    "ear_raw_evidence".into(),
                    json!(URL_SAFE_NO_PAD.encode(cbor::bytes(val, "raw-evidence")?)),
                );
                continue;
            }
            Some(1000) => "ear_status",
            Some(266) => {
                let sm = cbor::map(val, "submods")?;
                let mut subs = Map::new();
                for (name, a) in sm {
                    let name = cbor::text(name, "submods")?.to_string();
                    let am = cbor::map(a, &format!("submods/{name}"))?;
                    let mut s = Map::new();
                    for (ak, av) in am {
                        match cbor::int(ak) {
                            Some(1000) => {
                                s.insert("ear_status".into(), cbor::to_json(av));
                            }
                            Some(1001) => {
                                let tm = cbor::map(av, "trust vector")?;
                                let mut tv = Map::new();
                                for (tk, tvv) in tm {
                                    let i = cbor::uint(tk, "trust vector")? as usize;
                                    let c = CATEGORIES
                                        .get(i)
                                        .ok_or_else(|| ear_err(format!("trust-vector key {i}")))?;
                                    tv.insert((*c).into(), cbor::to_json(tvv));
                                }
                                s.insert("ear_trustworthiness_vector".into(), Json::Object(tv));
                            }
                            Some(1003) => {
                                s.insert("ear_appraisal_policy_ids".into(), cbor::to_json(av));
                            }
                            _ => {
                                let key = match ak {
                                    Value::Text(t) => t.clone(),
                                    other => cbor::to_json(other).to_string(),
                                };
                                s.insert(key, cbor::to_json(av));
                            }
                        }
                    }
                    subs.insert(name, Json::Object(s));
                }
                out.insert("submods".into(), Json::Object(subs));
                continue;
            }
            _ => {
                let key = match k {
                    Value::Text(t) => t.clone(),
                    other => cbor::to_json(other).to_string(),
                };
                out.insert(key, cbor::to_json(val));
                continue;
            }
        };
        out.insert(name.into(), cbor::to_json(val));
    }
    Ok(Json::Object(out))
}
