//! Small, path-aware accessors over `ciborium::Value`: every failure names the element.

use ciborium::value::{Integer, Value};

use crate::error::{CoreError, Result};

/// Decodes one CBOR item that must span the whole input.
pub fn decode(bytes: &[u8], path: &str) -> Result<Value> {
    let mut reader = bytes;
    let v: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, 64)
        .map_err(|e| CoreError::malformed(path, format!("not CBOR: {e}")))?;
    if !reader.is_empty() {
        return Err(CoreError::malformed(
            path,
            format!("{} bytes after the CBOR item", reader.len()),
        ));
    }
    Ok(v)
}

/// Encodes a value.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// The integer value of a CBOR integer (full u64 and negative range).
pub fn int(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

/// A CBOR integer from an i128 in range.
pub fn integer(n: i128) -> Value {
    Value::Integer(Integer::try_from(n).expect("in CBOR integer range"))
}

/// A map's entries, or an error at `path`.
pub fn map<'a>(v: &'a Value, path: &str) -> Result<&'a [(Value, Value)]> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(CoreError::malformed(
            path,
            format!("expected a map, found {}", kind(other)),
        )),
    }
}

/// An array's items, or an error at `path`.
pub fn array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value]> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(CoreError::malformed(
            path,
            format!("expected an array, found {}", kind(other)),
        )),
    }
}

/// Decodes every item of the array at `path` with `f(item, "path[i]")`.
pub fn each<T>(
    v: &Value,
    path: &str,
    mut f: impl FnMut(&Value, &str) -> Result<T>,
) -> Result<Vec<T>> {
    array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, x)| f(x, &format!("{path}[{i}]")))
        .collect()
}

/// A text string, or an error at `path`.
pub fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    match v {
        Value::Text(t) => Ok(t),
        other => Err(CoreError::malformed(
            path,
            format!("expected text, found {}", kind(other)),
        )),
    }
}

/// A byte string, or an error at `path`.
pub fn bytes<'a>(v: &'a Value, path: &str) -> Result<&'a [u8]> {
    match v {
        Value::Bytes(b) => Ok(b),
        other => Err(CoreError::malformed(
            path,
            format!("expected bytes, found {}", kind(other)),
        )),
    }
}

/// An unsigned integer (full u64 range), or an error at `path`.
pub fn uint(v: &Value, path: &str) -> Result<u64> {
    int(v).and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
        CoreError::malformed(
            path,
            format!("expected an unsigned integer, found {}", kind(v)),
        )
    })
}

/// A boolean, or an error at `path`.
pub fn boolean(v: &Value, path: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(CoreError::malformed(
            path,
            format!("expected a bool, found {}", kind(other)),
        )),
    }
}

/// The value under integer key `key`, if present.
pub fn get(m: &[(Value, Value)], key: i64) -> Option<&Value> {
    m.iter()
        .find(|(k, _)| int(k) == Some(i128::from(key)))
        .map(|(_, v)| v)
}

/// Fails if a map has a key twice (CBOR maps must not; a duplicate could hide a value).
pub fn no_duplicates(m: &[(Value, Value)], path: &str) -> Result<()> {
    for (i, (k, _)) in m.iter().enumerate() {
        if m[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(CoreError::malformed(
                path,
                format!("duplicate map key {k:?}"),
            ));
        }
    }
    Ok(())
}

/// `(Some(tag), inner)` for a tagged value, `(None, v)` otherwise.
pub fn untag(v: &Value) -> (Option<u64>, &Value) {
    match v {
        Value::Tag(t, inner) => (Some(*t), inner),
        other => (None, other),
    }
}

/// The inner value of tag `tag`, or an error at `path`.
pub fn tagged<'a>(v: &'a Value, tag: u64, path: &str) -> Result<&'a Value> {
    match v {
        Value::Tag(t, inner) if *t == tag => Ok(inner),
        other => Err(CoreError::malformed(
            path,
            format!("expected tag {tag}, found {}", kind(other)),
        )),
    }
}

/// A short name of a value's major type, for error messages.
pub fn kind(v: &Value) -> String {
    match v {
        Value::Integer(_) => "an integer".into(),
        Value::Bytes(_) => "bytes".into(),
        Value::Float(_) => "a float".into(),
        Value::Text(_) => "text".into(),
        Value::Bool(_) => "a bool".into(),
        Value::Null => "null".into(),
        Value::Tag(t, _) => format!("tag {t}"),
        Value::Array(_) => "an array".into(),
        Value::Map(_) => "a map".into(),
        _ => "an unknown item".into(),
    }
}

/// A JSON rendering of a CBOR value for reports: bytes as lower-case hex, tags as
/// `{"tag": n, "value": ...}`, integers exact (as numbers up to 2^53, else strings).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Integer(i) => {
            let n = i128::from(*i);
            if n.unsigned_abs() < (1u128 << 53) {
                json!(n as i64)
            } else {
                json!(n.to_string())
            }
        }
        Value::Bytes(b) => json!(hex::encode(b)),
        Value::Float(f) => json!(f),
        Value::Text(t) => json!(t),
        Value::Bool(b) => json!(b),
        Value::Null => serde_json::Value::Null,
        Value::Tag(t, inner) => json!({"tag": t, "value": to_json(inner)}),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    Value::Text(t) => t.clone(),
                    other => match to_json(other) {
                        serde_json::Value::String(s) => s,
                        j => j.to_string(),
                    },
                };
                o.insert(key, to_json(v));
            }
            serde_json::Value::Object(o)
        }
        _ => serde_json::Value::Null,
    }
}
