//! Appraisal: verified claims of each attester, reference values from CoRIMs, and a policy in;
//! an EAR out, with one submodule per attester (`cpu0`, `gpu0`, ...), its AR4SI trust vector
//! and every finding at once (the claim, what was expected, what was found).
//!
//! Attesters are built from values that `coco-evidence` verified (its `Verified<T>` claims);
//! this module never sees unverified evidence.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::corim::compare::{self, Mismatch};
use crate::corim::{Corim, Environment, Mkey, Mval, Svn, ValueTriple};
use crate::ear::{Appraisal, Ear, PROFILE as EAR_PROFILE, TrustVector, VerifierId};
use crate::error::{CoreError, Result};
use crate::policy::Policy;
use crate::profile::{self, SnpTcb};

/// The evidence platforms appraised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Intel TDX TD.
    Tdx,
    /// AMD SEV-SNP VM.
    Snp,
    /// NVIDIA GPU.
    Nvidia,
}

impl Platform {
    /// The name (`tdx`, `snp`, `nvidia`).
    pub fn name(self) -> &'static str {
        match self {
            Platform::Tdx => "tdx",
            Platform::Snp => "snp",
            Platform::Nvidia => "nvidia",
        }
    }
}

/// One attester's verified claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Attester {
    /// The submodule name (`cpu0`, `gpu0`, ...).
    pub name: String,
    /// The platform.
    pub platform: Platform,
    /// The verified claims (DESIGN §4 names).
    pub claims: Json,
    /// Whether the evidence came from a simulated TEE.
    pub simulated: bool,
    /// When the evidence was produced (Unix seconds), if known.
    pub collected_at: Option<u64>,
    /// The expected binding: report_data (CPU, 64 bytes) or nonce (GPU, 32 bytes), if the
    /// caller computed one.
    pub expected_binding: Option<Vec<u8>>,
}

/// Reference values from verified CoRIMs of known profiles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceValues {
    triples: Vec<ValueTriple>,
    /// The ids of the CoRIMs the values came from.
    pub sources: Vec<String>,
}

impl ReferenceValues {
    /// Collects the reference triples of `corims`. A CoRIM without a profile, or with a profile
    /// this crate does not implement, is rejected as a whole (draft-ietf-rats-corim); so is one
    /// using negative (extension) measurement keys, which this profile does not define.
    pub fn from_corims(corims: &[Corim]) -> Result<Self> {
        let mut out = ReferenceValues::default();
        for c in corims {
            let p = c.profile.as_ref().map(|p| p.to_text()).unwrap_or_default();
            if !profile::is_known(&p) {
                return Err(CoreError::Profile(format!(
                    "CoRIM {:?} has profile {p:?}; this appraiser implements {:?}",
                    c.id.to_text(),
                    profile::PROFILE
                )));
            }
            for comid in &c.comids {
                // AMD's SNP profile (and Veraison's trust-anchor rule): an attest-key triple
                // names the ARK by vendor and model.
                for t in &comid.attest_key {
                    let class = t.environment.class.as_ref();
                    if class.is_none_or(|c| c.vendor.is_none() || c.model.is_none()) {
                        return Err(CoreError::Profile(format!(
                            "CoMID {:?}: an attest-key triple needs both vendor and model",
                            comid.tag_id.to_text()
                        )));
                    }
                }
                for t in &comid.reference {
                    let snp = t
                        .environment
                        .class
                        .as_ref()
                        .and_then(|c| c.class_id.as_ref())
                        .is_some_and(|id| {
                            [profile::SNP_CLASS_VCEK, profile::SNP_CLASS_VLEK]
                                .iter()
                                .any(|oid| {
                                    *id == ciborium::value::Value::Tag(
                                        111,
                                        Box::new(ciborium::value::Value::Bytes(oid.to_vec())),
                                    )
                                })
                        });
                    if snp
                        && t.measurements
                            .iter()
                            .any(|m| !matches!(m.mkey, Some(Mkey::Uint(_))))
                    {
                        return Err(CoreError::Profile(format!(
                            "CoMID {:?}: every SNP measurement needs an unsigned-integer mkey",
                            comid.tag_id.to_text()
                        )));
                    }
                    for m in &t.measurements {
                        if m.mkey.is_none() {
                            return Err(CoreError::Profile(format!(
                                "CoMID {:?}: an anonymous measurement cannot be appraised under {p}",
                                comid.tag_id.to_text()
                            )));
                        }
                        if let Some((k, _)) = m.mval.extensions.first() {
                            return Err(CoreError::Profile(format!(
                                "CoMID {:?}: measurement key {k} is not defined by {p}",
                                comid.tag_id.to_text()
                            )));
                        }
                    }
                    out.triples.push(t.clone());
                }
            }
            out.sources.push(c.id.to_text());
        }
        Ok(out)
    }

