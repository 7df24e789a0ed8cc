//! JSON Canonicalization Scheme (RFC 8785) for the values the KBS binding hashes: objects with
//! members sorted by their UTF-16 code units, no whitespace, strings escaped as ECMAScript's
//! `JSON.stringify` does, integers in the IEEE-754 safe range as plain decimals. Non-integer
//! numbers never occur in the binding's inputs (nonces, JWKs, evidence strings) and are refused
//! rather than formatted approximately.

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JSON canonicalization: {0}")]
pub struct JcsError(pub String);

/// The largest integer JCS writes exactly (2^53 - 1).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// The RFC 8785 canonical form of `value`.
///
/// ```
/// use serde_json::json;
/// let c = coco_release::kbs::jcs::canonical(&json!({"b": [1, "\u{1}"], "a": {"z": null, "\u{e9}": true}})).unwrap();
/// assert_eq!(c, "{\"a\":{\"z\":null,\"\u{e9}\":true},\"b\":[1,\"\\u0001\"]}");
/// ```
pub fn canonical(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(v: &Value, out: &mut String) -> Result<(), JcsError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let exact = n
                .as_u64()
                .filter(|&u| u <= MAX_SAFE)
                .map(|u| u.to_string())
                .or_else(|| {
                    n.as_i64()
                        .filter(|i| i.unsigned_abs() <= MAX_SAFE)
                        .map(|i| i.to_string())
                });
            match exact {
                Some(s) => out.push_str(&s),
                None => {
                    return Err(JcsError(format!(
                        "the number {n} is not an integer of at most 53 bits"
                    )));
                }
            }
        }
        // serde_json escapes exactly as JCS does: '"', '\\', and the controls (\b \t \n \f \r
        // short, the others as lowercase \u00xx); everything else is written as it is.
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, x)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_by_utf16_escapes_like_ecmascript_and_refuses_floats() {
        // RFC 8785 3.2.3's sorting example: code units, not code points or UTF-8 bytes.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro","\r":"Carriage Return","\ufb33":"Hebrew","1":"One","\ud83d\ude00":"Emoji","\u0080":"Control","\u00f6":"Umlaut"}"#,
        )
        .unwrap();
        let keys: Vec<String> = {
            let c = canonical(&v).unwrap();
            let back: serde_json::Map<String, Value> = serde_json::from_str(&c).unwrap();
            // serde_json re-sorts a map it parses; read the order from the text instead.
            let mut ks: Vec<(usize, String)> = back
                .keys()
                .map(|k| {
                    (
                        c.find(&Value::String(k.clone()).to_string()).unwrap(),
                        k.clone(),
                    )
                })
                .collect();
            ks.sort();
            ks.into_iter().map(|(_, k)| k).collect()
        };
        assert_eq!(
            keys,
            [
                "\r",
                "1",
                "\u{80}",
                "\u{f6}",
                "\u{20ac}",
                "\u{1f600}",
                "\u{fb33}"
            ]
        );
        assert_eq!(
            canonical(&json!("\u{7f}\u{1f}\u{2028}/\"\\\n")).unwrap(),
            "\"\u{7f}\\u001f\u{2028}/\\\"\\\\\\n\""
        );
        assert_eq!(
            canonical(&json!([-9007199254740991i64, 0, 9007199254740991u64])).unwrap(),
            "[-9007199254740991,0,9007199254740991]"
        );
        assert!(canonical(&json!(9007199254740992u64)).is_err());
        assert!(canonical(&json!(1.5)).is_err());
    }
}
