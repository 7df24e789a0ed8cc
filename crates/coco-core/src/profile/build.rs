//! `coco corim build`: a CoRIM of coco's profile from a readable TOML file, so vendors never
//! write CBOR by hand. Every list is a set of alternatives (one reference triple each).
//!
//! ```toml
//! id = "acme-llm-refvals-2026-01"
//! [validity]                                    # optional rim-validity
//! not_after = "2027-01-01T00:00:00Z"
//!
//! [tdx]
//! mrtd = ["91eb2b44...", "..."]                 # SHA-384 digests (hex)
//! rtmr0 = ["..."]                               # rtmr0..rtmr3, mrseam, mrsignerseam likewise
//! td_attributes = { value = "0000000000000000", mask = "0100000000000000" }   # DEBUG must be 0
//! mrconfigid = ["..."]                          # raw values (hex): mrconfigid, mrowner, mrownerconfig, xfam
//!
//! [snp]
//! signing_key = "vcek"                          # or "vlek" (selects the class-id)
//! product = "milan"                             # TCB layout of reported_tcb_min (milan/genoa/turin)
//! measurement = ["..."]                         # also id_key_digest, author_key_digest
//! host_data = ["..."]
//! guest_svn_min = 1
//! policy = { value = 0x30000, mask = 0x80000 }  # 8-byte little-endian raw value under a mask
//! vmpl_max = 0
//! reported_tcb_min = { bootloader = 3, tee = 0, snp = 8, microcode = 115 }
//!
//! [sample]                                      # the CoCo sample attester (rehearsals, no TEE)
//! svn_min = 1
//!
//! [[nvidia]]
//! chip = "GH100"
//! driver_version = ["535.104.05"]
//! vbios_version = ["96.00.74.00.1C"]
//! measurements = { "1" = ["..."], "2" = ["...", "..."] }   # SPDM index -> SHA-384 alternatives
//! ```

use ciborium::value::Value;
use toml::Value as Toml;

use crate::cbor;
use crate::corim::tags;
use crate::error::{CoreError, Result};
use crate::profile::{self, SnpTcb, snp_mkey};

fn err(msg: impl Into<String>) -> CoreError {
    CoreError::malformed("REFS.toml", msg)
}

fn int(n: i128) -> Value {
    cbor::integer(n)
}

fn imap(entries: Vec<(i64, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (int(k.into()), v))
            .collect(),
    )
}

fn hex_bytes(v: &Toml, what: &str, len: Option<usize>) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| err(format!("{what}: expected a hex string")))?;
    let b = hex::decode(s.trim_start_matches("0x")).map_err(|e| err(format!("{what}: {e}")))?;
    if let Some(n) = len
        && b.len() != n
    {
        return Err(err(format!("{what}: {} bytes, expected {n}", b.len())));
    }
    Ok(b)
}

/// A string or an array of strings as alternatives.
fn alternatives<'a>(v: &'a Toml, what: &str) -> Result<Vec<&'a Toml>> {
    match v {
        Toml::Array(a) if !a.is_empty() => Ok(a.iter().collect()),
        Toml::Array(_) => Err(err(format!("{what}: empty list"))),
        other => Ok(vec![other]),
    }
}

fn u64_of(v: &Toml, what: &str) -> Result<u64> {
    match v {
        Toml::Integer(n) => u64::try_from(*n).map_err(|_| err(format!("{what}: negative"))),
        Toml::String(s) => u64::from_str_radix(
            s.trim_start_matches("0x"),
            if s.starts_with("0x") { 16 } else { 10 },
        )
        .map_err(|e| err(format!("{what}: {e}"))),
        _ => Err(err(format!("{what}: expected an integer"))),
    }
}

fn digests_mval(bytes: Vec<u8>) -> Value {
    imap(vec![(
        2,
        Value::Array(vec![Value::Array(vec![int(7), Value::Bytes(bytes)])]),
    )])
}

fn raw_mval(value: Vec<u8>, mask: Option<Vec<u8>>) -> Value {
    let raw = match mask {
        None => Value::Tag(tags::BYTES, Box::new(Value::Bytes(value))),
        Some(m) => Value::Tag(
            563,
            Box::new(Value::Array(vec![Value::Bytes(value), Value::Bytes(m)])),
        ),
    };
    imap(vec![(4, raw)])
}

