//! Per-platform validation of verified claims against the policy (go-tdx-guest's `validate`
//! is the model): each function reads typed claims only and returns every finding at once.
//! Reference values are compared in [`crate::appraise`]; composition in
//! [`crate::composition`].

use serde_json::json;

use crate::attester::Attester;
use crate::claims::{GpuClaims, SnpClaims, TcbStatus, TdxClaims};
use crate::finding::Finding;
use crate::policy::Policy;

/// What a platform's rules found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validation {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The hardware is acceptable but not current (e.g. a TCB status other than `UpToDate`
    /// that the policy accepts): the trust vector says so.
    pub hardware_warning: bool,
}

/// TDX: TCB status (Intel's names, with the policy's `OutOfDate` grace period) and advisories.
pub fn tdx(c: &TdxClaims, policy: &Policy, now: u64) -> Validation {
    let mut v = Validation::default();
    match c.tcb_status {
        None => v.findings.push(Finding::new(
            "tcb_status",
            json!(policy.tcb_status),
            json!(null),
            "hardware",
        )),
        Some(s) => {
            // A revoked TCB is never accepted, whatever the policy lists.
            let listed = s != TcbStatus::Revoked && policy.tcb_status.contains(&s);
            let grace = s == TcbStatus::OutOfDate
                && policy
                    .out_of_date_until
                    .as_deref()
                    .and_then(crate::time::unix_rfc3339)
                    .is_some_and(|until| now <= until);
            if !(listed || grace) {
                v.findings.push(Finding::new(
                    "tcb_status",
                    json!(policy.tcb_status),
                    json!(s),
                    "hardware",
                ));
            } else if s != TcbStatus::UpToDate {
                v.hardware_warning = true;
            }
        }
    }
    if let Some(min) = policy.min_tcb_evaluation_data_number
        && c.tcb_evaluation_data_number.is_none_or(|n| n < min)
    {
        v.findings.push(Finding::new(
            "tcb_evaluation_data_number",
            json!(format!(">= {min}")),
            json!(c.tcb_evaluation_data_number),
            "hardware",
        ));
    }
    if let Some(allowed) = &policy.allowed_advisories {
        let extra: Vec<&String> = c
            .advisory_ids
            .iter()
            .filter(|r| !allowed.contains(r))
            .collect();
        if !extra.is_empty() {
            v.findings.push(Finding::new(
                "advisory_ids",
                json!(allowed),
                json!(extra),
                "hardware",
            ));
        }
    }
    v
}

/// SEV-SNP: everything SNP-specific is a reference value (measurement, policy, TCB minimum);
/// the common rules apply.
pub fn snp(_c: &SnpClaims, _policy: &Policy) -> Validation {
    Validation::default()
}

/// NVIDIA GPUs: confidential-computing mode on, DEVTOOLS mode off.
pub fn gpu(c: &GpuClaims, policy: &Policy) -> Validation {
    let mut v = Validation::default();
    if policy.gpu_cc_mode && !c.cc_mode {
        v.findings.push(Finding::new(
            "cc_mode",
            json!(true),
            json!(false),
            "configuration",
        ));
    }
    if policy.forbid_gpu_devtools && c.devtools_mode {
        v.findings.push(Finding::new(
            "devtools_mode",
            json!(false),
            json!(true),
            "configuration",
        ));
    }
    v
}

/// What the rules common to every platform found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Common {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The binding was checked and holds.
    pub binding_ok: bool,
}

/// The rules of every platform: debug, revocation (per platform), binding, evidence age,
/// simulation.
pub fn common(a: &Attester, policy: &Policy, now: u64) -> Common {
    let mut out = Common::default();
    let c = a.claims();
    if c.debug() && !policy.allow_debug {
        out.findings.push(Finding::new(
            "debug",
            json!(false),
            json!(true),
            "configuration",
        ));
    }
    if policy.require_revocation_check.requires(a.platform()) && !c.revocation_checked() {
        out.findings.push(Finding::new(
            "revocation_checked",
            json!(true),
            json!(false),
            "hardware",
        ));
    }
    if let Some(expected) = a.expected_binding() {
        let (field, found) = c.binding();
        if bool::from(subtle::ConstantTimeEq::ct_eq(found, expected)) {
            out.binding_ok = true;
        } else if policy.require_binding {
            out.findings.push(Finding::new(
                field,
                json!(hex::encode(expected)),
                json!(hex::encode(found)),
                "instance-identity",
            ));
        }
    }
    if let (Some(max), Some(at)) = (policy.max_evidence_age_secs, a.collected_at())
        && now.saturating_sub(at) > max
    {
        out.findings.push(Finding::new(
            "evidence_age_secs",
            json!(max),
            json!(now - at),
            "instance-identity",
        ));
    }
    if a.is_simulated() && !policy.allow_simulated {
        out.findings.push(Finding::new(
            "simulated",
            json!(false),
            json!(true),
            "hardware",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TdxClaims;

    /// TDX claims of status `s` (evaluation data number 17), everything else zero.
    fn claims(s: TcbStatus) -> TdxClaims {
        TdxClaims {
            mr_td: [0; 48],
            rtmr: [[0; 48]; 4],
            mr_seam: [0; 48],
            mr_signer_seam: [0; 48],
            mr_config_id: [0; 48],
            mr_owner: [0; 48],
            mr_owner_config: [0; 48],
            td_attributes: [0; 8],
            xfam: [0; 8],
            report_data: [0; 64],
            debug: false,
            tcb_status: Some(s),
            advisory_ids: vec![],
            tcb_evaluation_data_number: Some(17),
            revocation_checked: true,
        }
    }

    /// A revoked TCB is a finding even under a policy built in code that lists it.
    #[test]
    fn a_revoked_tcb_is_never_accepted() {
        let lax = Policy {
            tcb_status: vec![
                TcbStatus::UpToDate,
                TcbStatus::OutOfDate,
                TcbStatus::Revoked,
            ],
            ..Policy::default()
        };
        assert!(tdx(&claims(TcbStatus::Revoked), &lax, 0).findings.len() == 1);
        let ok = tdx(&claims(TcbStatus::OutOfDate), &lax, 0);
        assert!(ok.findings.is_empty() && ok.hardware_warning);
    }

    /// Collateral older than the policy's evaluation data number, or none, is a finding.
    #[test]
    fn collateral_below_the_minimum_evaluation_data_number_is_refused() {
        let mut c = claims(TcbStatus::UpToDate);
        let p = Policy::from_toml("min_tcb_evaluation_data_number = 18").unwrap();
        let named = |v: &Validation| -> Vec<String> {
            v.findings.iter().map(|f| f.claim.clone()).collect()
        };
        assert_eq!(named(&tdx(&c, &p, 0)), ["tcb_evaluation_data_number"]);
        c.tcb_evaluation_data_number = Some(18);
        assert!(tdx(&c, &p, 0).findings.is_empty());
        c.tcb_evaluation_data_number = None;
        assert_eq!(named(&tdx(&c, &p, 0)).len(), 1);
        assert!(tdx(&c, &Policy::default(), 0).findings.is_empty());
    }
}
