//! One attester as appraisal sees it: typed claims of verified evidence and their JSON view.

use serde_json::{Value as Json, json};

use crate::claims::{Claims, Platform};

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
