//! Collateral that fetches itself: the documents a verifier needs beside the evidence, fetched
//! from the vendors' services (or a caching service speaking their API), **verified before they
//! are returned** — nothing fetched is trusted.
//!
//! - [`pcs`]: Intel TDX collateral from Intel's PCS API v4 or a PCCS (TCB Info for the quote's
//!   FMSPC, QE Identity, the PCK CRL of the quote's PCK CA, the Root CA CRL), in the layout of
//!   `coco evidence verify --collateral`.
//! - [`kds`]: AMD SEV-SNP collateral from AMD's KDS (the VCEK for the report's chip and TCB,
//!   the product's ASK + ARK and CRL), verified with the report.
//! - [`cache`]: verified TDX collateral by platform, refreshed before it expires, never used
//!   past its validity; what `coco serve --collateral-cache DIR` decides with.

pub mod cache;
pub mod kds;
pub mod pcs;
