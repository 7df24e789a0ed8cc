//! Appraisal: verified claims of each attester, reference values from CoRIMs, and a policy in;
//! an EAR out, with one submodule per attester (`cpu0`, `gpu0`, ...), its AR4SI trust vector
//! and every finding at once (the claim, what was expected, what was found).
//!
//! Attesters are built from values that `coco-evidence` verified (its `Verified<T>` claims);
//! this module never sees unverified evidence.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use crate::claims::Claims;
use crate::corim::compare::{self, Mismatch};
use crate::corim::{Corim, Environment, Mkey, Mval, Svn, ValueTriple};
use crate::ear::{Appraisal, Ear, PROFILE as EAR_PROFILE, TrustVector, VerifierId};
use crate::error::{CoreError, Result};
use crate::policy::Policy;
use crate::profile::{self, SnpTcb};
use crate::validate;

pub use crate::claims::Platform;

/// One attester: its typed claims (what the rules read), the DESIGN §4 JSON view of the same
/// verified report (what the CLI, C and Python contracts print), and how it is to be appraised.
///
/// Fields are private. Verifiers build attesters from verified evidence only: the functions
/// of `coco_evidence::attester` take a `Verified<T>` and are the only callers of
/// [`Attester::verified`] and [`Attester::simulated`] in coco; front ends reach appraisal
/// through the decision API, which never takes attesters from its callers.
#[derive(Debug, Clone, PartialEq)]
pub struct Attester {
    name: String,
    claims: Claims,
    view: Json,
    simulated: bool,
    collected_at: Option<u64>,
    expected_binding: Option<Vec<u8>>,
}

impl Attester {
    /// An attester of hardware evidence whose signatures, chains and collateral verified.
    /// For verifiers: `claims` and `view` must come from the same verified report.
    pub fn verified(name: impl Into<String>, claims: Claims, view: Json) -> Self {
        Self {
            name: name.into(),
            claims,
            view,
            simulated: false,
            collected_at: None,
            expected_binding: None,
        }
    }

    /// An attester of a simulated TEE (demos and tests): appraisal refuses it unless the
    /// policy allows simulation, and its EAR says so.
    pub fn simulated(name: impl Into<String>, claims: Claims, mut view: Json) -> Self {
        if let Some(o) = view.as_object_mut() {
            o.insert("simulated".into(), json!(true));
        }
        Self {
            simulated: true,
            ..Self::verified(name, claims, view)
        }
    }

    /// The same attester under submodule name `name`.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Requires the binding claim (report_data for CPUs, the request nonce for GPUs) to equal
    /// `expected`.
    pub fn with_expected_binding(mut self, expected: &[u8]) -> Self {
        self.expected_binding = Some(expected.to_vec());
        self
    }

    /// When the evidence was produced (Unix seconds), for the policy's maximum age.
    pub fn with_collected_at(mut self, at: u64) -> Self {
        self.collected_at = Some(at);
        self
    }

    /// The submodule name (`cpu0`, `gpu0`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The platform.
    pub fn platform(&self) -> Platform {
        self.claims.platform()
    }

    /// The typed claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The claims as JSON (DESIGN §4 names).
    pub fn view(&self) -> &Json {
        &self.view
    }

    /// Whether the evidence came from a simulated TEE.
    pub fn is_simulated(&self) -> bool {
        self.simulated
    }

    /// When the evidence was produced (Unix seconds), if known.
    pub fn collected_at(&self) -> Option<u64> {
        self.collected_at
    }

    /// The expected binding, if one was set.
    pub fn expected_binding(&self) -> Option<&[u8]> {
        self.expected_binding.as_deref()
    }
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
                return Err(CoreError::UnknownProfile {
                    document: format!("CoRIM {:?}", c.id.to_text()),
                    profile: p,
                });
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

    /// Reference values from a REFS.toml document (`coco corim build`'s input, see
    /// docs/PROFILE.md): local configuration, built and read in one step.
    ///
    /// ```
    /// let r = coco_core::appraise::ReferenceValues::from_refs_toml("id = \"r\"\n[sample]\nsvn_min = 1\n").unwrap();
    /// assert_eq!(r.len(), 1);
    /// ```
    pub fn from_refs_toml(text: &str) -> Result<Self> {
        let cbor = crate::corim::build::build(text)?;
        let corim = Corim::decode(&cbor, &crate::corim::DecodeOptions::default())?;
        Self::from_corims(&[corim])
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

    /// The attesters these reference values describe: the CPU platforms and the GPU models
    /// some reference triple applies to (the default composition of a release).
    pub fn described(&self) -> Described {
        let mut d = Described::default();
        let tdx = profile::tdx_environment();
        let snp = [true, false].map(profile::snp_environment);
        for t in &self.triples {
            if compare::environment(&t.environment, &tdx) {
                d.cpus.insert(Platform::Tdx);
            }
            if snp.iter().any(|e| compare::environment(&t.environment, e)) {
                d.cpus.insert(Platform::Snp);
            }
            if compare::environment(&t.environment, &profile::sample_environment()) {
                d.cpus.insert(Platform::Sample);
            }
            if let Some(c) = &t.environment.class
                && c.vendor.as_deref() == Some("NVIDIA")
                && let Some(m) = &c.model
            {
                d.gpu_models.insert(m.clone());
            }
        }
        d
    }
}

/// What a set of reference values describes (see [`ReferenceValues::described`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// CPU platforms.
    pub cpus: std::collections::BTreeSet<Platform>,
    /// GPU models (`GH100`, ...).
    pub gpu_models: std::collections::BTreeSet<String>,
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
    /// A finding about `claim`.
    pub fn new(
        claim: impl Into<String>,
        expected: Json,
        found: Json,
        category: &'static str,
    ) -> Self {
        Self {
            claim: claim.into(),
            expected,
            found,
            category,
        }
    }

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
    match a.claims() {
        Claims::Tdx(_) => profile::tdx_environment(),
        Claims::Snp(c) => {
            profile::snp_environment(c.signing_key == crate::claims::SnpSigningKey::Vlek)
        }
        Claims::Gpu(c) => profile::nvidia_environment(&c.model),
        Claims::Sample(_) => profile::sample_environment(),
    }
}

