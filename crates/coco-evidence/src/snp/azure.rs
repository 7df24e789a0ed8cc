//! Azure confidential VMs wrap the SNP report in an HCL (host compatibility layer) report:
//!
//! ```text
//! 0x000  4   "HCLA"
//! 0x004  4   version
//! 0x008  4   size of the HCL report (the rest of the buffer must be zero)
//! 0x00C  4   report type (2 = SNP)
//! 0x010  16  reserved
//! 0x020  1184 SNP ATTESTATION_REPORT
//! 0x4C0  IGVM request data: u32 data_size, u32 version, u32 report_type,
//!        u32 hash_type (1 = SHA-256), u32 variable_data_size, variable data (runtime JSON)
//! ```
//!
//! The hardware REPORT_DATA binds the runtime data: `REPORT_DATA[0..32] = SHA-256(variable
//! data)`, `REPORT_DATA[32..64] = 0`.

use sha2::{Digest, Sha256};

use super::abi::{REPORT_LEN, Report};
use crate::codec::Reader;
use crate::error::{EvidenceError, Result};

const S: &str = "Azure HCL report";
const REPORT_AT: usize = 0x20;
const IGVM_AT: usize = REPORT_AT + REPORT_LEN;

/// Whether the bytes start with the HCL magic.
pub fn is_hcl(bytes: &[u8]) -> bool {
    bytes.starts_with(b"HCLA")
}

/// A parsed HCL report.
#[derive(Debug, Clone)]
pub struct HclReport<'a> {
    /// The embedded SNP report bytes.
    pub report: &'a [u8],
    /// The runtime data (the IGVM variable data, a JSON document on Azure).
    pub runtime_data: &'a [u8],
}

impl<'a> HclReport<'a> {
    /// Parses the wrapper (bounds only).
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let r = Reader::new(S, b);
        if !is_hcl(b) {
            return Err(r.malformed("magic", 0, "not \"HCLA\""));
        }
        let size = r.u32_at(8, "size")? as usize;
        if size > b.len() || size < IGVM_AT + 20 {
            return Err(r.malformed("size", 8, format!("{size} for a {}-byte buffer", b.len())));
        }
        r.zeros(size..b.len(), "padding after the HCL report")?;
        let kind = r.u32_at(12, "report_type")?;
        if kind != 2 {
            return Err(r.malformed("report_type", 12, format!("{kind} (2 = SNP expected)")));
        }
        let hash_type = r.u32_at(IGVM_AT + 12, "hash_type")?;
        if hash_type != 1 {
            return Err(r.malformed(
                "hash_type",
                IGVM_AT + 12,
                format!("{hash_type} (1 = SHA-256 expected)"),
            ));
        }
        let var_len = r.u32_at(IGVM_AT + 16, "variable_data_size")? as usize;
        // The variable data ends inside the HCL report's declared size.
        let report = Reader::new(S, r.slice_at(0, size, "size")?);
        let runtime_data = report
            .slice_at(IGVM_AT + 20, var_len, "variable data")
            .map_err(|_| {
                r.malformed(
                    "variable_data_size",
                    IGVM_AT + 16,
                    format!("{var_len} overruns the report"),
                )
            })?;
        Ok(Self {
            report: r.slice_at(REPORT_AT, REPORT_LEN, "ATTESTATION_REPORT")?,
            runtime_data,
        })
    }

    /// Parses the embedded SNP report and checks that its REPORT_DATA binds the runtime data.
    pub fn snp_report(&self) -> Result<Report> {
        let report = Report::parse(self.report)?;
        let digest: [u8; 32] = Sha256::digest(self.runtime_data).into();
        if report.report_data[..32] != digest || report.report_data[32..].iter().any(|&b| b != 0) {
            return Err(EvidenceError::Mismatch {
                what: "REPORT_DATA vs. SHA-256 of the HCL runtime data".into(),
                evidence: hex::encode(report.report_data),
                endorsement: hex::encode(digest),
            });
        }
        Ok(report)
    }
}
