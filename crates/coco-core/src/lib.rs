//! # coco-core
//!
//! The shared vocabulary of the coco crates.
//!
//! coco releases a model's data-encryption key only to a confidential VM whose CPU and GPU
//! evidence has been verified and appraised. This crate holds what every other coco crate
//! agrees on:
//!
//! - [`digest`]: fixed-size digests with lower-case hex text forms and constant-time equality;
//! - [`corim`]: CoRIM / CoMID reference values (unsigned, COSE-signed, NVIDIA's legacy shape),
//!   the matching rules of the CoRIM reference verifier, and `coco corim build`;
//! - [`profile`]: coco's CoRIM profile for TDX, SEV-SNP and NVIDIA GPUs (docs/PROFILE.md);
//! - [`claims`]: typed claims of each platform, what appraisal rules read;
//! - [`policy`]: the declarative appraisal policy (TOML), with [`composition`] (which
//!   attesters a release needs) and per-platform [`validate`] rules;
//! - [`appraise`]: verified claims + reference values + policy -> [`ear::Ear`];
//! - [`ear`]: EAT Attestation Results (JSON, JWT, CWT; both namings read, the current one
//!   written);
//! - [`keys`]: the ES256/ES384 keys documents are signed and verified with.
//!
//! Policy in this crate only ever sees *verified* claims: parsing and signature checks live in
//! `coco-evidence`, which hands over values it alone can construct.

pub mod appraise;
pub mod attester;
pub mod cbor;
pub mod claims;
pub mod composition;
pub mod corim;
pub mod digest;
pub mod ear;
pub mod error;
pub mod finding;
pub mod initdata;
pub mod keys;
pub mod policy;
pub mod profile;
pub mod reference;
pub mod time;
pub mod validate;
pub mod vectors;

pub use digest::{DigestError, Sha256Digest};
pub use error::{CoreError, Result, SignatureError};
