//! AMD SEV-SNP attestation reports (Milan, Genoa, Turin; VCEK and VLEK):
//! [`abi`] (bytes to [`Report`]) -> [`verify`](verify::verify) (chain to a pinned ARK,
//! signature, TCB and chip id; returns [`Verified`](crate::Verified)) -> [`claims`].

pub mod abi;
pub mod azure;
pub mod claims;
pub mod roots;
pub mod verify;

pub use abi::{Product, Report, SigningKey, Tcb, TcbVersion};
pub use verify::{SnpEvidence, VerifyOptions, verify};

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
    let report = if azure::is_hcl(bytes) {
        azure::HclReport::parse(bytes)?.snp_report()?
    } else {
        Report::parse(bytes)?
    };
    verify(report, certs, opts)
}