fn evidence_mvals(a: &Attester) -> Vec<(Mkey, Mval)> {
    match a.claims() {
        Claims::Tdx(c) => profile::tdx_evidence(c),
        Claims::Snp(c) => profile::snp_evidence(c),
        Claims::Gpu(c) => profile::nvidia_evidence(c),
        Claims::Sample(c) => profile::sample_evidence(c),
    }
}

/// The reference values of one attester: every applicable group of measurement keys must be
/// corroborated by one of its alternatives.
fn reference_findings(a: &Attester, refs: &ReferenceValues, policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    let env = evidence_environment(a);
    let evidence = evidence_mvals(a);
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
        findings.push(Finding::new(
            "reference values",
            json!(format!("reference values for {}", env.to_json())),
            json!(null),
            "executables",
        ));
    }
    let (nvdec0_off, snp_product) = match a.claims() {
        Claims::Gpu(c) => (c.nvdec0_disabled, None),
        Claims::Snp(c) => (false, Some(c.product.name())),
        Claims::Tdx(_) | Claims::Sample(_) => (false, None),
    };
    for (keys, alternatives) in &groups {
        if nvdec0_off && keys.as_slice() == [Mkey::Uint(profile::nvidia_mkey::NVDEC0_INDEX)] {
            continue;
        }
        let matched = alternatives.iter().any(|t| {
            t.measurements.iter().all(|m| {
                let Some(k) = &m.mkey else { return false };
                evidence.iter().any(|(ek, ev)| {
                    ek == k
                        && match snp_product {
                            Some(product) if *k == Mkey::Uint(profile::snp_mkey::REPORTED_TCB) => {
                                snp_tcb_match(&m.mval, ev, product).is_ok()
                            }
                            _ => compare::mval(&m.mval, ev).is_ok(),
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
                findings.push(Finding::new(
                    mkey_name(k, a.platform()),
                    json!(expected),
                    found,
                    category(k, a.platform()),
                ));
            }
        }
    }
    findings
}

/// Appraises one attester; returns its appraisal with every finding.
pub fn appraise_attester(
    a: &Attester,
    refs: &ReferenceValues,
    policy: &Policy,
    ctx: &Context,
) -> (Appraisal, Vec<Finding>) {
    let mut tv = TrustVector::default();
    let mut findings = reference_findings(a, refs, policy);
    let v = match a.claims() {
        Claims::Tdx(c) => validate::tdx(c, policy, ctx.now),
        Claims::Snp(c) => validate::snp(c, policy),
        Claims::Gpu(c) => validate::gpu(c, policy),
        // Nothing to validate but what every attester gets (binding, simulation).
        Claims::Sample(_) => validate::Validation::default(),
    };
    findings.extend(v.findings);
    if v.hardware_warning {
        tv.set("hardware", 32);
    }
    let common = validate::common(a, policy, ctx.now);
    findings.extend(common.findings);
    let binding_ok = common.binding_ok;

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
    let hw = if a.is_simulated() && !policy.allow_simulated {
        97
    } else if bad("hardware") {
        96
    } else {
        tv.get("hardware").unwrap_or(2)
    };
    tv.set("hardware", hw);
    tv.set("runtime-opaque", if a.is_simulated() { 32 } else { 2 });

    let mut extra = Map::new();
    extra.insert("coco_platform".into(), json!(a.platform().name()));
    if a.is_simulated() {
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

/// The submodule of the EAR that carries composition findings (present only when there are
/// some).
pub const COMPOSITION_SUBMOD: &str = "composition";

/// Appraises every attester and the composition of the bundle, and issues the EAR: one
/// submodule per attester, plus [`COMPOSITION_SUBMOD`] when a required attester is missing,
/// one is not expected, or the same device appears twice. Findings are prefixed with the
/// submodule they belong to (`cpu0.debug`, `composition.gpu0`).
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
            x.claim = format!("{}.{}", a.name(), x.claim);
        }
        all.extend(f);
        submods.insert(a.name().to_string(), ap);
    }
    let composition = crate::composition::findings(attesters, refs, policy);
    if !composition.is_empty() {
        let mut tv = TrustVector::default();
        tv.set("instance-identity", 96);
        let mut extra = Map::new();
        extra.insert(
            "coco_findings".into(),
            composition.iter().map(Finding::to_json).collect(),
        );
        submods.insert(
            COMPOSITION_SUBMOD.to_string(),
            Appraisal {
                status: tv.status(),
                trust_vector: tv,
                policy_ids: vec![policy.id.clone()],
                extra,
            },
        );
        all.extend(composition.into_iter().map(|mut f| {
            f.claim = format!("{COMPOSITION_SUBMOD}.{}", f.claim);
            f
        }));
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
