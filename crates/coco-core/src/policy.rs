//! The declarative appraisal policy (TOML), applied on top of the reference values.
//!
//! ```toml
//! id = "acme-prod-2026-01"
//! allow_debug = false
//! tcb_status = ["UpToDate"]                       # Intel's names; only UpToDate by default
//! out_of_date_until = "2026-03-01T00:00:00Z"      # OutOfDate accepted (as a warning) until then
//! allowed_advisories = ["INTEL-SA-00837"]         # when set, every advisory must be listed
//! min_tcb_evaluation_data_number = 17             # TDX collateral at least this recent
//! require_binding = true                          # report_data / GPU nonce = DESIGN §1 binding
//! require_revocation_check = true                 # or per platform, see below
//! require_reference_values = true
//! max_evidence_age_secs = 300
//! gpu_cc_mode = true                              # GPUs must be in CC mode ...
//! forbid_gpu_devtools = true                      # ... and not in CC DEVTOOLS mode
//! allow_simulated = false                         # simulated TEEs are refused unless set
//! ear_validity_secs = 300
//!
//! # Which attesters a release needs (defaults: from the reference values, see Composition).
//! [composition]
//! cpu = ["snp", "tdx"]                            # accepted CPU platforms; exactly one CPU
//! gpus = 8                                        # exact number of GPUs
//! gpu_models = ["GH100"]                          # accepted GPU models
//! ```
//!
//! Revocation is required per platform; a waiver for one platform never relaxes another:
//!
//! ```toml
//! [require_revocation_check]
//! nvidia = false                                  # tdx and snp stay required
//! ```
//!
//! ```
//! use coco_core::{claims::Platform, policy::Policy};
//! let p = Policy::from_toml("[require_revocation_check]\nnvidia = false\n").unwrap();
//! assert!(p.require_revocation_check.requires(Platform::Tdx));
//! assert!(!p.require_revocation_check.requires(Platform::Nvidia));
//! ```

use serde::Deserialize;

use crate::claims::{Platform, TcbStatus};
use crate::error::{CoreError, Result};

/// Whether revocation data must have been checked, per platform. Written in TOML either as
/// one boolean for every platform or as a table (`{ tdx, snp, nvidia }`, each defaulting to
/// `true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// TDX: PCK and root CA CRLs.
    pub tdx: bool,
    /// SEV-SNP: AMD's CRL for the product.
    pub snp: bool,
    /// NVIDIA GPUs: OCSP for the device chain.
    pub nvidia: bool,
}

impl Revocation {
    /// Required for every platform (the strict default).
    pub const ALL: Revocation = Revocation {
        tdx: true,
        snp: true,
        nvidia: true,
    };
    /// Required for none (simulated TEEs, offline experiments).
    pub const NONE: Revocation = Revocation {
        tdx: false,
        snp: false,
        nvidia: false,
    };

    /// Whether `platform` must carry checked revocation data.
    pub fn requires(&self, platform: Platform) -> bool {
        match platform {
            Platform::Tdx => self.tdx,
            Platform::Snp => self.snp,
            Platform::Nvidia => self.nvidia,
            // Nothing to revoke: the sample attester is never hardware.
            Platform::Sample => false,
        }
    }
}

impl Default for Revocation {
    fn default() -> Self {
        Revocation::ALL
    }
}

impl<'de> Deserialize<'de> for Revocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Per {
            #[serde(default = "yes")]
            tdx: bool,
            #[serde(default = "yes")]
            snp: bool,
            #[serde(default = "yes")]
            nvidia: bool,
        }
        fn yes() -> bool {
            true
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            All(bool),
            Per(Per),
        }
        Ok(match Form::deserialize(d)? {
            Form::All(b) => Revocation {
                tdx: b,
                snp: b,
                nvidia: b,
            },
            Form::Per(p) => Revocation {
                tdx: p.tdx,
                snp: p.snp,
                nvidia: p.nvidia,
            },
        })
    }
}

