//! CBOR decoding of CoRIMs and CoMIDs into the types of [`corim`](super): every map key and
//! tag by its name in the draft's CDDL ([`tags`](super::tags)), every error with the path of
//! the item it concerns.

use ciborium::value::Value;

use super::*;
use crate::cbor::{self, array, bytes, get, map, no_duplicates, text, uint, untag};
use crate::error::{CoreError, Result};

impl TagId {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        match untag(v) {
            (None | Some(tags::UUID), Value::Text(t)) => Ok(TagId::Text(t.clone())),
            (None | Some(tags::UUID), Value::Bytes(b)) => {
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
}

pub(crate) fn extensions(m: &[(Value, Value)]) -> Vec<(i64, Value)> {
    m.iter()
        .filter_map(|(k, v)| {
            cbor::int(k)
                .filter(|n| *n < 0)
                .and_then(|n| i64::try_from(n).ok())
                .map(|n| (n, v.clone()))
        })
        .collect()
}

pub(crate) fn entities(v: &Value, path: &str) -> Result<Vec<Entity>> {
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

/// A map without duplicate keys that must have at least one entry (`what` names it).
fn nonempty_map<'a>(v: &'a Value, path: &str, what: &str) -> Result<&'a [(Value, Value)]> {
    let m = map(v, path)?;
    no_duplicates(m, path)?;
    if m.is_empty() {
        return Err(CoreError::malformed(
            path,
            format!("{what} must not be empty"),
        ));
    }
    Ok(m)
}

impl Environment {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = nonempty_map(v, path, "an environment-map")?;
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
}

impl Mkey {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        match untag(v) {
            (None, Value::Text(t)) => Ok(Mkey::Text(t.clone())),
            (None, Value::Integer(_)) => Ok(Mkey::Uint(uint(v, path)?)),
            (Some(tags::OID), Value::Bytes(b)) => Ok(Mkey::Oid(b.clone())),
            (Some(tags::UUID), Value::Bytes(b)) => Ok(Mkey::Uuid(b.clone())),
            (_, other) => Err(CoreError::malformed(
                path,
                format!("not an mkey: {}", cbor::kind(other)),
            )),
        }
    }
}

pub(crate) fn digests(v: &Value, path: &str) -> Result<Vec<Digest>> {
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

impl Mval {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
        let m = nonempty_map(v, path, "a measurement-values-map")?;
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
                        (None | Some(tags::SVN), x) => Svn::Exact(uint(x, &p)?),
                        (Some(tags::MIN_SVN), x) => Svn::Min(uint(x, &p)?),
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
                        (Some(tags::BYTES) | None, Value::Bytes(b)) => RawValue {
                            value: b.clone(),
                            mask: None,
                        },
                        (Some(tags::MASKED_RAW_VALUE), inner) => {
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
                        (Some(tags::INT_RANGE), inner) => {
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

pub(crate) fn value_triples(v: &Value, path: &str) -> Result<Vec<ValueTriple>> {
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

pub(crate) fn key_triples(v: &Value, path: &str) -> Result<Vec<KeyTriple>> {
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

    pub(crate) fn from_value(v: &Value, path: &str) -> Result<Self> {
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
}

impl Locator {
    pub(crate) fn decode(v: &Value, path: &str) -> Result<Self> {
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
            (Some(tags::CORIM), inner) => inner,
            (Some(tags::LEGACY_CORIM), inner) if opts.legacy => match untag(inner) {
                (Some(tags::CORIM), x) => x,
                (_, x) => x,
            },
            (None, Value::Map(_)) if opts.legacy => v,
            (Some(tags::COSE_SIGN1), _) => {
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
                (Some(tags::URI), Value::Text(t)) => Ok(Profile::Uri(t.clone())),
                (Some(tags::OID), Value::Bytes(b)) => Ok(Profile::Oid(b.clone())),
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
                (Some(tags::COMID), Value::Bytes(b)) => cbor::decode(b, &p)?,
                (Some(tags::COMID), m @ Value::Map(_)) if opts.legacy => m.clone(),
                (None, Value::Bytes(b)) if opts.legacy => {
                    let inner = cbor::decode(b, &p)?;
                    match untag(&inner) {
                        (Some(tags::COMID), x) => x.clone(),
                        (None, x @ Value::Map(_)) => x.clone(),
                        (_, other) => {
                            return Err(CoreError::malformed(
                                &p,
                                format!("bare tag holds {}", cbor::kind(other)),
                            ));
                        }
                    }
                }
                (Some(tags::COSWID | tags::COTL), _) => {
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
                (Some(tags::COMID), x) if opts.legacy => x.clone(),
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
}
