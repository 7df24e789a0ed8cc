//! The JSON view of decoded CoRIMs (`coco corim inspect`, DESIGN §4): what the CLI prints,
//! never read back.

use serde_json::{Value as Json, json};

use super::*;
use crate::cbor;

impl Entity {
    /// The JSON form (`name`, `reg_id`, `roles`).
    pub fn to_json(&self) -> Json {
        json!({"name": self.name, "reg_id": self.reg_id, "roles": self.roles})
    }
}

impl Environment {
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

impl Mkey {
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

impl Comid {
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

pub(crate) fn digest_json(d: &Digest) -> Json {
    let alg = match &d.alg {
        Alg::Int(n) => json!(n),
        Alg::Text(t) => json!(t),
    };
    json!([alg, hex::encode(&d.value)])
}

pub(crate) fn measurement_json(m: &Measurement) -> Json {
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

impl Locator {
    fn to_json(&self) -> Json {
        json!({
            "href": self.href,
            "thumbprint": self.thumbprint.as_ref().map(|(alg, d)| json!({"alg": alg, "value": hex::encode(d)})),
        })
    }
}

impl Corim {
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
