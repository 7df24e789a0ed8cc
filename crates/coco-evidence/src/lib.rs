//! # coco-evidence
//!
//! Attestation evidence, from bytes to verified claims.
//!
//! Every evidence format gets its own module split the way google/go-tdx-guest splits it:
//!
//! 1. `abi`: bytes to a typed structure, bounds checks only, nothing trusted;
//! 2. `verify`: signatures, certificate chains to roots pinned in this crate, collateral and
//!    validity at an injected time, returning a [`Verified<T>`] that only this crate can build;
//! 3. `claims`: the verified structure as claims, named after the vendors' specifications.
//!
//! Landed: [`snp`] (AMD SEV-SNP reports v2-v5 on Milan, Genoa and Turin, VCEK and VLEK, raw or
//! inside an Azure HCL report) and [`tdx`] (Intel TDX quotes v4 and v5 with Intel PCS
//! collateral and TCB status) and [`nvidia`] (Hopper and Blackwell GPU attestation reports,
//! single GPU and Protected PCIe, with NVIDIA's signed RIMs). Signatures are checked with
//! AWS-LC ([`crypto`]).
//!
//! ```no_run
//! use coco_evidence::{snp, x509};
//! let report = std::fs::read("report.bin").unwrap();
//! let certs = x509::load_certs("certs/".as_ref()).unwrap();
//! let opts = snp::VerifyOptions::at(std::time::SystemTime::now()).with_certs(&certs);
//! let verified = snp::verify(snp::parse(&report, &opts).unwrap(), &opts).unwrap();
//! println!("{}", snp::claims::claims(&verified));
//! ```

pub mod api;
pub mod attester;
pub mod codec;
#[cfg(feature = "collect")]
pub mod collect;
pub mod crypto;
pub mod error;
pub mod nvidia;
pub mod ocsp;
pub mod sample;
#[cfg(feature = "sim")]
pub mod sim;
pub mod simulated;
pub mod snp;
pub mod tdx;
pub mod time;
pub mod vectors;
pub mod verified;
pub mod x509;

pub use error::{CertRole, ChainError, CollateralError, EvidenceError, Result, SignatureCause};
pub use verified::Verified;
