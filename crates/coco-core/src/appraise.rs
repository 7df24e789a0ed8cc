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
use crate::corim::{Environment, Mkey, Mval, Svn, ValueTriple};
use crate::ear::{Appraisal, Ear, PROFILE as EAR_PROFILE, TrustVector, VerifierId};
use crate::error::Result;
use crate::policy::Policy;
use crate::profile::{self, SnpTcb};
use crate::validate;

pub use crate::claims::Platform;

pub use crate::attester::Attester;
pub use crate::finding::Finding;
pub use crate::reference::{Described, ReferenceValues};

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
