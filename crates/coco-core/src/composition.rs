//! Composition: which attesters a release needs. The policy states it
//! ([`crate::policy::Composition`]); what it leaves out comes from the reference values (the
//! CPU platforms and GPU models they describe). A bundle that lacks a required attester,
//! carries one that is not expected, or carries the same device twice is refused, with a
//! finding that names the attester.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::attester::Attester;
use crate::claims::Platform;
use crate::finding::Finding;
use crate::policy::Policy;
use crate::reference::ReferenceValues;

const CATEGORY: &str = "instance-identity";

/// How many GPUs a release needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuCount {
    /// Exactly this many.
    Exactly(u32),
    /// At least one.
    AtLeastOne,
    /// Any number (offline appraisal without reference values).
    Any,
}

/// The composition in force for a policy and reference values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// The accepted CPU platforms (exactly one CPU attester), or `None`: not constrained.
    pub cpu: Option<BTreeSet<Platform>>,
    /// The GPU count.
    pub gpus: GpuCount,
    /// The accepted GPU models, or `None`: not constrained.
    pub gpu_models: Option<BTreeSet<String>>,
}

impl Required {
    /// The composition `policy` states, completed from `refs` where it is silent. Defaults are
    /// taken from the reference values only when the policy requires reference values (offline
    /// appraisal that turns them off constrains only what the policy states).
    pub fn new(policy: &Policy, refs: &ReferenceValues) -> Self {
        let c = &policy.composition;
        let d = if policy.require_reference_values {
            refs.described()
        } else {
            Default::default()
        };
        let cpu = c
            .cpu
            .as_ref()
            .map(|v| v.iter().copied().collect())
            .or_else(|| (!d.cpus.is_empty()).then(|| d.cpus.clone()));
        let gpu_models = c
            .gpu_models
            .as_ref()
            .map(|v| v.iter().cloned().collect())
            .or_else(|| (!d.gpu_models.is_empty()).then(|| d.gpu_models.clone()));
        let gpus = match c.gpus {
            Some(n) => GpuCount::Exactly(n),
            None if !policy.require_reference_values => GpuCount::Any,
            None if d.gpu_models.is_empty() => GpuCount::Exactly(0),
            None => GpuCount::AtLeastOne,
        };
        Self {
            cpu,
            gpus,
            gpu_models,
        }
    }

    fn describe_gpus(&self) -> String {
        let models = self
            .gpu_models
            .as_ref()
            .map(|m| format!(" of {}", m.iter().cloned().collect::<Vec<_>>().join("/")))
            .unwrap_or_default();
        match self.gpus {
            GpuCount::Exactly(n) => format!("{n} GPU(s){models}"),
            GpuCount::AtLeastOne => format!("at least 1 GPU{models}"),
            GpuCount::Any => format!("any GPUs{models}"),
        }
    }
}

/// Every composition finding of `attesters` (claims named after the attester concerned:
/// `gpu1.device`, `cpu1.attester`, `gpu0.model`, `gpu0` for a missing one).
pub fn findings(attesters: &[Attester], refs: &ReferenceValues, policy: &Policy) -> Vec<Finding> {
    let req = Required::new(policy, refs);
    let mut out = Vec::new();
    let (cpus, gpus): (Vec<&Attester>, Vec<&Attester>) =
        attesters.iter().partition(|a| a.platform().is_cpu());

    if let Some(allowed) = &req.cpu {
        let names: Vec<&str> = allowed.iter().map(|p| p.name()).collect();
        if cpus.is_empty() {
            out.push(Finding::new(
                "cpu0",
                json!(format!("one CPU attester ({})", names.join(" or "))),
                json!("missing"),
                CATEGORY,
            ));
        }
        for (i, a) in cpus.iter().enumerate() {
            if i > 0 {
                out.push(Finding::new(
                    format!("{}.attester", a.name()),
                    json!("one CPU attester per release"),
                    json!(format!("unexpected {} attester", a.platform())),
                    CATEGORY,
                ));
            } else if !allowed.contains(&a.platform()) {
                out.push(Finding::new(
                    format!("{}.attester", a.name()),
                    json!(names),
                    json!(format!("unexpected {} attester", a.platform())),
                    CATEGORY,
                ));
            }
        }
    }

    let n = gpus.len() as u32;
    let too_few = match req.gpus {
        GpuCount::Exactly(k) => k.saturating_sub(n),
        GpuCount::AtLeastOne => u32::from(n == 0),
        GpuCount::Any => 0,
    };
    for i in n..n + too_few {
        out.push(Finding::new(
            format!("gpu{i}"),
            json!(req.describe_gpus()),
            json!(format!("missing: gpu{i} (the bundle has {n} GPU(s))")),
            CATEGORY,
        ));
    }
    if let GpuCount::Exactly(k) = req.gpus {
        for a in gpus.iter().skip(k as usize) {
            out.push(Finding::new(
                format!("{}.attester", a.name()),
                json!(req.describe_gpus()),
                json!(format!("unexpected GPU attester {}", a.name())),
                CATEGORY,
            ));
        }
    }
    if let Some(models) = &req.gpu_models {
        for a in &gpus {
            if let Some(m) = a.claims().gpu_model()
                && !models.contains(m)
            {
                out.push(Finding::new(
                    format!("{}.model", a.name()),
                    json!(models),
                    json!(format!("unexpected GPU model {m}")),
                    CATEGORY,
                ));
            }
        }
    }

    // The same device twice (same ueid, same chip id), whatever the policy.
    let mut seen: BTreeMap<(bool, String), &str> = BTreeMap::new();
    for a in attesters {
        if let Some(id) = a.claims().device_id() {
            let key = (a.platform().is_cpu(), id);
            if let Some(first) = seen.get(&key) {
                out.push(Finding::new(
                    format!("{}.device", a.name()),
                    json!("a device not already in the bundle"),
                    json!(format!("same device as {first} ({})", key.1)),
                    CATEGORY,
                ));
            } else {
                seen.insert(key, a.name());
            }
        }
    }
    out
}