    /// Reads reference values from CoRIM files' bytes: a signed CoRIM must verify under one
    /// of `trusted` at `at` (a signed CoRIM with no trusted key is an error, never read
    /// unverified); an unsigned one is local configuration, its validity window checked at
    /// `at`.
    pub fn from_cbor(
        corims: &[&[u8]],
        trusted: &[crate::keys::PublicKey],
        at: u64,
    ) -> Result<Self> {
        use crate::corim::{DecodeOptions, cose};
        let opts = DecodeOptions::default();
        let mut out = Vec::with_capacity(corims.len());
        for (i, bytes) in corims.iter().enumerate() {
            if cose::is_signed(bytes) {
                if trusted.is_empty() {
                    return Err(CoreError::Profile(format!(
                        "reference {i}: a signed CoRIM, and no key to verify it with"
                    )));
                }
                let s = cose::SignedCorim::decode(bytes, &opts)?;
                s.verify(trusted, at)?;
                out.push(s.corim);
            } else {
                let c = Corim::decode(bytes, &opts)?;
                if let Some(v) = c.validity {
                    v.check(at, "CoRIM (rim-validity)")?;
                }
                out.push(c);
            }
        }
        Self::from_corims(&out)
    }

    /// The number of reference triples.
    pub fn len(&self) -> usize {
        self.triples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }
}

/// One reason an attester is not affirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The claim (or measurement key).
    pub claim: String,
    /// What was expected.
    pub expected: Json,
    /// What was found.
    pub found: Json,
    /// The trust-vector category it affects.
    pub category: &'static str,
}

impl Finding {
    /// The JSON form.
    pub fn to_json(&self) -> Json {
        json!({"claim": self.claim, "expected": self.expected, "found": self.found, "category": self.category})
    }

    /// A one-line reason.
    pub fn reason(&self) -> String {
        format!(
            "{}: expected {}, found {}",
            self.claim, self.expected, self.found
        )
    }
}

/// What the appraisal needs besides the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Now (Unix seconds).
    pub now: u64,
    /// The EAR nonce to echo, if any.
    pub nonce: Option<String>,
}

fn mkey_name(k: &Mkey, platform: Platform) -> String {
    match (k, platform) {
        (Mkey::Uint(n), Platform::Snp) => {
            use profile::snp_mkey::*;
            let name = match *n {
                GUEST_SVN => "guest_svn",
                POLICY => "policy",
                FAMILY_ID => "family_id",
                IMAGE_ID => "image_id",
                VMPL => "vmpl",
                PLATFORM_INFO => "platform_info",
                MEASUREMENT => "measurement",
                HOST_DATA => "host_data",
                ID_KEY_DIGEST => "id_key_digest",
                AUTHOR_KEY_DIGEST => "author_key_digest",
                REPORTED_TCB => "reported_tcb",
                _ => return n.to_string(),
            };
            name.into()
        }
        (Mkey::Uint(n), Platform::Nvidia) => format!("measurement[{n}]"),
        (Mkey::Text(t), _) => t.clone(),
        (other, _) => other.to_json().to_string(),
    }
}

