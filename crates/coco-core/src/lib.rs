//! # coco-core
//!
//! The shared vocabulary of the coco crates.
//!
//! coco releases a model's data-encryption key only to a confidential VM whose CPU and GPU
//! evidence has been verified and appraised. This crate holds what every other coco crate
//! agrees on:
//!
//! - [`digest`]: fixed-size digests with lower-case hex text forms and constant-time equality;
//! - (as the appraisal work lands) the claims model, CoRIM/CoMID reference values, the
//!   declarative appraisal policy and EAR (EAT Attestation Result) documents.
//!
//! Policy in this crate only ever sees *verified* claims: parsing and signature checks live in
//! `coco-evidence`, which hands over values it alone can construct.

pub mod digest;

pub use digest::{DigestError, Sha256Digest};
