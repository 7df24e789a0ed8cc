//! # coco-release
//!
//! Attestation-bound key release: the model's data-encryption key (DEK) leaves the vendor only
//! for a workload whose CPU and GPU evidence verified (`coco-evidence`), appraised as affirming
//! against reference values and policy (`coco-core`), and is bound to the ephemeral key it is
//! wrapped to (HPKE, RFC 9180).
//!
//! The binding, a contract of the project ([`binding`]):
//!
//! - `gpu_nonce = SHA-256("coco/kr/v1/gpu" || challenge || pk)` for every GPU report;
//! - `report_data = SHA-512("coco/kr/v1" || challenge || pk || SHA-256(gpu_report_0) || ...)`
//!   in the TDX quote or SNP report.
//!
//! Service side: [`KeyReleaseService`] issues [`wire::Challenge`]s (stateless signed tokens,
//! single use through a [`challenge::ReplayStore`]), and answers an [`wire::EvidenceBundle`]
//! with a [`wire::ReleaseResponse`] (the EAR as a JWT and the DEK wrapped to the workload key,
//! with HPKE `info` binding the key id and the EAR). Workload side: [`workload::bundle`] and
//! [`workload::unwrap`]. A simulated TEE (feature `sim`: `coco_evidence::sim` and
//! `simkit::SimAttester`) runs the flow anywhere; the service accepts it only when configured with its root and a
//! policy that allows simulation, and its EAR says so.
//!
//! ```
//! use coco_release::{KeyReleaseService, ServiceConfig, keystore::MemoryKeyStore, simkit, workload, wrap::Kem};
//! use coco_evidence::sim::{SimRoot, SimVm, SimGpu};
//! use coco_core::{appraise::ReferenceValues, corim::{Corim, DecodeOptions}, keys::SigningKey, profile::build, policy::Policy};
//! use std::time::SystemTime;
//!
//! let root = SimRoot::generate().unwrap();
//! let vm = SimVm { measurement: [1; 48], host_data: [0; 32], policy: 0x30000, guest_svn: 1 };
//! let refs = build::build(&format!("id = \"demo\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"{}\"]\n", hex::encode([1u8; 48]))).unwrap();
//! let references = ReferenceValues::from_corims(&[Corim::decode(&refs, &DecodeOptions::default()).unwrap()]).unwrap();
//! let policy = Policy { allow_simulated: true, require_revocation_check: coco_core::policy::Revocation::NONE, ..Policy::default() };
//! let keys = MemoryKeyStore::default();
//! let dek = coco_seal::Dek::generate().unwrap();
//! keys.put("model-1", &dek);
//! let service = KeyReleaseService::new(Box::new(keys), SigningKey::generate_p384().unwrap(),
//!     ServiceConfig { references, policy, sim_root: Some(root.cert().clone()), challenge_ttl_secs: 60 })
//!     .unwrap().with_audit(Box::new(std::io::sink()));
//!
//! let cvm = simkit::SimAttester { platform: root.platform().unwrap(), vm, gpus: vec![] };
//! let challenge = service.challenge(SystemTime::now()).unwrap();
//! let (bundle, key) = workload::bundle(&cvm, &challenge, "model-1", Kem::P384).unwrap();
//! let response = service.release(&bundle, SystemTime::now()).unwrap();
//! assert_eq!(workload::unwrap(&response, &key, "model-1").unwrap().as_bytes(), dek.as_bytes());
//! ```

pub mod binding;
pub mod challenge;
pub mod collateral;
pub mod decision;
pub mod error;
pub mod http;
pub mod jwe;
pub mod kbs;
pub mod keystore;
pub mod service;
#[cfg(feature = "sim")]
pub mod simkit;
pub mod tls;
#[cfg(feature = "collect")]
pub mod tsm;
pub mod wire;
pub mod workload;
pub mod wrap;

pub use error::{ChallengeError, ReleaseError, Result};
pub use service::{KeyReleaseService, Observer, Rejection, ServiceConfig, Sizes};
