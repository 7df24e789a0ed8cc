//! CoRIM and CoMID (draft-ietf-rats-corim, the draft-11 CDDL): decoding of unsigned CoRIMs
//! (`#6.501`), signed CoRIMs (`#6.18` COSE_Sign1, see [`cose`]), bare CoMIDs, and NVIDIA's
//! legacy wire shape (`500(502(18(...)))`, bare map payload, bare-bstr tags) in an explicit
//! compatibility mode.
//!
//! Decoding keeps what appraisal needs typed ([`Mval`] fields with their matching rules in
//! [`compare`]) and everything else as CBOR values, so nothing is lost and unknown (negative)
//! keys surface instead of crashing. Input is not required to be deterministic CBOR.
//!
//! Layers: this module holds the types; `decode` reads CBOR into them (every tag by its name
//! in [`tags`]); `json` is their JSON view (`coco corim inspect`); [`compare`] matches
//! reference values against evidence; [`cose`] signs and verifies. The coco-profile builder
//! (`coco corim build`) lives beside the profile, in [`profile::build`](crate::profile::build).

pub mod compare;
pub mod cose;
mod decode;
mod json;
pub mod tags;

use ciborium::value::Value;

use crate::cbor;
use crate::error::{CoreError, Result};

/// How strictly to decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Accept NVIDIA's legacy shape: tags 500/502, a corim-map payload without tag 501,
    /// CoMIDs as bare byte strings or untagged maps. Off by default.
    pub legacy: bool,
    /// Accept a profile given as bare text instead of `32(uri)` (older Veraison/Trustee
    /// files). Off by default.
    pub bare_text_profile: bool,
}

/// A CoRIM identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagId {
    /// Text.
    Text(String),
    /// A 16-byte UUID.
    Uuid([u8; 16]),
}

impl TagId {
    /// The text form (UUIDs as 8-4-4-4-12 hex).
    pub fn to_text(&self) -> String {
        match self {
            TagId::Text(t) => t.clone(),
            TagId::Uuid(u) => {
                let h = hex::encode(u);
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            }
        }
    }
}

/// The profile a CoRIM declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// `32(uri)`.
    Uri(String),
    /// `111(oid)`: the OID's content bytes (RFC 9090).
    Oid(Vec<u8>),
}

impl Profile {
    /// The profile as text (OIDs as hex of their content bytes).
    pub fn to_text(&self) -> String {
        match self {
            Profile::Uri(u) => u.clone(),
            Profile::Oid(o) => format!("oid:{}", hex::encode(o)),
        }
    }
}

/// A validity window (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Not before, if given.
    pub not_before: Option<u64>,
    /// Not after.
    pub not_after: Option<u64>,
}

impl Validity {
    /// Fails unless `at` lies inside the window.
    pub fn check(&self, at: u64, what: &str) -> Result<()> {
        if self.not_before.is_some_and(|nb| at < nb) || self.not_after.is_some_and(|na| at > na) {
            return Err(CoreError::Expired {
                what: what.into(),
                at,
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        Ok(())
    }
}

/// An entity (CoRIM or CoMID).
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Its name.
    pub name: String,
    /// Its registration id (URI), if any.
    pub reg_id: Option<String>,
    /// Its roles.
    pub roles: Vec<u64>,
    /// Extension entries (negative keys).
    pub extensions: Vec<(i64, Value)>,
}

/// An environment's class.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Class {
    /// class-id (`111(oid)`, `37(uuid)` or `560(bytes)`), compared byte for byte.
    pub class_id: Option<Value>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Layer.
    pub layer: Option<u64>,
    /// Index.
    pub index: Option<u64>,
}

/// An environment: what a triple is about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Environment {
    /// The class.
    pub class: Option<Class>,
    /// The instance (e.g. `560(CHIP_ID)`), compared byte for byte.
    pub instance: Option<Value>,
    /// The group.
    pub group: Option<Value>,
}

/// A measurement key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mkey {
    /// An unsigned integer.
    Uint(u64),
    /// Text.
    Text(String),
    /// `111(oid)`.
    Oid(Vec<u8>),
    /// `37(uuid)`.
    Uuid(Vec<u8>),
}

impl Mkey {
    /// The CBOR encoding.
    pub fn to_cbor(&self) -> Value {
        match self {
            Mkey::Uint(n) => cbor::integer((*n).into()),
            Mkey::Text(t) => Value::Text(t.clone()),
            Mkey::Oid(b) => Value::Tag(tags::OID, Box::new(Value::Bytes(b.clone()))),
            Mkey::Uuid(b) => Value::Tag(tags::UUID, Box::new(Value::Bytes(b.clone()))),
        }
    }
}

/// A digest algorithm identifier (IANA Named Information registry integer, or text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Registry integer (1 sha-256, 7 sha-384, 8 sha-512, ...).
    Int(i64),
    /// Text identifier.
    Text(String),
}

