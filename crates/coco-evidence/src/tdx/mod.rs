//! Intel TDX quotes (v4 and v5, TD 1.0 and TD 1.5 bodies): [`abi`] (bytes to [`Quote`]) ->
//! [`verify`](verify::verify) (PCK chain to the pinned Intel SGX Root CA, QE report, binding,
//! quote signature; with [`collateral`], revocation and the [`tcb`] status; returns
//! [`Verified`](crate::Verified)) -> [`claims`].
//!
//! ```no_run
//! use coco_evidence::tdx;
//! let quote = std::fs::read("quote.bin").unwrap();
//! let opts = tdx::VerifyOptions::at(std::time::SystemTime::now());
//! let raw = tdx::RawCollateral::from_dir("collateral/".as_ref()).unwrap();
//! // Verify the collateral once per FMSPC and reuse it for every quote.
//! let collateral = tdx::verify_collateral(&raw, &opts).unwrap();
//! let opts = opts.with_collateral(&collateral);
//! let verified = tdx::verify(tdx::parse(&quote, &opts).unwrap(), &opts).unwrap();
//! println!("{}", tdx::claims::claims(&verified));
//! ```

pub mod abi;
pub mod cache;
pub mod claims;
pub mod collateral;
pub mod dir;
pub mod options;
pub mod pck;
pub mod pcs;
pub mod roots;
pub mod tcb;
pub mod verify;

pub use abi::{BodyKind, Quote, TdReport};
pub use cache::ChainCache;
pub use collateral::{verify_collateral, verify_qe_identity};
pub use options::VerifyOptions;
pub use pcs::{Collateral, RawCollateral, TcbStatus};
pub use verify::{TdxEvidence, verify};

use crate::error::Result;

/// Parses a quote: strictly (only zero padding after it), or with
/// [`VerifyOptions::allow_trailing_data`] ignoring any bytes after the structure.
pub fn parse(bytes: &[u8], opts: &VerifyOptions<'_>) -> Result<Quote> {
    if opts.allow_trailing_data {
        Quote::parse_allowing_trailing_data(bytes)
    } else {
        Quote::parse(bytes)
    }
}