fn triple(env: &Value, mkey: Value, mval: Value) -> Value {
    Value::Array(vec![
        env.clone(),
        Value::Array(vec![imap(vec![(0, mkey), (1, mval)])]),
    ])
}

fn env_value(e: &crate::corim::Environment) -> Value {
    let mut class = Vec::new();
    if let Some(c) = &e.class {
        if let Some(id) = &c.class_id {
            class.push((0, id.clone()));
        }
        if let Some(v) = &c.vendor {
            class.push((1, Value::Text(v.clone())));
        }
        if let Some(m) = &c.model {
            class.push((2, Value::Text(m.clone())));
        }
    }
    imap(vec![(0, imap(class))])
}

fn comid(tag_id: String, triples: Vec<Value>) -> Value {
    let m = imap(vec![
        (1, imap(vec![(0, Value::Text(tag_id))])),
        (4, imap(vec![(0, Value::Array(triples))])),
    ]);
    Value::Tag(tags::COMID, Box::new(Value::Bytes(cbor::encode(&m))))
}

fn raw_or_masked(v: &Toml, what: &str, len: Option<usize>) -> Result<Value> {
    match v {
        Toml::Table(t) => {
            let value = hex_bytes(
                t.get("value")
                    .ok_or_else(|| err(format!("{what}: no value")))?,
                what,
                len,
            )?;
            let mask = t
                .get("mask")
                .map(|m| hex_bytes(m, what, Some(value.len())))
                .transpose()?;
            Ok(raw_mval(value, mask))
        }
        other => Ok(raw_mval(hex_bytes(other, what, len)?, None)),
    }
}

fn u64_raw_or_masked(v: &Toml, what: &str) -> Result<Value> {
    match v {
        Toml::Table(t) => {
            let value = u64_of(
                t.get("value")
                    .ok_or_else(|| err(format!("{what}: no value")))?,
                what,
            )?;
            let mask = t.get("mask").map(|m| u64_of(m, what)).transpose()?;
            Ok(raw_mval(
                value.to_le_bytes().to_vec(),
                mask.map(|m| m.to_le_bytes().to_vec()),
            ))
        }
        other => Ok(raw_mval(u64_of(other, what)?.to_le_bytes().to_vec(), None)),
    }
}

/// `[sample]`: the Confidential Containers sample attester (rehearsals without a TEE):
/// `svn_min`.
fn sample(t: &toml::Table, id: &str) -> Result<Value> {
    let env = env_value(&profile::sample_environment());
    let mut triples = Vec::new();
    for (key, v) in t {
        let what = format!("sample.{key}");
        match key.as_str() {
            "svn_min" => {
                let m = imap(vec![(
                    1,
                    Value::Tag(tags::MIN_SVN, Box::new(int(u64_of(v, &what)?.into()))),
                )]);
                triples.push(triple(&env, Value::Text(profile::SAMPLE_SVN.into()), m));
            }
            _ => {
                return Err(err(format!(
                    "{what}: unknown sample reference value (svn_min)"
                )));
            }
        }
    }
    if triples.is_empty() {
        return Err(err("[sample] needs svn_min"));
    }
    Ok(comid(format!("{id}/sample"), triples))
}

fn tdx(t: &toml::Table, id: &str) -> Result<Value> {
    let env = env_value(&profile::tdx_environment());
    let mut triples = Vec::new();
    for (key, v) in t {
        let what = format!("tdx.{key}");
        let mkey = Value::Text(key.clone());
        if profile::TDX_DIGEST_KEYS.iter().any(|(k, _)| k == key) {
            for alt in alternatives(v, &what)? {
                triples.push(triple(
                    &env,
                    mkey.clone(),
                    digests_mval(hex_bytes(alt, &what, Some(48))?),
                ));
            }
        } else if profile::TDX_RAW_KEYS.iter().any(|(k, _)| k == key) {
            for alt in alternatives(v, &what)? {
                triples.push(triple(&env, mkey.clone(), raw_or_masked(alt, &what, None)?));
            }
        } else {
            return Err(err(format!("{what}: unknown TDX reference value")));
        }
    }
    Ok(comid(format!("{id}/tdx"), triples))
}

