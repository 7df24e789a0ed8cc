//! AMD SEV-SNP attestation reports (Milan, Genoa, Turin; VCEK and VLEK):
//! [`abi`] (bytes to [`Report`]) -> [`verify`](verify::verify) (chain to a pinned ARK,
//! signature, TCB and chip id; returns [`Verified`](crate::Verified)) -> [`claims`].

pub mod abi;
pub mod azure;
pub mod cert_table;
pub mod claims;
pub mod roots;
pub mod sev_json;
pub mod verify;

pub use abi::{Product, Report, SigningKey, Tcb, TcbVersion};
pub use verify::{ChainCache, SnpEvidence, VerifyOptions, verify};

use crate::error::Result;

/// Parses a raw report, or an Azure HCL report wrapping one (detected by its `HCLA` magic;
/// then REPORT_DATA must bind the runtime data, see [`azure`]). With
/// [`VerifyOptions::allow_trailing_data`] a longer capture is read by its first 1184 bytes.
pub fn parse(bytes: &[u8], opts: &VerifyOptions<'_>) -> Result<Report> {
    if azure::is_hcl(bytes) {
        azure::HclReport::parse(bytes)?.snp_report()
    } else if opts.allow_trailing_data && bytes.len() > abi::REPORT_LEN {
        // The signature covers the first 0x2A0 bytes and sits inside the 1184: what follows
        // is not evidence and is not read.
        let (report, _unsigned) = bytes.split_at(abi::REPORT_LEN);
        Report::parse(report)
    } else {
        Report::parse(bytes)
    }
}