fn category(k: &Mkey, platform: Platform) -> &'static str {
    match (k, platform) {
        (Mkey::Text(t), Platform::Tdx)
            if [
                "td_attributes",
                "xfam",
                "mrconfigid",
                "mrowner",
                "mrownerconfig",
            ]
            .contains(&t.as_str()) =>
        {
            "configuration"
        }
        (Mkey::Text(t), Platform::Tdx) if t == "report_data" => "instance-identity",
        (Mkey::Uint(n), Platform::Snp) => {
            use profile::snp_mkey::*;
            match *n {
                REPORTED_TCB => "hardware",
                POLICY | PLATFORM_INFO | HOST_DATA | VMPL | GUEST_SVN | FAMILY_ID | IMAGE_ID => {
                    "configuration"
                }
                _ => "executables",
            }
        }
        _ => "executables",
    }
}

fn mval_json(m: &Mval) -> Json {
    let mut o = Map::new();
    if let Some(d) = &m.digests {
        o.insert(
            "digests".into(),
            d.iter().map(|x| json!(hex::encode(&x.value))).collect(),
        );
    }
    if let Some(r) = &m.raw {
        o.insert("raw".into(), json!(hex::encode(&r.value)));
        if let Some(mask) = &r.mask {
            o.insert("mask".into(), json!(hex::encode(mask)));
        }
    }
    match m.svn {
        Some(Svn::Exact(n)) => {
            o.insert("svn".into(), json!(n));
        }
        Some(Svn::Min(n)) => {
            o.insert("min_svn".into(), json!(n));
        }
        None => {}
    }
    if let Some(v) = &m.version {
        o.insert("version".into(), json!(v.version));
    }
    if let Some(r) = m.int_range {
        o.insert("int".into(), json!(format!("{r:?}")));
    }
    Json::Object(o)
}

/// SNP REPORTED_TCB: a minimum is compared per component with the product's layout.
fn snp_tcb_match(reference: &Mval, evidence: &Mval, product: &str) -> Result<(), Mismatch> {
    match (reference.svn, evidence.svn) {
        (Some(Svn::Min(min)), Some(Svn::Exact(have))) => {
            let (min, have) = (SnpTcb::decode(min, product), SnpTcb::decode(have, product));
            if have.at_least(&min) {
                Ok(())
            } else {
                Err(Mismatch(format!("REPORTED_TCB {have:?} is below {min:?}")))
            }
        }
        _ => compare::mval(reference, evidence),
    }
}

fn evidence_environment(a: &Attester) -> Environment {
    match a.platform {
        Platform::Tdx => profile::tdx_environment(),
        Platform::Snp => profile::snp_environment(
            a.claims.get("signing_key").and_then(Json::as_str) == Some("vlek"),
        ),
        Platform::Nvidia => {
            profile::nvidia_environment(a.claims.get("chip").and_then(Json::as_str).unwrap_or(""))
        }
    }
}

fn evidence_mvals(a: &Attester) -> Vec<(Mkey, Mval)> {
    match a.platform {
        Platform::Tdx => profile::tdx_evidence(&a.claims),
        Platform::Snp => profile::snp_evidence(&a.claims),
        Platform::Nvidia => profile::nvidia_evidence(&a.claims),
    }
}

