//! The declarative appraisal policy (TOML), applied on top of the reference values.
//!
//! ```toml
//! id = "acme-prod-2026-01"
//! allow_debug = false
//! tcb_status = ["UpToDate"]                       # Intel's names; only UpToDate by default
//! out_of_date_until = "2026-03-01T00:00:00Z"      # OutOfDate accepted (as a warning) until then
//! allowed_advisories = ["INTEL-SA-00837"]         # when set, every advisory must be listed
//! require_binding = true                          # report_data / GPU nonce = DESIGN §1 binding
//! require_revocation_check = true
//! require_reference_values = true
//! max_evidence_age_secs = 300
//! gpu_cc_mode = true                              # GPUs must be in CC mode ...
//! forbid_gpu_devtools = true                      # ... and not in CC DEVTOOLS mode
//! allow_simulated = false                         # simulated TEEs are refused unless set
//! ear_validity_secs = 300
//! ```

use serde::Deserialize;

use crate::error::{CoreError, Result};

/// An appraisal policy. Every field has the strict default shown in the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// The policy's id, reported in the EAR (`ear_appraisal_policy_ids`).
    pub id: String,
    /// Accept debuggable TDs / VMs.
    pub allow_debug: bool,
    /// Accepted TCB statuses (Intel's names). `UpToDate` is affirming; any other listed status
    /// is a warning.
    pub tcb_status: Vec<String>,
    /// `OutOfDate` is accepted (as a warning) until this time (RFC 3339) even if not listed.
    pub out_of_date_until: Option<String>,
    /// When set, every advisory ID reported must be in this list.
    pub allowed_advisories: Option<Vec<String>>,
    /// Require report_data (and GPU nonces) to equal the key-release binding, when the caller
    /// supplies the expected binding.
    pub require_binding: bool,
    /// Require evidence whose revocation data was checked.
    pub require_revocation_check: bool,
    /// Require reference values for every attester.
    pub require_reference_values: bool,
    /// Maximum age of evidence (seconds from collection to appraisal), when known.
    pub max_evidence_age_secs: Option<u64>,
    /// Require GPUs in confidential-computing mode.
    pub gpu_cc_mode: bool,
    /// Refuse GPUs in CC DEVTOOLS mode.
    pub forbid_gpu_devtools: bool,
    /// Accept evidence from a simulated TEE (demos and tests only).
    pub allow_simulated: bool,
    /// Validity of the EAR issued (seconds).
    pub ear_validity_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            id: "coco-default".into(),
            allow_debug: false,
            tcb_status: vec!["UpToDate".into()],
            out_of_date_until: None,
            allowed_advisories: None,
            require_binding: true,
            require_revocation_check: true,
            require_reference_values: true,
            max_evidence_age_secs: Some(300),
            gpu_cc_mode: true,
            forbid_gpu_devtools: true,
            allow_simulated: false,
            ear_validity_secs: 300,
        }
    }
}

impl Policy {
    /// Reads a TOML policy; unknown keys are an error (a typo must not weaken the policy).
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: Policy = toml::from_str(text).map_err(|e| CoreError::Policy(e.to_string()))?;
        if let Some(t) = &p.out_of_date_until
            && crate::time::parse_rfc3339(t).is_none()
        {
            return Err(CoreError::Policy(format!(
                "out_of_date_until {t:?} is not RFC 3339"
            )));
        }
        Ok(p)
    }
}
