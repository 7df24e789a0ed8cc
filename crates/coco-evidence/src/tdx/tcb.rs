//! TCB status by Intel's algorithm (Intel DCAP Quote Verification Library, TDX):
//!
//! 1. the platform level: the first TCB Info level (newest first) whose 16 SGX component SVNs
//!    and PCESVN are all at most the PCK certificate's, and whose TDX component SVNs are at
//!    most TEE_TCB_SVN's (from index 2 on when the module major version is non-zero, as the
//!    first two bytes then belong to the TDX module identity);
//! 2. the TDX module: its signer and attributes must match TCB Info; for a non-zero major
//!    version, identity `TDX_%02X` and the first level whose ISVSVN is at most the module's;
//! 3. the QE: MRSIGNER, ISVPRODID, masked MISCSELECT and ATTRIBUTES must match QE Identity;
//!    the first level whose ISVSVN is at most the QE's (none: `Revoked`);
//! 4. the final status converges the three (a module or QE that is `OutOfDate` makes an
//!    up-to-date platform `OutOfDate`, a configuration-needed one
//!    `OutOfDateConfigurationNeeded`; `Revoked` wins) and the advisory IDs are the union.
//!
//! Every status is reported as it is; the policy layer decides what to accept. No matching
//! platform or module level is its own error ([`EvidenceError::NoTcbLevel`]).

use serde::Serialize;

use super::abi::{QeReport, TdReport};
use super::pck::PckExtensions;
use super::pcs::{Collateral, IsvTcbLevel, TcbStatus, hex_n};
use crate::error::{EvidenceError, Result};

/// The level one of the three parts matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelMatch {
    /// The level's status.
    pub status: TcbStatus,
    /// The level's date.
    pub tcb_date: String,
    /// Its advisories.
    pub advisory_ids: Vec<String>,
}

/// The result of the TCB evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcbEvaluation {
    /// The converged status.
    pub status: TcbStatus,
    /// Union of the advisories of the three levels, sorted.
    pub advisory_ids: Vec<String>,
    /// The platform (SGX + TDX components) level.
    pub platform: LevelMatch,
    /// The TDX module identity (`TDX_01` ...) and its level; `None` for major version 0.
    pub module: Option<(String, LevelMatch)>,
    /// The QE identity level.
    pub qe: LevelMatch,
    /// TCB Info's evaluation data number.
    pub tcb_evaluation_data_number: u32,
}

fn converge(platform: TcbStatus, other: TcbStatus) -> TcbStatus {
    use TcbStatus::*;
    match other {
        Revoked => Revoked,
        OutOfDate | OutOfDateConfigurationNeeded => match platform {
            UpToDate | SWHardeningNeeded => OutOfDate,
            ConfigurationNeeded | ConfigurationAndSWHardeningNeeded => OutOfDateConfigurationNeeded,
            p => p,
        },
        _ => platform,
    }
}

fn isv_level(levels: &[IsvTcbLevel], isvsvn: u16) -> Option<LevelMatch> {
    levels
        .iter()
        .find(|l| l.tcb.isvsvn <= isvsvn)
        .map(|l| LevelMatch {
            status: l.tcb_status,
            tcb_date: l.tcb_date.clone(),
            advisory_ids: l.advisory_ids.clone(),
        })
}

fn masked_eq(found: &[u8], expected: &[u8], mask: &[u8]) -> bool {
    found.len() == expected.len()
        && found.len() == mask.len()
        && found
            .iter()
            .zip(expected)
            .zip(mask)
            .all(|((f, e), m)| f & m == e & m)
}

fn mismatch(what: &str, evidence: &[u8], endorsement: &str) -> EvidenceError {
    EvidenceError::Mismatch {
        what: what.into(),
        evidence: hex::encode(evidence),
        endorsement: endorsement.to_ascii_lowercase(),
    }
}