/// Which attesters a release needs. A field left out takes its default from the reference
/// values: the CPU platforms they describe, at least one GPU when they describe GPUs (none
/// otherwise), and the GPU models they describe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Composition {
    /// Accepted CPU platforms (`tdx`, `snp`); a release needs exactly one CPU attester.
    pub cpu: Option<Vec<Platform>>,
    /// The exact number of GPUs.
    pub gpus: Option<u32>,
    /// Accepted GPU models (`GH100`, `GB100`, ...).
    pub gpu_models: Option<Vec<String>>,
}

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
    pub tcb_status: Vec<TcbStatus>,
    /// `OutOfDate` is accepted (as a warning) until this time (RFC 3339) even if not listed.
    pub out_of_date_until: Option<String>,
    /// When set, every advisory ID reported must be in this list.
    pub allowed_advisories: Option<Vec<String>>,
    /// When set, TDX collateral must be at least this recent: TCB Info's
    /// `tcbEvaluationDataNumber` (Intel raises it at each TCB recovery) must be at least this.
    pub min_tcb_evaluation_data_number: Option<u32>,
    /// Require report_data (and GPU nonces) to equal the key-release binding. Only offline
    /// appraisal may turn it off; the key-release service refuses such a policy.
    pub require_binding: bool,
    /// Require evidence whose revocation data was checked, per platform.
    pub require_revocation_check: Revocation,
    /// Require reference values for every attester. Only offline appraisal may turn it off;
    /// the key-release service refuses such a policy.
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
    /// Which attesters a release needs.
    pub composition: Composition,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            id: "coco-default".into(),
            allow_debug: false,
            tcb_status: vec![TcbStatus::UpToDate],
            out_of_date_until: None,
            allowed_advisories: None,
            min_tcb_evaluation_data_number: None,
            require_binding: true,
            require_revocation_check: Revocation::ALL,
            require_reference_values: true,
            max_evidence_age_secs: Some(300),
            gpu_cc_mode: true,
            forbid_gpu_devtools: true,
            allow_simulated: false,
            ear_validity_secs: 300,
            composition: Composition::default(),
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
        if p.tcb_status.contains(&TcbStatus::Revoked) {
            return Err(CoreError::Policy(
                "tcb_status lists Revoked: a revoked TCB is never accepted".into(),
            ));
        }
        if let Some(cpu) = &p.composition.cpu
            && let Some(bad) = cpu.iter().find(|c| !c.is_cpu())
        {
            return Err(CoreError::Policy(format!(
                "composition.cpu lists {bad}, which is not a CPU platform"
            )));
        }
        Ok(p)
    }

    /// The settings that would let a key out without binding or without reference values;
    /// a key-release service refuses to start with any of them (empty when none is set).
    pub fn release_blockers(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.require_binding {
            out.push("require_binding");
        }
        if !self.require_reference_values {
            out.push("require_reference_values");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_bool_or_table() {
        let all = Policy::from_toml("require_revocation_check = false").unwrap();
        assert_eq!(all.require_revocation_check, Revocation::NONE);
        let gpu = Policy::from_toml("[require_revocation_check]\nnvidia = false").unwrap();
        assert_eq!(
            gpu.require_revocation_check,
            Revocation {
                nvidia: false,
                ..Revocation::ALL
            }
        );
        assert!(Policy::from_toml("[require_revocation_check]\nnvdia = false").is_err());
        assert_eq!(Policy::default().require_revocation_check, Revocation::ALL);
    }

    #[test]
    fn composition_and_tcb_status_are_typed() {
        let p = Policy::from_toml(
            "tcb_status = [\"UpToDate\", \"SWHardeningNeeded\"]\n[composition]\ncpu = [\"tdx\"]\ngpus = 2\ngpu_models = [\"GH100\"]",
        )
        .unwrap();
        assert_eq!(p.composition.cpu, Some(vec![Platform::Tdx]));
        assert_eq!(p.composition.gpus, Some(2));
        assert!(matches!(
            Policy::from_toml("tcb_status = [\"Uptodate\"]"),
            Err(CoreError::Policy(_))
        ));
        assert!(matches!(
            Policy::from_toml("[composition]\ncpu = [\"nvidia\"]"),
            Err(CoreError::Policy(_))
        ));
    }

    #[test]
    fn release_blockers_name_the_setting() {
        assert!(Policy::default().release_blockers().is_empty());
        let p =
            Policy::from_toml("require_binding = false\nrequire_reference_values = false").unwrap();
        assert_eq!(
            p.release_blockers(),
            ["require_binding", "require_reference_values"]
        );
    }
}