/// Appraises one attester; returns its appraisal with every finding.
pub fn appraise_attester(
    a: &Attester,
    refs: &ReferenceValues,
    policy: &Policy,
    ctx: &Context,
) -> (Appraisal, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut tv = TrustVector::default();
    let c = &a.claims;
    let finding = |claim: &str, expected: Json, found: Json, category: &'static str| Finding {
        claim: claim.into(),
        expected,
        found,
        category,
    };

    // Reference values: group the applicable triples by their measurement keys; each group is
    // corroborated when any of its triples (the alternatives) matches.
    let env = evidence_environment(a);
    let evidence = evidence_mvals(a);
    let product = c
        .get("product")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let mut groups: BTreeMap<Vec<Mkey>, Vec<&ValueTriple>> = BTreeMap::new();
    for t in refs
        .triples
        .iter()
        .filter(|t| compare::environment(&t.environment, &env))
    {
        let mut keys: Vec<Mkey> = t
            .measurements
            .iter()
            .filter_map(|m| m.mkey.clone())
            .collect();
        keys.sort();
        groups.entry(keys).or_default().push(t);
    }
    if groups.is_empty() && policy.require_reference_values {
        findings.push(finding(
            "reference values",
            json!(format!("reference values for {}", env.to_json())),
            json!(null),
            "executables",
        ));
    }
    let nvdec0_off = a.platform == Platform::Nvidia
        && c.pointer("/opaque/nvdec0_status").and_then(Json::as_str) == Some("disabled");
    for (keys, alternatives) in &groups {
        if nvdec0_off && keys.as_slice() == [Mkey::Uint(profile::nvidia_mkey::NVDEC0_INDEX)] {
            continue;
        }
        let matched = alternatives.iter().any(|t| {
            t.measurements.iter().all(|m| {
                let Some(k) = &m.mkey else { return false };
                evidence.iter().any(|(ek, ev)| {
                    ek == k
                        && if a.platform == Platform::Snp
                            && *k == Mkey::Uint(profile::snp_mkey::REPORTED_TCB)
                        {
                            snp_tcb_match(&m.mval, ev, &product).is_ok()
                        } else {
                            compare::mval(&m.mval, ev).is_ok()
                        }
                })
            })
        });
        if !matched {
            for k in keys {
                let found = evidence
                    .iter()
                    .find(|(ek, _)| ek == k)
                    .map(|(_, v)| mval_json(v))
                    .unwrap_or(Json::Null);
                let expected: Vec<Json> = alternatives
                    .iter()
                    .flat_map(|t| {
                        t.measurements
                            .iter()
                            .filter(|m| m.mkey.as_ref() == Some(k))
                            .map(|m| mval_json(&m.mval))
                    })
                    .collect();
                findings.push(finding(
                    &mkey_name(k, a.platform),
                    json!(expected),
                    found,
                    category(k, a.platform),
                ));
            }
        }
    }

    // Policy.
    let debug = c.get("debug").and_then(Json::as_bool).unwrap_or(false);
    if debug && !policy.allow_debug {
        findings.push(finding("debug", json!(false), json!(true), "configuration"));
    }
    if a.platform == Platform::Tdx {
        match c.get("tcb_status").and_then(Json::as_str) {
            None => findings.push(finding(
                "tcb_status",
                json!(policy.tcb_status),
                json!(null),
                "hardware",
            )),
            Some(s) => {
                let listed = policy.tcb_status.iter().any(|x| x == s);
                let grace = s == "OutOfDate"
                    && policy
                        .out_of_date_until
                        .as_deref()
                        .and_then(crate::time::unix_rfc3339)
                        .is_some_and(|until| ctx.now <= until);
                if !(listed || grace) {
                    findings.push(finding(
                        "tcb_status",
                        json!(policy.tcb_status),
                        json!(s),
                        "hardware",
                    ));
                } else if s != "UpToDate" {
                    tv.set("hardware", 32);
                }
            }
        }
        if let Some(allowed) = &policy.allowed_advisories {
            let reported: Vec<String> = c
                .get("advisory_ids")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let extra: Vec<&String> = reported.iter().filter(|r| !allowed.contains(r)).collect();
            if !extra.is_empty() {
                findings.push(finding(
                    "advisory_ids",
                    json!(allowed),
                    json!(extra),
                    "hardware",
                ));
            }
        }
    }
    if policy.require_revocation_check
        && c.get("revocation_checked").and_then(Json::as_bool) == Some(false)
    {
        findings.push(finding(
            "revocation_checked",
            json!(true),
            json!(false),
            "hardware",
        ));
    }
    if a.platform == Platform::Nvidia {
        let opaque = c.get("opaque").cloned().unwrap_or(Json::Null);
        let cc = c
            .get("cc_mode")
            .and_then(Json::as_bool)
            .or_else(|| opaque.get("cc_mode").and_then(Json::as_bool));
        if policy.gpu_cc_mode && cc != Some(true) {
            findings.push(finding("cc_mode", json!(true), json!(cc), "configuration"));
        }
        let devtools = c
            .get("devtools_mode")
            .and_then(Json::as_bool)
            .or_else(|| opaque.get("devtools_mode").and_then(Json::as_bool));
        if policy.forbid_gpu_devtools && devtools == Some(true) {
            findings.push(finding(
                "devtools_mode",
                json!(false),
                json!(true),
                "configuration",
            ));
        }
    }
    let mut binding_ok = false;
    if let Some(expected) = &a.expected_binding {
        let field = if a.platform == Platform::Nvidia {
            "nonce"
        } else {
            "report_data"
        };
        let found = c.get(field).and_then(Json::as_str).unwrap_or("");
        if found == hex::encode(expected) {
            binding_ok = true;
        } else if policy.require_binding {
            findings.push(finding(
                field,
                json!(hex::encode(expected)),
                json!(found),
                "instance-identity",
            ));
        }
    }
    if let (Some(max), Some(at)) = (policy.max_evidence_age_secs, a.collected_at)
        && ctx.now.saturating_sub(at) > max
    {
        findings.push(finding(
            "evidence_age_secs",
            json!(max),
            json!(ctx.now - at),
            "instance-identity",
        ));
    }
    if a.simulated && !policy.allow_simulated {
        findings.push(finding("simulated", json!(false), json!(true), "hardware"));
    }

    // Trust vector: AR4SI values; every finding makes its category contraindicated.
    let bad = |cat: &str| findings.iter().any(|f| f.category == cat);
    tv.set(
        "instance-identity",
        if bad("instance-identity") {
            96
        } else if binding_ok {
            2
        } else {
            0
        },
    );
    tv.set("configuration", if bad("configuration") { 96 } else { 2 });
    tv.set("executables", if bad("executables") { 96 } else { 2 });
    let hw = if a.simulated && !policy.allow_simulated {
        97
    } else if bad("hardware") {
        96
    } else {
        tv.get("hardware").unwrap_or(2)
    };
    tv.set("hardware", hw);
    tv.set("runtime-opaque", if a.simulated { 32 } else { 2 });

    let mut extra = Map::new();
    extra.insert("coco_platform".into(), json!(a.platform.name()));
    if a.simulated {
        extra.insert("coco_simulated".into(), json!(true));
    }
    extra.insert(
        "coco_findings".into(),
        findings.iter().map(Finding::to_json).collect(),
    );
    (
        Appraisal {
            status: tv.status(),
            trust_vector: tv,
            policy_ids: vec![policy.id.clone()],
            extra,
        },
        findings,
    )
}

/// Appraises every attester and issues the EAR (one submodule per attester).
pub fn appraise(
    attesters: &[Attester],
    refs: &ReferenceValues,
    policy: &Policy,
    ctx: &Context,
) -> (Ear, Vec<Finding>) {
    let mut submods = BTreeMap::new();
    let mut all = Vec::new();
    for a in attesters {
        let (ap, mut f) = appraise_attester(a, refs, policy, ctx);
        for x in &mut f {
            x.claim = format!("{}.{}", a.name, x.claim);
        }
        all.extend(f);
        submods.insert(a.name.clone(), ap);
    }
    let ear = Ear {
        profile: EAR_PROFILE.into(),
        iat: ctx.now as i64,
        exp: Some((ctx.now + policy.ear_validity_secs) as i64),
        verifier_id: VerifierId {
            developer: "coco".into(),
            build: format!("coco {}", env!("CARGO_PKG_VERSION")),
        },
        nonce: ctx.nonce.clone(),
        status: None,
        submods,
        extra: Map::new(),
    };
    (ear, all)
}