/// Evaluates the TCB status of a quote's platform, TDX module and QE against verified
/// collateral. The caller has checked that FMSPC and PCE-ID match.
pub fn evaluate(
    body: &TdReport,
    qe: &QeReport,
    pck: &PckExtensions,
    collateral: &Collateral,
) -> Result<TcbEvaluation> {
    let info = &collateral.tcb_info;

    // 1. Platform level.
    let tdx_from = if body.module_major() > 0 { 2 } else { 0 };
    let platform = info
        .tcb_levels
        .iter()
        .find(|l| {
            // A level with other than 16 components of each kind never matches (verified
            // collateral has been checked for this; `evaluate` does not rely on it).
            l.tcb.sgxtcbcomponents.len() == 16
                && l.tcb.tdxtcbcomponents.len() == 16
                && l.tcb
                .sgxtcbcomponents
                .iter()
                .zip(pck.sgx_tcb_components)
                .all(|(c, have)| c.svn <= have)
                && l.tcb.pcesvn <= pck.pce_svn
                && l.tcb.tdxtcbcomponents[tdx_from..]
                    .iter()
                    .zip(&body.tee_tcb_svn[tdx_from..])
                    .all(|(c, &have)| c.svn <= have)
        })
        .map(|l| LevelMatch {
            status: l.tcb_status,
            tcb_date: l.tcb_date.clone(),
            advisory_ids: l.advisory_ids.clone(),
        })
        .ok_or_else(|| {
            EvidenceError::NoTcbLevel(format!(
                "platform: SGX components {:?}, PCESVN {}, TEE_TCB_SVN {} are below every level of TCB Info (FMSPC {}, evaluation data number {})",
                pck.sgx_tcb_components,
                pck.pce_svn,
                hex::encode(body.tee_tcb_svn),
                info.fmspc,
                info.tcb_evaluation_data_number
            ))
        })?;

    // 2. TDX module.
    if let Some(m) = &info.tdx_module {
        let signer = hex_n::<48>(&m.mrsigner, "tdxModule mrsigner")?;
        if signer != body.mr_signer_seam {
            return Err(mismatch(
                "MRSIGNERSEAM vs. TCB Info tdxModule",
                &body.mr_signer_seam,
                &m.mrsigner,
            ));
        }
        let attrs = hex_n::<8>(&m.attributes, "tdxModule attributes")?;
        let mask = hex_n::<8>(&m.attributes_mask, "tdxModule attributesMask")?;
        if !masked_eq(&body.seam_attributes, &attrs, &mask) {
            return Err(mismatch(
                "SEAMATTRIBUTES vs. TCB Info tdxModule",
                &body.seam_attributes,
                &m.attributes,
            ));
        }
    }
    let module = match (&info.tdx_module_identities, body.module_major()) {
        (Some(ids), major) if major > 0 => {
            let want = format!("TDX_{major:02X}");
            let id = ids
                .iter()
                .find(|i| i.id.eq_ignore_ascii_case(&want))
                .ok_or_else(|| {
                    EvidenceError::NoTcbLevel(format!(
                        "TDX module: TCB Info has no identity {want} (module major version {major})"
                    ))
                })?;
            let signer = hex_n::<48>(&id.mrsigner, "tdxModuleIdentities mrsigner")?;
            if signer != body.mr_signer_seam {
                return Err(mismatch(
                    &format!("MRSIGNERSEAM vs. {want}"),
                    &body.mr_signer_seam,
                    &id.mrsigner,
                ));
            }
            let attrs = hex_n::<8>(&id.attributes, "tdxModuleIdentities attributes")?;
            let mask = hex_n::<8>(&id.attributes_mask, "tdxModuleIdentities attributesMask")?;
            if !masked_eq(&body.seam_attributes, &attrs, &mask) {
                return Err(mismatch(
                    &format!("SEAMATTRIBUTES vs. {want}"),
                    &body.seam_attributes,
                    &id.attributes,
                ));
            }
            let level =
                isv_level(&id.tcb_levels, body.module_isvsvn().into()).ok_or_else(|| {
                    EvidenceError::NoTcbLevel(format!(
                        "TDX module {want}: ISVSVN {} is below every level",
                        body.module_isvsvn()
                    ))
                })?;
            Some((id.id.clone(), level))
        }
        _ => None,
    };

    // 3. QE identity.
    let qi = &collateral.qe_identity;
    let signer = hex_n::<32>(&qi.mrsigner, "QE Identity mrsigner")?;
    if signer != qe.mr_signer {
        return Err(mismatch(
            "QE MRSIGNER vs. QE Identity",
            &qe.mr_signer,
            &qi.mrsigner,
        ));
    }
    if qe.isv_prod_id != qi.isvprodid {
        return Err(EvidenceError::Mismatch {
            what: "QE ISVPRODID vs. QE Identity".into(),
            evidence: qe.isv_prod_id.to_string(),
            endorsement: qi.isvprodid.to_string(),
        });
    }
    let misc = hex_n::<4>(&qi.miscselect, "QE Identity miscselect")?;
    let misc_mask = hex_n::<4>(&qi.miscselect_mask, "QE Identity miscselectMask")?;
    // Both sides compared as bytes in report order (the identity's hex lists them that way).
    let found_misc = qe.misc_select.to_le_bytes();
    if !masked_eq(&found_misc, &misc, &misc_mask) {
        return Err(mismatch(
            "QE MISCSELECT vs. QE Identity",
            &found_misc,
            &qi.miscselect,
        ));
    }
    let attrs = hex_n::<16>(&qi.attributes, "QE Identity attributes")?;
    let attrs_mask = hex_n::<16>(&qi.attributes_mask, "QE Identity attributesMask")?;
    if !masked_eq(&qe.attributes, &attrs, &attrs_mask) {
        return Err(mismatch(
            "QE ATTRIBUTES vs. QE Identity",
            &qe.attributes,
            &qi.attributes,
        ));
    }
    let qe_level = isv_level(&qi.tcb_levels, qe.isv_svn).unwrap_or(LevelMatch {
        status: TcbStatus::Revoked,
        tcb_date: String::new(),
        advisory_ids: Vec::new(),
    });

    // 4. Converge.
    let mut status = platform.status;
    if let Some((_, m)) = &module {
        status = converge(status, m.status);
    }
    status = converge(status, qe_level.status);
    let mut advisory_ids: Vec<String> = platform
        .advisory_ids
        .iter()
        .chain(module.iter().flat_map(|(_, m)| &m.advisory_ids))
        .chain(&qe_level.advisory_ids)
        .cloned()
        .collect();
    advisory_ids.sort();
    advisory_ids.dedup();
    Ok(TcbEvaluation {
        status,
        advisory_ids,
        platform,
        module,
        qe: qe_level,
        tcb_evaluation_data_number: info.tcb_evaluation_data_number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcbStatus::*;

    #[test]
    fn convergence_follows_intel() {
        assert_eq!(converge(UpToDate, UpToDate), UpToDate);
        assert_eq!(converge(UpToDate, OutOfDate), OutOfDate);
        assert_eq!(converge(SWHardeningNeeded, OutOfDate), OutOfDate);
        assert_eq!(
            converge(ConfigurationNeeded, OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(
            converge(ConfigurationAndSWHardeningNeeded, OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(converge(OutOfDate, UpToDate), OutOfDate);
        assert_eq!(converge(UpToDate, Revoked), Revoked);
        assert_eq!(converge(Revoked, UpToDate), Revoked);
    }

    #[test]
    fn masks_apply_to_both_sides() {
        assert!(masked_eq(&[0xff, 0x01], &[0x0f, 0x01], &[0x0f, 0xff]));
        assert!(!masked_eq(&[0xff, 0x02], &[0x0f, 0x01], &[0x0f, 0xff]));
        assert!(!masked_eq(&[0xff], &[0x0f, 0x01], &[0x0f, 0xff]));
    }
}