fn snp(t: &toml::Table, id: &str) -> Result<Value> {
    let vlek = match t.get("signing_key").and_then(Toml::as_str) {
        None | Some("vcek") => false,
        Some("vlek") => true,
        Some(o) => return Err(err(format!("snp.signing_key {o:?}: vcek or vlek"))),
    };
    let product = t
        .get("product")
        .and_then(Toml::as_str)
        .unwrap_or("milan")
        .to_string();
    if !["milan", "genoa", "turin"].contains(&product.as_str()) {
        return Err(err(format!(
            "snp.product {product:?}: milan, genoa or turin"
        )));
    }
    let env = env_value(&profile::snp_environment(vlek));
    let mut triples = Vec::new();
    let mk = |n: u64| int(n.into());
    for (key, v) in t {
        let what = format!("snp.{key}");
        match key.as_str() {
            "signing_key" | "product" => {}
            "measurement" | "id_key_digest" | "author_key_digest" => {
                let n = match key.as_str() {
                    "measurement" => snp_mkey::MEASUREMENT,
                    "id_key_digest" => snp_mkey::ID_KEY_DIGEST,
                    _ => snp_mkey::AUTHOR_KEY_DIGEST,
                };
                for alt in alternatives(v, &what)? {
                    triples.push(triple(
                        &env,
                        mk(n),
                        digests_mval(hex_bytes(alt, &what, Some(48))?),
                    ));
                }
            }
            "host_data" => {
                for alt in alternatives(v, &what)? {
                    triples.push(triple(
                        &env,
                        mk(snp_mkey::HOST_DATA),
                        raw_or_masked(alt, &what, Some(32))?,
                    ));
                }
            }
            "family_id" | "image_id" => {
                let n = if key == "family_id" {
                    snp_mkey::FAMILY_ID
                } else {
                    snp_mkey::IMAGE_ID
                };
                for alt in alternatives(v, &what)? {
                    triples.push(triple(&env, mk(n), raw_or_masked(alt, &what, Some(16))?));
                }
            }
            "policy" | "platform_info" => {
                let n = if key == "policy" {
                    snp_mkey::POLICY
                } else {
                    snp_mkey::PLATFORM_INFO
                };
                for alt in alternatives(v, &what)? {
                    triples.push(triple(&env, mk(n), u64_raw_or_masked(alt, &what)?));
                }
            }
            "guest_svn_min" => {
                let m = imap(vec![(
                    1,
                    Value::Tag(tags::MIN_SVN, Box::new(int(u64_of(v, &what)?.into()))),
                )]);
                triples.push(triple(&env, mk(snp_mkey::GUEST_SVN), m));
            }
            "vmpl_max" => {
                let range = Value::Tag(
                    564,
                    Box::new(Value::Array(vec![int(0), int(u64_of(v, &what)?.into())])),
                );
                triples.push(triple(&env, mk(snp_mkey::VMPL), imap(vec![(15, range)])));
            }
            "reported_tcb_min" => {
                let tt = v
                    .as_table()
                    .ok_or_else(|| err(format!("{what}: expected a table")))?;
                let c = |k: &str| -> Result<u8> {
                    tt.get(k)
                        .map(|x| {
                            u64_of(x, &format!("{what}.{k}")).and_then(|n| {
                                u8::try_from(n).map_err(|_| err(format!("{what}.{k} > 255")))
                            })
                        })
                        .transpose()
                        .map(|o| o.unwrap_or(0))
                };
                let tcb = SnpTcb {
                    bootloader: c("bootloader")?,
                    tee: c("tee")?,
                    snp: c("snp")?,
                    microcode: c("microcode")?,
                    fmc: tt.get("fmc").map(|_| c("fmc")).transpose()?,
                };
                let m = imap(vec![(
                    1,
                    Value::Tag(tags::MIN_SVN, Box::new(int(tcb.encode(&product).into()))),
                )]);
                triples.push(triple(&env, mk(snp_mkey::REPORTED_TCB), m));
            }
            _ => return Err(err(format!("{what}: unknown SNP reference value"))),
        }
    }
    Ok(comid(format!("{id}/snp"), triples))
}

