//! AMD SEV-SNP attestation reports (Milan, Genoa, Turin; VCEK and VLEK):
//! [`abi`] (bytes to [`Report`]) -> [`verify`](verify::verify) (chain to a pinned ARK,
//! signature, TCB and chip id; returns [`Verified`](crate::Verified)) -> [`claims`].

pub mod abi;
pub mod azure;
pub mod claims;
pub mod roots;
pub mod sev_json;
pub mod verify;

pub use abi::{Product, Report, SigningKey, Tcb, TcbVersion};
pub use verify::{ChainCache, SnpEvidence, VerifyOptions, verify, verify_cached};

use crate::error::Result;
use crate::verified::Verified;
use crate::x509::Cert;

/// Parses and verifies a raw report, or an Azure HCL report wrapping one (detected by its
/// `HCLA` magic; then REPORT_DATA must bind the runtime data, see [`azure`]).
pub fn verify_bytes(
    bytes: &[u8],
    certs: &[Cert],
    opts: &VerifyOptions,
) -> Result<Verified<SnpEvidence>> {
    verify_bytes_cached(bytes, certs, opts, None)
}

/// [`verify_bytes`] with a [`ChainCache`] shared across reports.
pub fn verify_bytes_cached(
    bytes: &[u8],
    certs: &[Cert],
    opts: &VerifyOptions,
    cache: Option<&ChainCache>,
) -> Result<Verified<SnpEvidence>> {
    let report = if azure::is_hcl(bytes) {
        azure::HclReport::parse(bytes)?.snp_report()?
    } else if opts.allow_trailing_data && bytes.len() > abi::REPORT_LEN {
        // The signature covers the first 0x2A0 bytes and sits inside the 1184: what follows
        // is not evidence and is not read.
        Report::parse(&bytes[..abi::REPORT_LEN])?
    } else {
        Report::parse(bytes)?
    };
    verify_cached(report, certs, opts, cache)
}
