//! # coco-release
//!
//! Attestation-bound key release: the model's data-encryption key (DEK) leaves the vendor only
//! for a workload whose CPU and GPU evidence verified (`coco-evidence`), appraised as affirming
//! against reference values and policy (`coco-core`), and is bound to the ephemeral key it is
//! wrapped to (HPKE, RFC 9180).
//!
//! The binding, a contract of the project:
//!
//! - `gpu_nonce = SHA-256("coco/kr/v1/gpu" || challenge || pk)` for every GPU report;
//! - `report_data = SHA-512("coco/kr/v1" || challenge || pk || SHA-256(gpu_report_0) || ...)`
//!   in the TDX quote or SNP report.
//!
//! This crate will hold the wire types, the key-release service, the workload side (attesters,
//! ephemeral keys, DEK unwrap into zeroizing memory) and a simulated TEE that a service accepts
//! only when configured with its root explicitly.
