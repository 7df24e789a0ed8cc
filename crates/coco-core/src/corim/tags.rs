//! The CBOR tags of CoRIM (draft-ietf-rats-corim, draft-11 CDDL), COSE and the legacy NVIDIA
//! wire shape, by their names in the specifications. Decoding and building refer to tags by
//! these names only.

/// `tagged-unsigned-corim-map`.
pub const CORIM: u64 = 501;
/// `tagged-concise-mid-tag` (a CoMID inside `tags`).
pub const COMID: u64 = 506;
/// `tagged-concise-swid-tag` (a CoSWID inside `tags`; skipped).
pub const COSWID: u64 = 505;
/// `tagged-concise-tl-tag` (a CoTL inside `tags`; skipped).
pub const COTL: u64 = 508;
/// `COSE_Sign1_Tagged` (RFC 9052).
pub const COSE_SIGN1: u64 = 18;
/// The legacy (draft ≤ 06) CoRIM wrapper NVIDIA's RIM service still sends.
pub const LEGACY_CORIM: u64 = 500;
/// The legacy (draft ≤ 06) signed-CoRIM tag.
pub const LEGACY_SIGNED: u64 = 502;
/// An epoch-based date/time in seconds (RFC 8949 §3.4.2), e.g. `not-before`.
pub const EPOCH_TIME: u64 = 1;
/// A URI (RFC 8949 §3.4.5.3), e.g. the CoRIM `profile`.
pub const URI: u64 = 32;
/// A UUID (RFC 9562 as CBOR tag 37), e.g. a `tag-id` or `class-id`.
pub const UUID: u64 = 37;
/// An OID (RFC 9090), e.g. a `class-id` or a measurement key.
pub const OID: u64 = 111;
/// `tagged-svn`: an exact security version.
pub const SVN: u64 = 552;
/// `tagged-min-svn`: a minimum security version.
pub const MIN_SVN: u64 = 553;
/// `tagged-bytes`: opaque bytes (e.g. an `instance-id` or a raw value).
pub const BYTES: u64 = 560;
/// `tagged-masked-raw-value`: `[value, mask]`.
pub const MASKED_RAW_VALUE: u64 = 563;
/// `tagged-int-range`: `[min, max]`, `null` for unbounded.
pub const INT_RANGE: u64 = 564;