/// One digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm.
    pub alg: Alg,
    /// The value.
    pub value: Vec<u8>,
}

/// An SVN condition or claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svn {
    /// Exact (`uint` or `552(uint)`).
    Exact(u64),
    /// Minimum (`553(uint)`).
    Min(u64),
}

/// A raw value, optionally masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    /// The value.
    pub value: Vec<u8>,
    /// The mask (`563([value, mask])`, or the deprecated key 5); `None` = compare every bit.
    pub mask: Option<Vec<u8>>,
}

/// An integer or an integer range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntRange {
    /// Exactly this value.
    Exact(i128),
    /// `564([min, max])`, `None` = unbounded.
    Range(Option<i128>, Option<i128>),
}

/// A version and its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The version text.
    pub version: String,
    /// The scheme (1 multipartnumeric, 3 alphanumeric, 16384 semver, ...).
    pub scheme: Option<i64>,
}

/// An integrity-register identifier: uint and text are distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterId {
    /// Unsigned integer.
    Uint(u64),
    /// Text.
    Text(String),
}

/// measurement-values-map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mval {
    /// 0 version.
    pub version: Option<Version>,
    /// 1 svn.
    pub svn: Option<Svn>,
    /// 2 digests.
    pub digests: Option<Vec<Digest>>,
    /// 3 flags, by flag number.
    pub flags: Option<Vec<(u64, bool)>>,
    /// 4 raw-value (with 5, the deprecated mask).
    pub raw: Option<RawValue>,
    /// 13 cryptokeys (tagged values, compared as they are).
    pub cryptokeys: Option<Vec<Value>>,
    /// 14 integrity-registers.
    pub integrity_registers: Option<Vec<(RegisterId, Vec<Digest>)>>,
    /// 15 int-range.
    pub int_range: Option<IntRange>,
    /// Other non-negative keys (6 mac-addr ... 11 name), compared for equality.
    pub other: Vec<(u64, Value)>,
    /// Negative keys: profile extensions. Under a profile that does not define them they never
    /// match.
    pub extensions: Vec<(i64, Value)>,
}

/// measurement-map.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The key; `None` = anonymous.
    pub mkey: Option<Mkey>,
    /// The values.
    pub mval: Mval,
    /// authorized-by keys, if any.
    pub authorized_by: Option<Vec<Value>>,
}

/// A reference or endorsed triple: an environment and the measurements it must show (or is
/// endorsed with).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueTriple {
    /// The environment.
    pub environment: Environment,
    /// The measurements (all must match: AND).
    pub measurements: Vec<Measurement>,
}

/// An identity or attest-key triple.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTriple {
    /// The environment.
    pub environment: Environment,
    /// The keys (tagged values: 554 PEM SPKI, 555 PEM cert, 557 thumbprint, ...), not decoded.
    pub keys: Vec<Value>,
    /// The optional conditions map.
    pub conditions: Option<Value>,
}

/// A CoMID.
#[derive(Debug, Clone, PartialEq)]
pub struct Comid {
    /// 0 language.
    pub language: Option<String>,
    /// 1 tag-identity: tag-id.
    pub tag_id: TagId,
    /// 1 tag-identity: tag-version.
    pub tag_version: Option<u64>,
    /// 2 entities.
    pub entities: Vec<Entity>,
    /// 3 linked-tags: (linked tag id, relation).
    pub linked_tags: Vec<(TagId, u64)>,
    /// 4/0 reference triples.
    pub reference: Vec<ValueTriple>,
    /// 4/1 endorsed triples.
    pub endorsed: Vec<ValueTriple>,
    /// 4/2 identity triples.
    pub identity: Vec<KeyTriple>,
    /// 4/3 attest-key triples.
    pub attest_key: Vec<KeyTriple>,
    /// Keys of the other triple kinds present (parsed past, not appraised).
    pub other_triples: Vec<u64>,
}

/// A decoded CoRIM.
#[derive(Debug, Clone, PartialEq)]
pub struct Corim {
    /// 0 id.
    pub id: TagId,
    /// 3 profile.
    pub profile: Option<Profile>,
    /// 1 tags: the CoMIDs.
    pub comids: Vec<Comid>,
    /// Number of other tags (CoSWID 505, CoTL 508) skipped.
    pub other_tags: usize,
    /// 4 rim-validity.
    pub validity: Option<Validity>,
    /// 5 entities.
    pub entities: Vec<Entity>,
    /// Negative keys of the corim-map.
    pub extensions: Vec<(i64, Value)>,
    /// 2 dependent-rims: other documents this one names (NVIDIA's CoRIMs name their signer's
    /// certificate here by URL and thumbprint).
    pub dependent_rims: Vec<Locator>,
}

/// A corim-locator-map: where a document is, and its digest when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// 0 href (the first, when several).
    pub href: String,
    /// 1 thumbprint: `(hash algorithm id, digest)` (1 = SHA-256).
    pub thumbprint: Option<(i64, Vec<u8>)>,
}
