//! CoRIM and CoMID (draft-ietf-rats-corim, the draft-11 CDDL): decoding of unsigned CoRIMs
//! (`#6.501`), signed CoRIMs (`#6.18` COSE_Sign1, see [`cose`]), bare CoMIDs, and NVIDIA's
//! legacy wire shape (`500(502(18(...)))`, bare map payload, bare-bstr tags) in an explicit
//! compatibility mode.
//!
//! Decoding keeps what appraisal needs typed ([`Mval`] fields with their matching rules in
//! [`compare`]) and everything else as CBOR values, so nothing is lost and unknown (negative)
//! keys surface instead of crashing. Input is not required to be deterministic CBOR.

pub mod build;
pub mod compare;
pub mod cose;

use ciborium::value::Value;
use serde_json::{Value as Json, json};

use crate::cbor::{self, array, bytes, get, map, no_duplicates, text, uint, untag};
use crate::error::{CoreError, Result};

/// Tag of an unsigned CoRIM.
pub const TAG_CORIM: u64 = 501;
/// Tag of a CoMID inside `tags`.
pub const TAG_COMID: u64 = 506;
/// Tag of a COSE_Sign1.
pub const TAG_COSE_SIGN1: u64 = 18;
/// Legacy (draft ≤ 06) CoRIM wrapper tag.
pub const TAG_LEGACY_CORIM: u64 = 500;
/// Legacy (draft ≤ 06) signed-CoRIM tag.
pub const TAG_LEGACY_SIGNED: u64 = 502;

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
    fn decode(v: &Value, path: &str) -> Result<Self> {
        match untag(v) {
            (None | Some(37), Value::Text(t)) => Ok(TagId::Text(t.clone())),
            (None | Some(37), Value::Bytes(b)) => {
                b.as_slice().try_into().map(TagId::Uuid).map_err(|_| {
                    CoreError::malformed(path, format!("a UUID is 16 bytes, found {}", b.len()))
                })
            }
            (_, other) => Err(CoreError::malformed(
                path,
                format!("expected text or a UUID, found {}", cbor::kind(other)),
            )),
        }
    }

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
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = map(v, path)?;
        let time = |k: i64| -> Result<Option<u64>> {
            get(m, k)
                .map(|t| {
                    let (_, inner) = untag(t);
                    uint(inner, &format!("{path}/{k}"))
                })
                .transpose()
        };
        Ok(Self {
            not_before: time(0)?,
            not_after: time(1)?,
        })
    }

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

impl Entity {
    /// The JSON form (`name`, `reg_id`, `roles`).
    pub fn to_json(&self) -> Json {
        json!({"name": self.name, "reg_id": self.reg_id, "roles": self.roles})
    }
}

fn extensions(m: &[(Value, Value)]) -> Vec<(i64, Value)> {
    m.iter()
        .filter_map(|(k, v)| {
            cbor::int(k)
                .filter(|n| *n < 0)
                .and_then(|n| i64::try_from(n).ok())
                .map(|n| (n, v.clone()))
        })
        .collect()
}