fn nvidia(t: &toml::Table, id: &str, i: usize) -> Result<Value> {
    let chip = t
        .get("chip")
        .and_then(Toml::as_str)
        .ok_or_else(|| err("nvidia.chip is required"))?;
    let env = env_value(&profile::nvidia_environment(chip));
    let mut triples = Vec::new();
    for (key, v) in t {
        let what = format!("nvidia.{key}");
        match key.as_str() {
            "chip" => {}
            "driver_version" | "vbios_version" => {
                let (mkey, scheme) = if key == "driver_version" {
                    (profile::nvidia_mkey::DRIVER_VERSION, 1)
                } else {
                    (profile::nvidia_mkey::VBIOS_VERSION, 3)
                };
                for alt in alternatives(v, &what)? {
                    let s = alt
                        .as_str()
                        .ok_or_else(|| err(format!("{what}: expected text")))?;
                    let m = imap(vec![(
                        0,
                        imap(vec![(0, Value::Text(s.into())), (1, int(scheme))]),
                    )]);
                    triples.push(triple(&env, Value::Text(mkey.into()), m));
                }
            }
            "measurements" => {
                let mt = v
                    .as_table()
                    .ok_or_else(|| err(format!("{what}: expected a table")))?;
                for (idx, alts) in mt {
                    let n: u64 = idx
                        .parse()
                        .map_err(|_| err(format!("{what}: index {idx:?} is not an integer")))?;
                    for alt in alternatives(alts, &what)? {
                        triples.push(triple(
                            &env,
                            int(n.into()),
                            digests_mval(hex_bytes(alt, &what, Some(48))?),
                        ));
                    }
                }
            }
            _ => return Err(err(format!("{what}: unknown NVIDIA reference value"))),
        }
    }
    Ok(comid(format!("{id}/nvidia/{i}"), triples))
}

/// Builds an unsigned CoRIM (`501(...)`) of coco's profile from REFS.toml text.
pub fn build(text: &str) -> Result<Vec<u8>> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    let id = doc
        .get("id")
        .and_then(Toml::as_str)
        .ok_or_else(|| err("`id` is required"))?
        .to_string();
    let mut tags = Vec::new();
    for (key, v) in &doc {
        match key.as_str() {
            "id" | "validity" => {}
            "tdx" => tags.push(tdx(
                v.as_table().ok_or_else(|| err("[tdx] is a table"))?,
                &id,
            )?),
            "snp" => tags.push(snp(
                v.as_table().ok_or_else(|| err("[snp] is a table"))?,
                &id,
            )?),
            "sample" => tags.push(sample(
                v.as_table().ok_or_else(|| err("[sample] is a table"))?,
                &id,
            )?),
            "nvidia" => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| err("[[nvidia]] is an array of tables"))?;
                for (i, g) in arr.iter().enumerate() {
                    tags.push(nvidia(
                        g.as_table().ok_or_else(|| err("[[nvidia]] entry"))?,
                        &id,
                        i,
                    )?);
                }
            }
            other => return Err(err(format!("unknown section {other:?}"))),
        }
    }
    if tags.is_empty() {
        return Err(err(
            "no [tdx], [snp], [[nvidia]] or [sample] reference values",
        ));
    }
    let mut corim = vec![
        (0, Value::Text(id)),
        (1, Value::Array(tags)),
        (
            3,
            Value::Tag(tags::URI, Box::new(Value::Text(profile::PROFILE.into()))),
        ),
    ];
    if let Some(v) = doc.get("validity") {
        let t = v.as_table().ok_or_else(|| err("[validity] is a table"))?;
        let time = |k: &str| -> Result<Option<Value>> {
            t.get(k)
                .map(|x| {
                    x.as_str()
                        .and_then(crate::time::unix_rfc3339)
                        .map(|s| Value::Tag(tags::EPOCH_TIME, Box::new(int(s.into()))))
                        .ok_or_else(|| err(format!("validity.{k} is not RFC 3339")))
                })
                .transpose()
        };
        let mut w = Vec::new();
        if let Some(nb) = time("not_before")? {
            w.push((0, nb));
        }
        w.push((
            1,
            time("not_after")?.ok_or_else(|| err("validity.not_after is required"))?,
        ));
        corim.push((4, imap(w)));
    }
    Ok(cbor::encode(&Value::Tag(
        tags::CORIM,
        Box::new(imap(corim)),
    )))
}
