//! The KBS resource JWE decrypted by code nobody here wrote: PyPI `jwcrypto` (installed by
//! .ci/run) opens what `coco_release::jwe` encrypted to its keys, for P-256, P-384, P-521
//! (ECDH-ES+A256KW) and RSA-2048 (RSA-OAEP-256), and sees the protected header as the KBS guest
//! client expects it.

use std::process::Command;

use coco_release::jwe::{self, TeeKey};

fn python(script: &str, dir: &std::path::Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python (jwcrypto is installed by .ci/run): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn jwcrypto_decrypts_what_coco_encrypts() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // jwcrypto makes the TEE keys and keeps the private halves.
    python(
        r#"
import json
from jwcrypto import jwk
for name, k in [("p256", jwk.JWK.generate(kty="EC", crv="P-256")),
                ("p384", jwk.JWK.generate(kty="EC", crv="P-384")),
                ("p521", jwk.JWK.generate(kty="EC", crv="P-521")),
                ("rsa", jwk.JWK.generate(kty="RSA", size=2048))]:
    open(name + ".priv.json", "w").write(k.export_private())
    open(name + ".pub.json", "w").write(k.export_public())
"#,
        d,
    );
    let secret = b"the model's data key: 32 bytes.!";
    for name in ["p256", "p384", "p521", "rsa"] {
        let jwk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(format!("{name}.pub.json"))).unwrap())
                .unwrap();
        let key = TeeKey::from_jwk(&jwk).unwrap();
        let jwe = jwe::encrypt(&key, secret).unwrap();
        std::fs::write(d.join(format!("{name}.jwe.json")), jwe.to_string()).unwrap();
    }
    let out = python(
        r#"
import base64, json
from jwcrypto import jwe, jwk
for name, alg in [("p256", "ECDH-ES+A256KW"), ("p384", "ECDH-ES+A256KW"),
                  ("p521", "ECDH-ES+A256KW"), ("rsa", "RSA-OAEP-256")]:
    key = jwk.JWK.from_json(open(name + ".priv.json").read())
    token = jwe.JWE()
    token.deserialize(open(name + ".jwe.json").read(), key=key)
    header = json.loads(base64.urlsafe_b64decode(
        json.loads(open(name + ".jwe.json").read())["protected"] + "=="))
    assert list(header)[:2] == ["alg", "enc"], header
    assert header["alg"] == alg and header["enc"] == "A256GCM", header
    if alg.startswith("ECDH"):
        assert list(header["epk"]) == ["crv", "kty", "x", "y"], header
    print(name, token.payload.hex())
"#,
        d,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for l in lines {
        let (_, hex_payload) = l.split_once(' ').unwrap();
        assert_eq!(hex::decode(hex_payload).unwrap(), secret, "{l}");
    }
    // A changed ciphertext does not decrypt.
    let mut bad: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("p256.jwe.json")).unwrap()).unwrap();
    let ct = bad["ciphertext"].as_str().unwrap().to_string();
    let first = if ct.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &ct[1..]);
    bad["ciphertext"] = flipped.into();
    std::fs::write(d.join("p256.jwe.json"), bad.to_string()).unwrap();
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
from jwcrypto import jwe, jwk
key = jwk.JWK.from_json(open("p256.priv.json").read())
jwe.JWE().deserialize(open("p256.jwe.json").read(), key=key)
"#,
        )
        .current_dir(d)
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "a tampered JWE must not decrypt");
}

/// The reverse: jwcrypto encrypts to coco's TEE key (its public JWK as coco sends it), coco
/// decrypts; for P-256, P-384 and P-521. A changed tag or a JWE to another key opens nothing.
#[test]
fn coco_decrypts_what_jwcrypto_encrypts() {
    use coco_release::jwe::{Curve, TeeKeyPair};
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let secret = b"the model's data key, from a KBS";
    for (name, curve) in [
        ("p256", Curve::P256),
        ("p384", Curve::P384),
        ("p521", Curve::P521),
    ] {
        let key = TeeKeyPair::generate(curve).unwrap();
        std::fs::write(
            d.join(format!("{name}.pub.json")),
            key.public_jwk().to_string(),
        )
        .unwrap();
        let out = python(
            &format!(
                r#"
import json
from jwcrypto import jwe, jwk
key = jwk.JWK.from_json(open("{name}.pub.json").read())
t = jwe.JWE({secret:?}.encode(), json.dumps({{"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}}))
t.add_recipient(key)
print(t.serialize())
"#,
                secret = std::str::from_utf8(secret).unwrap()
            ),
            d,
        );
        let jwe: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(&key.decrypt(&jwe).unwrap()[..], secret, "{name}");
        let mut bad = jwe.clone();
        let tag = bad["tag"].as_str().unwrap().to_string();
        bad["tag"] = format!(
            "{}{}",
            if tag.starts_with('A') { "B" } else { "A" },
            &tag[1..]
        )
        .into();
        assert!(key.decrypt(&bad).is_err(), "{name}: a changed tag");
        let other = TeeKeyPair::generate(curve).unwrap();
        assert!(other.decrypt(&jwe).is_err(), "{name}: another key");
    }
}
