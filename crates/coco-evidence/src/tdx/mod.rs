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
//! let verified = tdx::verify_bytes(&quote, Some(&collateral), &opts, None).unwrap();
//! println!("{}", tdx::claims::claims(&verified));
//! ```

pub mod abi;
pub mod claims;
pub mod collateral;
pub mod options;
pub mod pck;
pub mod roots;
pub mod tcb;
pub mod verify;

pub use abi::{BodyKind, Quote, TdReport};
pub use collateral::{Collateral, RawCollateral, TcbStatus, verify_collateral};
pub use verify::{ChainCache, TdxEvidence, VerifyOptions, verify};

use crate::error::Result;
use crate::verified::Verified;

/// Parses (strictly, unless `opts.allow_trailing_data`) and verifies a quote (see [`verify()`]).
pub fn verify_bytes(
    bytes: &[u8],
    collateral: Option<&Verified<Collateral>>,
    opts: &VerifyOptions,
    cache: Option<&ChainCache>,
) -> Result<Verified<TdxEvidence>> {
    let quote = if opts.allow_trailing_data {
        Quote::parse_allowing_trailing_data(bytes)?
    } else {
        Quote::parse(bytes)?
    };
    verify(quote, collateral, opts, cache)
}
