//! The Confidential Containers Key Broker Service protocol (version 0.4.0), served beside
//! coco's own protocol and over the same decision: a CoCo guest (attestation agent /
//! confidential data hub) fetches its model key from `coco serve` as it would from Trustee.
//!
//! - `POST /kbs/v0/auth` [`wire::Request`] -> [`wire::Challenge`] and the session cookie
//!   `kbs-session-id`;
//! - `POST /kbs/v0/attest` [`wire::Attestation`] -> [`wire::AttestationToken`] (coco's EAR) and
//!   the attested session's cookie;
//! - `GET /kbs/v0/resource/<repository>/<type>/<tag>` -> a flattened JWE ([`crate::jwe`]) of the
//!   key whose key id is `<repository>/<type>/<tag>`, encrypted to the attested `tee-pubkey`.
//!
//! Every refusal is an RFC 7807 problem `{"type", "detail"}` with a type of the KBS error
//! family ([`KbsError::error_type`]) and is audited.
//!
//! **Sessions survive replicas**: the cookie is a token ([`session`]) authenticated under a key
//! derived from the challenge secret the replicas share, holding the session's nonce, TEE,
//! hash algorithm and expiry, and after attestation the TEE key and the decision; the nonce is
//! spent in the [`ReplayStore`](crate::challenge::ReplayStore) when the evidence is appraised.
//!
//! **Binding** ([`binding`]): the CPU report data is the selected hash of the JCS
//! ([`jcs`], RFC 8785) of `{"additional-evidence", "nonce", "tee-pubkey"}`, zero-padded to 64
//! bytes; every GPU's SPDM nonce is the first 32 bytes of the hash of the JCS of
//! `{"nonce", "tee-pubkey"}`. The CPU report thus commits to the exact GPU evidence string.
//!
//! **Evidence** ([`evidence`]): `snp` (the `sev` crate's JSON report rebuilt into the signed
//! bytes, [`coco_evidence::snp::sev_json`], with its `cert_chain`), `tdx` (a quote; the
//! service's collateral), NVIDIA GPUs in `additional_evidence`. The simulated platform of
//! `coco sim` travels in the same shapes and is accepted only with the simulated root
//! configured and a policy that allows simulation.

pub mod binding;
pub mod broker;
pub mod client;
pub mod error;
pub mod evidence;
pub mod jcs;
pub mod session;
pub mod wire;

pub use broker::SESSION_COOKIE;
pub use error::KbsError;