fn entities(v: &Value, path: &str) -> Result<Vec<Entity>> {
    cbor::each(v, path, |e, p| {
        let m = map(e, p)?;
        let name = text(
            get(m, 0).ok_or_else(|| CoreError::malformed(p, "entity without a name (0)"))?,
            &format!("{p}/name"),
        )?
        .to_string();
        let reg_id = get(m, 1)
            .map(|r| text(untag(r).1, &format!("{p}/reg-id")).map(str::to_string))
            .transpose()?;
        let roles = get(m, 2)
            .map(|r| {
                array(r, &format!("{p}/roles"))?
                    .iter()
                    .map(|x| uint(x, &format!("{p}/roles")))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Entity {
            name,
            reg_id,
            roles,
            extensions: extensions(m),
        })
    })
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

impl Environment {
    fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = map(v, path)?;
        no_duplicates(m, path)?;
        if m.is_empty() {
            return Err(CoreError::malformed(
                path,
                "an environment-map must not be empty",
            ));
        }
        let class = get(m, 0)
            .map(|c| {
                let p = format!("{path}/class");
                let cm = map(c, &p)?;
                no_duplicates(cm, &p)?;
                Ok::<_, CoreError>(Class {
                    class_id: get(cm, 0).cloned(),
                    vendor: get(cm, 1)
                        .map(|x| text(x, &format!("{p}/vendor")).map(str::to_string))
                        .transpose()?,
                    model: get(cm, 2)
                        .map(|x| text(x, &format!("{p}/model")).map(str::to_string))
                        .transpose()?,
                    layer: get(cm, 3)
                        .map(|x| uint(x, &format!("{p}/layer")))
                        .transpose()?,
                    index: get(cm, 4)
                        .map(|x| uint(x, &format!("{p}/index")))
                        .transpose()?,
                })
            })
            .transpose()?;
        Ok(Self {
            class,
            instance: get(m, 1).cloned(),
            group: get(m, 2).cloned(),
        })
    }

    /// A JSON rendering.
    pub fn to_json(&self) -> Json {
        let mut o = serde_json::Map::new();
        if let Some(c) = &self.class {
            let mut co = serde_json::Map::new();
            if let Some(id) = &c.class_id {
                co.insert("class_id".into(), cbor::to_json(id));
            }
            if let Some(v) = &c.vendor {
                co.insert("vendor".into(), json!(v));
            }
            if let Some(v) = &c.model {
                co.insert("model".into(), json!(v));
            }
            if let Some(v) = c.layer {
                co.insert("layer".into(), json!(v));
            }
            if let Some(v) = c.index {
                co.insert("index".into(), json!(v));
            }
            o.insert("class".into(), Json::Object(co));
        }
        if let Some(i) = &self.instance {
            o.insert("instance".into(), cbor::to_json(i));
        }
        if let Some(g) = &self.group {
            o.insert("group".into(), cbor::to_json(g));
        }
        Json::Object(o)
    }
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
    fn decode(v: &Value, path: &str) -> Result<Self> {
        match untag(v) {
            (None, Value::Text(t)) => Ok(Mkey::Text(t.clone())),
            (None, Value::Integer(_)) => Ok(Mkey::Uint(uint(v, path)?)),
            (Some(111), Value::Bytes(b)) => Ok(Mkey::Oid(b.clone())),
            (Some(37), Value::Bytes(b)) => Ok(Mkey::Uuid(b.clone())),
            (_, other) => Err(CoreError::malformed(
                path,
                format!("not an mkey: {}", cbor::kind(other)),
            )),
        }
    }

    /// The CBOR encoding.
    pub fn to_cbor(&self) -> Value {
        match self {
            Mkey::Uint(n) => cbor::integer((*n).into()),
            Mkey::Text(t) => Value::Text(t.clone()),
            Mkey::Oid(b) => Value::Tag(111, Box::new(Value::Bytes(b.clone()))),
            Mkey::Uuid(b) => Value::Tag(37, Box::new(Value::Bytes(b.clone()))),
        }
    }

    /// A JSON rendering (uint as number, text as text, OID/UUID as tagged hex).
    pub fn to_json(&self) -> Json {
        match self {
            Mkey::Uint(n) => json!(n),
            Mkey::Text(t) => json!(t),
            Mkey::Oid(b) => json!(format!("oid:{}", hex::encode(b))),
            Mkey::Uuid(b) => json!(format!("uuid:{}", hex::encode(b))),
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

fn digests(v: &Value, path: &str) -> Result<Vec<Digest>> {
    let a = array(v, path)?;
    if a.is_empty() {
        return Err(CoreError::malformed(path, "digests must not be empty"));
    }
    cbor::each(v, path, |d, p| {
        let pair = array(d, p)?;
        if pair.len() != 2 {
            return Err(CoreError::malformed(p, "a digest is [alg, value]"));
        }
        let alg = match &pair[0] {
            Value::Text(t) => Alg::Text(t.clone()),
            x => Alg::Int(
                cbor::int(x)
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| {
                        CoreError::malformed(p, "digest alg is not an integer or text")
                    })?,
            ),
        };
        Ok(Digest {
            alg,
            value: bytes(&pair[1], &format!("{p}/value"))?.to_vec(),
        })
    })
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

impl Mval {
    fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = map(v, path)?;
        no_duplicates(m, path)?;
        if m.is_empty() {
            return Err(CoreError::malformed(
                path,
                "a measurement-values-map must not be empty",
            ));
        }
        let mut out = Mval::default();
        let mut mask5 = None;
        for (k, val) in m {
            let key =
                cbor::int(k).ok_or_else(|| CoreError::malformed(path, "non-integer mval key"))?;
            let p = format!("{path}/{key}");
            match key {
                0 => {
                    let vm = map(val, &p)?;
                    out.version = Some(Version {
                        version: text(
                            get(vm, 0).ok_or_else(|| {
                                CoreError::malformed(&p, "version without text (0)")
                            })?,
                            &p,
                        )?
                        .to_string(),
                        scheme: get(vm, 1)
                            .and_then(cbor::int)
                            .and_then(|n| i64::try_from(n).ok()),
                    });
                }
                1 => {
                    out.svn = Some(match untag(val) {
                        (None | Some(552), x) => Svn::Exact(uint(x, &p)?),
                        (Some(553), x) => Svn::Min(uint(x, &p)?),
                        (Some(t), _) => {
                            return Err(CoreError::malformed(&p, format!("svn with tag {t}")));
                        }
                    })
                }
                2 => out.digests = Some(digests(val, &p)?),
                3 => {
                    let fm = map(val, &p)?;
                    out.flags = Some(
                        fm.iter()
                            .map(|(fk, fv)| Ok((uint(fk, &p)?, cbor::boolean(fv, &p)?)))
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                4 => {
                    out.raw = Some(match untag(val) {
                        (Some(560) | None, Value::Bytes(b)) => RawValue {
                            value: b.clone(),
                            mask: None,
                        },
                        (Some(563), inner) => {
                            let a = array(inner, &p)?;
                            if a.len() != 2 {
                                return Err(CoreError::malformed(
                                    &p,
                                    "masked-raw-value is [value, mask]",
                                ));
                            }
                            RawValue {
                                value: bytes(&a[0], &p)?.to_vec(),
                                mask: Some(bytes(&a[1], &p)?.to_vec()),
                            }
                        }
                        (_, other) => {
                            return Err(CoreError::malformed(
                                &p,
                                format!("raw-value is {}", cbor::kind(other)),
                            ));
                        }
                    })
                }
                5 => mask5 = Some(bytes(val, &p)?.to_vec()),
                13 => out.cryptokeys = Some(array(val, &p)?.to_vec()),
                14 => {
                    let rm = map(val, &p)?;
                    out.integrity_registers = Some(
                        rm.iter()
                            .map(|(rk, rv)| {
                                let id = match rk {
                                    Value::Text(t) => RegisterId::Text(t.clone()),
                                    x => RegisterId::Uint(uint(x, &p)?),
                                };
                                Ok((id, digests(rv, &p)?))
                            })
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                15 => {
                    out.int_range = Some(match untag(val) {
                        (None, x) => IntRange::Exact(cbor::int(x).ok_or_else(|| {
                            CoreError::malformed(&p, "int-range is not an integer")
                        })?),
                        (Some(564), inner) => {
                            let a = array(inner, &p)?;
                            if a.len() != 2 {
                                return Err(CoreError::malformed(&p, "int-range is [min, max]"));
                            }
                            let bound = |b: &Value| match b {
                                Value::Null => Ok(None),
                                x => cbor::int(x)
                                    .map(Some)
                                    .ok_or_else(|| CoreError::malformed(&p, "range bound")),
                            };
                            IntRange::Range(bound(&a[0])?, bound(&a[1])?)
                        }
                        (Some(t), _) => {
                            return Err(CoreError::malformed(
                                &p,
                                format!("int-range with tag {t}"),
                            ));
                        }
                    })
                }
                k if k < 0 => out.extensions.push((k as i64, val.clone())),
                k => out.other.push((k as u64, val.clone())),
            }
        }
        if let Some(mask) = mask5 {
            match &mut out.raw {
                Some(r) if r.mask.is_none() => r.mask = Some(mask),
                _ => {
                    return Err(CoreError::malformed(
                        path,
                        "raw-value-mask (5) without an unmasked raw-value (4)",
                    ));
                }
            }
        }
        Ok(out)
    }
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

fn value_triples(v: &Value, path: &str) -> Result<Vec<ValueTriple>> {
    cbor::each(v, path, |t, p| {
        let a = array(t, p)?;
        if a.len() != 2 {
            return Err(CoreError::malformed(
                p,
                "a triple is [environment, [+ measurement]]",
            ));
        }
        let ms = array(&a[1], &format!("{p}/measurements"))?;
        if ms.is_empty() {
            return Err(CoreError::malformed(
                p,
                "a triple needs at least one measurement",
            ));
        }
        Ok(ValueTriple {
            environment: Environment::decode(&a[0], &format!("{p}/environment"))?,
            measurements: ms
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    let mp = format!("{p}/measurements[{j}]");
                    let mm = map(m, &mp)?;
                    no_duplicates(mm, &mp)?;
                    Ok(Measurement {
                        mkey: get(mm, 0)
                            .map(|k| Mkey::decode(k, &format!("{mp}/mkey")))
                            .transpose()?,
                        mval: Mval::decode(
                            get(mm, 1).ok_or_else(|| {
                                CoreError::malformed(&mp, "measurement without mval (1)")
                            })?,
                            &format!("{mp}/mval"),
                        )?,
                        authorized_by: get(mm, 2)
                            .map(|x| array(x, &mp).map(<[Value]>::to_vec))
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        })
    })
}

fn key_triples(v: &Value, path: &str) -> Result<Vec<KeyTriple>> {
    cbor::each(v, path, |t, p| {
        let a = array(t, p)?;
        if !(2..=3).contains(&a.len()) {
            return Err(CoreError::malformed(
                p,
                "a key triple is [environment, [+ key], ? conditions]",
            ));
        }
        Ok(KeyTriple {
            environment: Environment::decode(&a[0], &format!("{p}/environment"))?,
            keys: array(&a[1], &format!("{p}/keys"))?.to_vec(),
            conditions: a.get(2).cloned(),
        })
    })
}

impl Comid {
    /// Decodes a bare CoMID (the map inside `506(<< >>)`).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_value(&cbor::decode(bytes, "comid")?, "comid")
    }

    fn from_value(v: &Value, path: &str) -> Result<Self> {
        let m = map(v, path)?;
        no_duplicates(m, path)?;
        let ident = map(
            get(m, 1).ok_or_else(|| CoreError::malformed(path, "no tag-identity (1)"))?,
            &format!("{path}/tag-identity"),
        )?;
        let tag_id = TagId::decode(
            get(ident, 0).ok_or_else(|| CoreError::malformed(path, "no tag-id"))?,
            &format!("{path}/tag-identity/tag-id"),
        )?;
        let tag_version = get(ident, 1)
            .map(|x| uint(x, &format!("{path}/tag-identity/tag-version")))
            .transpose()?;
        let triples_path = format!("{path}/triples");
        let t = map(
            get(m, 4).ok_or_else(|| CoreError::malformed(path, "no triples (4)"))?,
            &triples_path,
        )?;
        no_duplicates(t, &triples_path)?;
        if t.is_empty() {
            return Err(CoreError::malformed(
                &triples_path,
                "a triples-map must not be empty",
            ));
        }
        let mut out = Comid {
            language: get(m, 0)
                .map(|x| text(x, &format!("{path}/language")).map(str::to_string))
                .transpose()?,
            tag_id,
            tag_version,
            entities: get(m, 2)
                .map(|e| entities(e, &format!("{path}/entities")))
                .transpose()?
                .unwrap_or_default(),
            linked_tags: get(m, 3)
                .map(|l| {
                    array(l, &format!("{path}/linked-tags"))?
                        .iter()
                        .map(|x| {
                            let lp = format!("{path}/linked-tags");
                            let lm = map(x, &lp)?;
                            Ok((
                                TagId::decode(
                                    get(lm, 0).ok_or_else(|| {
                                        CoreError::malformed(&lp, "no linked-tag-id")
                                    })?,
                                    &lp,
                                )?,
                                uint(
                                    get(lm, 1)
                                        .ok_or_else(|| CoreError::malformed(&lp, "no tag-rel"))?,
                                    &lp,
                                )?,
                            ))
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default(),
            reference: Vec::new(),
            endorsed: Vec::new(),
            identity: Vec::new(),
            attest_key: Vec::new(),
            other_triples: Vec::new(),
        };
        for (k, v) in t {
            let key = uint(k, &triples_path)?;
            let p = format!("{triples_path}/{key}");
            match key {
                0 => out.reference = value_triples(v, &p)?,
                1 => out.endorsed = value_triples(v, &p)?,
                2 => out.identity = key_triples(v, &p)?,
                3 => out.attest_key = key_triples(v, &p)?,
                other => out.other_triples.push(other),
            }
        }
        Ok(out)
    }

    /// The JSON shape of `coco corim inspect --json` (DESIGN §4).
    pub fn to_json(&self) -> Json {
        let triples = |ts: &[ValueTriple]| -> Json {
            ts.iter()
                .map(|t| {
                    json!({
                        "environment": t.environment.to_json(),
                        "measurements": t.measurements.iter().map(measurement_json).collect::<Vec<_>>(),
                    })
                })
                .collect()
        };
        let keys = |ts: &[KeyTriple]| -> Json {
            ts.iter()
                .map(|t| json!({"environment": t.environment.to_json(), "keys": t.keys.iter().map(cbor::to_json).collect::<Vec<_>>()}))
                .collect()
        };
        json!({
            "tag_id": self.tag_id.to_text(),
            "tag_version": self.tag_version,
            "language": self.language,
            "entities": self.entities.iter().map(Entity::to_json).collect::<Vec<_>>(),
            "reference_values": triples(&self.reference),
            "endorsed_values": triples(&self.endorsed),
            "identities": keys(&self.identity),
            "attest_keys": keys(&self.attest_key),
        })
    }
}

fn digest_json(d: &Digest) -> Json {
    let alg = match &d.alg {
        Alg::Int(n) => json!(n),
        Alg::Text(t) => json!(t),
    };
    json!([alg, hex::encode(&d.value)])
}

fn measurement_json(m: &Measurement) -> Json {
    let mut o = serde_json::Map::new();
    if let Some(k) = &m.mkey {
        o.insert("mkey".into(), k.to_json());
    }
    let v = &m.mval;
    if let Some(x) = &v.version {
        o.insert(
            "version".into(),
            json!({"version": x.version, "scheme": x.scheme}),
        );
    }
    match v.svn {
        Some(Svn::Exact(n)) => {
            o.insert("svn".into(), json!(n));
        }
        Some(Svn::Min(n)) => {
            o.insert("min_svn".into(), json!(n));
        }
        None => {}
    }
    if let Some(d) = &v.digests {
        o.insert("digests".into(), d.iter().map(digest_json).collect());
    }
    if let Some(f) = &v.flags {
        o.insert(
            "flags".into(),
            f.iter()
                .map(|(k, b)| (k.to_string(), json!(b)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
    }
    if let Some(r) = &v.raw {
        o.insert("raw_value".into(), json!(hex::encode(&r.value)));
        if let Some(m) = &r.mask {
            o.insert("raw_value_mask".into(), json!(hex::encode(m)));
        }
    }
    if let Some(c) = &v.cryptokeys {
        o.insert("cryptokeys".into(), c.iter().map(cbor::to_json).collect());
    }
    if let Some(r) = &v.integrity_registers {
        o.insert(
            "integrity_registers".into(),
            r.iter()
                .map(|(id, d)| {
                    let id = match id {
                        RegisterId::Uint(n) => json!(n),
                        RegisterId::Text(t) => json!(t),
                    };
                    json!({"id": id, "digests": d.iter().map(digest_json).collect::<Vec<_>>()})
                })
                .collect(),
        );
    }
    match v.int_range {
        Some(IntRange::Exact(n)) => {
            o.insert("int".into(), json!(n.to_string()));
        }
        Some(IntRange::Range(a, b)) => {
            o.insert(
                "int_range".into(),
                json!([a.map(|x| x.to_string()), b.map(|x| x.to_string())]),
            );
        }
        None => {}
    }
    for (k, val) in &v.other {
        o.insert(k.to_string(), cbor::to_json(val));
    }
    for (k, val) in &v.extensions {
        o.insert(k.to_string(), cbor::to_json(val));
    }
    Json::Object(o)
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

impl Locator {
    fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = map(v, path)?;
        let href = match get(m, 0).map(untag) {
            Some((_, Value::Text(t))) => t.clone(),
            Some((_, Value::Array(a))) => match a.first().map(untag) {
                Some((_, Value::Text(t))) => t.clone(),
                _ => return Err(CoreError::malformed(path, "href is not a URI")),
            },
            _ => return Err(CoreError::malformed(path, "no href (0)")),
        };
        let thumbprint = match get(m, 1) {
            Some(Value::Array(a)) => match a.as_slice() {
                [Value::Integer(alg), Value::Bytes(d)] => {
                    Some((i64::try_from(*alg).unwrap_or(-1), d.clone()))
                }
                _ => {
                    return Err(CoreError::malformed(
                        path,
                        "thumbprint is not [alg, digest]",
                    ));
                }
            },
            None => None,
            Some(_) => {
                return Err(CoreError::malformed(
                    path,
                    "thumbprint is not [alg, digest]",
                ));
            }
        };
        Ok(Self { href, thumbprint })
    }

    fn to_json(&self) -> Json {
        json!({
            "href": self.href,
            "thumbprint": self.thumbprint.as_ref().map(|(alg, d)| json!({"alg": alg, "value": hex::encode(d)})),
        })
    }
}

impl Corim {
    /// Decodes an unsigned CoRIM (`501(corim-map)`; with `opts.legacy` also a bare map or
    /// `500(...)`). For signed CoRIMs use [`cose::SignedCorim`].
    pub fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<Self> {
        let v = cbor::decode(bytes, "corim")?;
        Self::from_value(&v, opts)
    }

    pub(crate) fn from_value(v: &Value, opts: &DecodeOptions) -> Result<Self> {
        let inner = match untag(v) {
            (Some(TAG_CORIM), inner) => inner,
            (Some(TAG_LEGACY_CORIM), inner) if opts.legacy => match untag(inner) {
                (Some(TAG_CORIM), x) => x,
                (_, x) => x,
            },
            (None, Value::Map(_)) if opts.legacy => v,
            (Some(TAG_COSE_SIGN1), _) => {
                return Err(CoreError::malformed(
                    "corim",
                    "this is a signed CoRIM (tag 18): decode it with SignedCorim",
                ));
            }
            (t, other) => {
                return Err(CoreError::malformed(
                    "corim",
                    format!(
                        "expected tag 501, found {}{}",
                        t.map(|t| format!("tag {t} of ")).unwrap_or_default(),
                        cbor::kind(other)
                    ),
                ));
            }
        };
        let path = "corim-map";
        let m = map(inner, path)?;
        no_duplicates(m, path)?;
        let id = TagId::decode(
            get(m, 0).ok_or_else(|| CoreError::malformed(path, "no id (0)"))?,
            "corim-map/id",
        )?;
        let profile = get(m, 3)
            .map(|p| match untag(p) {
                (Some(32), Value::Text(t)) => Ok(Profile::Uri(t.clone())),
                (Some(111), Value::Bytes(b)) => Ok(Profile::Oid(b.clone())),
                (None, Value::Text(t)) if opts.bare_text_profile => Ok(Profile::Uri(t.clone())),
                (_, other) => Err(CoreError::malformed(
                    "corim-map/profile",
                    format!("expected 32(uri) or 111(oid), found {}", cbor::kind(other)),
                )),
            })
            .transpose()?;
        let tags = array(
            get(m, 1).ok_or_else(|| CoreError::malformed(path, "no tags (1)"))?,
            "corim-map/tags",
        )?;
        let mut comids = Vec::new();
        let mut other_tags = 0;
        for (i, t) in tags.iter().enumerate() {
            let p = format!("corim-map/tags[{i}]");
            let comid_value = match untag(t) {
                (Some(TAG_COMID), Value::Bytes(b)) => cbor::decode(b, &p)?,
                (Some(TAG_COMID), m @ Value::Map(_)) if opts.legacy => m.clone(),
                (None, Value::Bytes(b)) if opts.legacy => {
                    let inner = cbor::decode(b, &p)?;
                    match untag(&inner) {
                        (Some(TAG_COMID), x) => x.clone(),
                        (None, x @ Value::Map(_)) => x.clone(),
                        (_, other) => {
                            return Err(CoreError::malformed(
                                &p,
                                format!("bare tag holds {}", cbor::kind(other)),
                            ));
                        }
                    }
                }
                (Some(505 | 508), _) => {
                    other_tags += 1;
                    continue;
                }
                (t, other) => {
                    return Err(CoreError::malformed(
                        &p,
                        format!(
                            "expected 506(bstr), found {}{}",
                            t.map(|t| format!("tag {t} of ")).unwrap_or_default(),
                            cbor::kind(other)
                        ),
                    ));
                }
            };
            let comid_value = match untag(&comid_value) {
                (Some(TAG_COMID), x) if opts.legacy => x.clone(),
                _ => comid_value,
            };
            comids.push(Comid::from_value(&comid_value, &format!("{p}/comid"))?);
        }
        Ok(Corim {
            id,
            profile,
            comids,
            other_tags,
            validity: get(m, 4)
                .map(|v| Validity::decode(v, "corim-map/rim-validity"))
                .transpose()?,
            entities: get(m, 5)
                .map(|e| entities(e, "corim-map/entities"))
                .transpose()?
                .unwrap_or_default(),
            extensions: extensions(m),
            dependent_rims: match get(m, 2) {
                Some(v) => array(v, "corim-map/dependent-rims")?
                    .iter()
                    .enumerate()
                    .map(|(i, l)| Locator::decode(l, &format!("corim-map/dependent-rims[{i}]")))
                    .collect::<Result<Vec<_>>>()?,
                None => Vec::new(),
            },
        })
    }

    /// The JSON of `coco corim inspect --json` without the signature fields.
    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id.to_text(),
            "profile": self.profile.as_ref().map(Profile::to_text),
            "validity": self.validity.map(|v| json!({"not_before": v.not_before, "not_after": v.not_after})),
            "entities": self.entities.iter().map(Entity::to_json).collect::<Vec<_>>(),
            "extensions": self.extensions.iter().map(|(k, v)| json!({"key": k, "value": cbor::to_json(v)})).collect::<Vec<_>>(),
            "dependent_rims": self.dependent_rims.iter().map(Locator::to_json).collect::<Vec<_>>(),
            "comids": self.comids.iter().map(Comid::to_json).collect::<Vec<_>>(),
        })
    }
}
