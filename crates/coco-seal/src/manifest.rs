//! The model manifest: an in-toto Statement v1 listing every sealed shard, optionally in a
//! DSSE envelope signed with ECDSA P-384 (ES384) by the model vendor.
//!
//! The manifest is the model's identity: a loader checks each shard's header digest against
//! it (which pins salt, key check, metadata and commitment) and, for a signed manifest, the
//! plaintext digests too, which stops even a holder of the data key from substituting weights.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use coco_core::Sha256Digest;
use p384::ecdsa::signature::{Signer, Verifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use p384::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{ManifestError, Result};

/// File name of the manifest in a sealed model directory.
pub const MANIFEST_FILE: &str = "coco-manifest.json";
/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a coco sealed-model manifest.
pub const PREDICATE_TYPE: &str = "https://coco-seal.example/manifest/v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The `format` value of the predicate.
pub const FORMAT: &str = "coco-seal/v1";

/// An in-toto Statement v1 whose predicate describes a sealed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// One subject: the model id with the SHA-256 of the canonical JSON of `predicate.shards`.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The sealed model.
    pub predicate: ModelPredicate,
}

/// An in-toto subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The model id.
    pub name: String,
    /// Digests by algorithm name (`sha256`).
    pub digest: BTreeMap<String, String>,
}

/// What a sealed model directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPredicate {
    /// Always [`FORMAT`].
    pub format: String,
    /// The cipher suite's name.
    pub suite: String,
    /// The model id.
    pub model_id: String,
    /// The key id every shard was sealed under.
    pub key_id: String,
    /// Hex key check value of the DEK.
    pub key_check: String,
    /// Chunk size in bytes.
    pub chunk_size: u64,
    /// Every shard, in index order.
    pub shards: Vec<ShardEntry>,
}

/// One sealed shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// Position in the model, 0-based.
    pub index: u32,
    /// Plaintext path relative to the model directory, `/`-separated.
    pub path: String,
    /// Sealed path: `path` + `.coco`.
    pub sealed_path: String,
    /// Plaintext size in bytes.
    pub plaintext_size: u64,
    /// SHA-256 of the plaintext.
    pub plaintext_sha256: Sha256Digest,
    /// Sealed file size in bytes.
    pub sealed_size: u64,
    /// SHA-256 of the sealed header `[0, H)`.
    pub header_sha256: Sha256Digest,
}

impl ModelPredicate {
    /// SHA-256 of the canonical JSON of the shard list: the statement's subject digest.
    pub fn shards_digest(&self) -> Sha256Digest {
        Sha256Digest::of(&serde_json::to_vec(&self.shards).expect("shards serialize"))
    }
}

impl Statement {
    /// Wraps a predicate, computing the subject.
    pub fn new(predicate: ModelPredicate) -> Self {
        let digest =
            BTreeMap::from([("sha256".to_string(), predicate.shards_digest().to_string())]);
        Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                name: predicate.model_id.clone(),
                digest,
            }],
            predicate_type: PREDICATE_TYPE.into(),
            predicate,
        }
    }

    /// Checks the types, the subject digest, the paths and the index order.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| ManifestError::Invalid(m);
        if self.statement_type != STATEMENT_TYPE {
            return Err(invalid(format!("_type is {:?}", self.statement_type)));
        }
        if self.predicate_type != PREDICATE_TYPE {
            return Err(invalid(format!(
                "predicateType is {:?}",
                self.predicate_type
            )));
        }
        let p = &self.predicate;
        if p.format != FORMAT {
            return Err(invalid(format!("format is {:?}", p.format)));
        }
        let [subject] = self.subject.as_slice() else {
            return Err(invalid("exactly one subject expected".into()));
        };
        if subject.name != p.model_id {
            return Err(invalid("the subject name is not the model id".into()));
        }
        let want = p.shards_digest().to_string();
        if subject.digest.get("sha256").map(|d| d.to_ascii_lowercase()) != Some(want) {
            return Err(invalid(
                "the subject digest does not match the shard list".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in p.shards.iter().enumerate() {
            if s.index as usize != i {
                return Err(invalid(format!("shard {i} has index {}", s.index)));
            }
            check_relative_path(&s.path)?;
            if s.sealed_path != format!("{}.coco", s.path) {
                return Err(ManifestError::UnsafePath(s.sealed_path.clone()));
            }
            if !seen.insert(s.path.as_str()) || s.path == MANIFEST_FILE {
                return Err(invalid(format!("duplicate or reserved path {:?}", s.path)));
            }
        }
        Ok(())
    }
}

/// Rejects absolute paths, `..`, `.`, empty components, backslashes and NUL.
pub fn check_relative_path(path: &str) -> Result<(), ManifestError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(ManifestError::UnsafePath(path.to_string()))
    } else {
        Ok(())
    }
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// The payload type ([`PAYLOAD_TYPE`]).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over `PAE(payloadType, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Hex SHA-256 of the signer's SubjectPublicKeyInfo (DER).
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the DER-encoded ECDSA P-384 / SHA-384 signature.
    pub sig: String,
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The key id of a vendor key: hex SHA-256 of its SubjectPublicKeyInfo DER.
pub fn key_id(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .expect("a P-384 public key encodes as SPKI");
    Sha256Digest::of(der.as_bytes()).to_string()
}

/// A manifest as stored: plain, or signed.
#[derive(Debug, Clone)]
pub enum StoredManifest {
    /// A bare statement.
    Plain(Statement),
    /// A statement in a DSSE envelope (signature not yet checked).
    Signed(Envelope),
}

impl StoredManifest {
    /// Parses the manifest file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        if value.get("payloadType").is_some() {
            serde_json::from_value(value)
                .map(StoredManifest::Signed)
                .map_err(|e| ManifestError::Syntax(format!("DSSE envelope: {e}")))
        } else {
            serde_json::from_value(value)
                .map(StoredManifest::Plain)
                .map_err(|e| ManifestError::Syntax(e.to_string()))
        }
    }

    /// Signs a statement into an envelope.
    pub fn sign(statement: &Statement, key: &SigningKey) -> Self {
        let payload = serde_json::to_vec(statement).expect("statement serializes");
        let sig: Signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
        StoredManifest::Signed(Envelope {
            payload: B64.encode(&payload),
            payload_type: PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature {
                keyid: key_id(key.verifying_key()),
                sig: B64.encode(sig.to_der().as_bytes()),
            }],
        })
    }

    /// Serializes for the manifest file.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = match self {
            StoredManifest::Plain(s) => serde_json::to_vec_pretty(s),
            StoredManifest::Signed(e) => serde_json::to_vec_pretty(e),
        }
        .expect("manifest serializes");
        v.push(b'\n');
        v
    }

    /// Whether the manifest is in a signed envelope.
    pub fn is_signed(&self) -> bool {
        matches!(self, StoredManifest::Signed(_))
    }

    /// Returns the validated statement. With a vendor key the manifest must be signed and one
    /// signature must verify under that key; without one the signature is not checked.
    pub fn statement(&self, vendor_key: Option<&VerifyingKey>) -> Result<Statement, ManifestError> {
        let statement = match (self, vendor_key) {
            (StoredManifest::Plain(_), Some(_)) => return Err(ManifestError::Unsigned),
            (StoredManifest::Plain(s), None) => s.clone(),
            (StoredManifest::Signed(env), key) => {
                if env.payload_type != PAYLOAD_TYPE {
                    return Err(ManifestError::Invalid(format!(
                        "payloadType is {:?}",
                        env.payload_type
                    )));
                }
                let payload = B64
                    .decode(&env.payload)
                    .map_err(|e| ManifestError::Syntax(format!("payload is not base64: {e}")))?;
                if let Some(key) = key {
                    let message = pae(&env.payload_type, &payload);
                    let ok = env.signatures.iter().any(|s| {
                        B64.decode(&s.sig)
                            .ok()
                            .and_then(|der| Signature::from_der(&der).ok())
                            .is_some_and(|sig| key.verify(&message, &sig).is_ok())
                    });
                    if !ok {
                        return Err(ManifestError::BadSignature);
                    }
                }
                serde_json::from_slice(&payload)
                    .map_err(|e| ManifestError::Syntax(e.to_string()))?
            }
        };
        statement.validate()?;
        Ok(statement)
    }
}

/// Generates a vendor signing key (ECDSA P-384).
pub fn generate_signing_key() -> Result<SigningKey> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 48]);
        getrandom::fill(bytes.as_mut_slice())
            .map_err(|e| std::io::Error::other(format!("getrandom: {e}")))?;
        if let Ok(k) = SigningKey::from_slice(bytes.as_slice()) {
            return Ok(k);
        }
    }
}

/// PKCS#8 PEM of a signing key (zeroized on drop).
pub fn signing_key_to_pem(key: &SigningKey) -> Zeroizing<String> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("a P-384 key encodes as PKCS#8");
    Zeroizing::new(pem.to_string())
}

/// SPKI PEM of a verifying key.
pub fn verifying_key_to_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("a P-384 key encodes as SPKI")
}

fn bad_key(path: &Path, reason: impl ToString) -> ManifestError {
    ManifestError::BadKey {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads a PEM key file: an unreadable file is [`SealError::File`], one that is not text (a
/// 32-byte data key given where a PEM key belongs) is [`ManifestError::BadKey`] saying so.
fn read_pem(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| crate::SealError::file(path, e))?);
    match std::str::from_utf8(&bytes) {
        Ok(s) if s.contains("-----BEGIN") => Ok(Zeroizing::new(s.to_string())),
        _ => Err(bad_key(
            path,
            format!("not a PEM file; expected {what} (`coco keygen --vendor` writes one)"),
        )
        .into()),
    }
}

/// Loads a vendor signing key from a PKCS#8 PEM file.
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let pem = read_pem(path, "the vendor's PKCS#8 signing key")?;
    Ok(SigningKey::from_pkcs8_pem(&pem).map_err(|e| bad_key(path, e))?)
}

/// Loads a vendor verifying key from an SPKI PEM file (`-----BEGIN PUBLIC KEY-----`).
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey> {
    let pem = read_pem(path, "the vendor's public key (the .pub file)")?;
    Ok(VerifyingKey::from_public_key_pem(&pem).map_err(|e| bad_key(path, e))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> Statement {
        Statement::new(ModelPredicate {
            format: FORMAT.into(),
            suite: "s".into(),
            model_id: "m".into(),
            key_id: String::new(),
            key_check: "00".into(),
            chunk_size: 65536,
            shards: vec![ShardEntry {
                index: 0,
                path: "a/b.bin".into(),
                sealed_path: "a/b.bin.coco".into(),
                plaintext_size: 1,
                plaintext_sha256: Sha256Digest::of(b"x"),
                sealed_size: 4097,
                header_sha256: Sha256Digest::of(b"h"),
            }],
        })
    }

    proptest::proptest! {
        /// A manifest written and read back (plain and signed) is the same statement.
        #[test]
        fn stored_manifest_round_trips(
            sizes in proptest::collection::vec((0u64..(1 << 40), "[a-z0-9_-]{1,12}"), 1..6),
            model_id in "[a-z0-9/@.-]{1,30}",
        ) {
            let shards = sizes
                .iter()
                .enumerate()
                .map(|(i, (n, name))| ShardEntry {
                    index: i as u32,
                    path: format!("d{i}/{name}.safetensors"),
                    sealed_path: format!("d{i}/{name}.safetensors.coco"),
                    plaintext_size: *n,
                    plaintext_sha256: Sha256Digest::of(name.as_bytes()),
                    sealed_size: n + 4096,
                    header_sha256: Sha256Digest::of(&n.to_le_bytes()),
                })
                .collect();
            let st = Statement::new(ModelPredicate {
                format: FORMAT.into(),
                suite: "AES-256-GCM-SIV+HKDF-SHA256+commit256".into(),
                model_id,
                key_id: "k".into(),
                key_check: "00".repeat(16),
                chunk_size: 1 << 20,
                shards,
            });
            let plain = StoredManifest::parse(&StoredManifest::Plain(st.clone()).to_json()).unwrap();
            proptest::prop_assert_eq!(plain.statement(None).unwrap(), st.clone());
            let key = SigningKey::from_slice(&[3u8; 48]).unwrap();
            let signed = StoredManifest::parse(&StoredManifest::sign(&st, &key).to_json()).unwrap();
            proptest::prop_assert_eq!(signed.statement(Some(key.verifying_key())).unwrap(), st);
        }
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn sign_verify_and_reject() {
        let key = generate_signing_key().unwrap();
        let other = generate_signing_key().unwrap();
        let s = statement();
        let signed = StoredManifest::sign(&s, &key);
        let round = StoredManifest::parse(&signed.to_json()).unwrap();
        assert_eq!(round.statement(Some(key.verifying_key())).unwrap(), s);
        assert!(matches!(
            round.statement(Some(other.verifying_key())),
            Err(ManifestError::BadSignature)
        ));
        let plain = StoredManifest::parse(&StoredManifest::Plain(s.clone()).to_json()).unwrap();
        assert!(matches!(
            plain.statement(Some(key.verifying_key())),
            Err(ManifestError::Unsigned)
        ));
        assert_eq!(plain.statement(None).unwrap(), s);
        // A payload edited after signing fails.
        let StoredManifest::Signed(mut env) = signed else {
            unreachable!()
        };
        let mut edited = s.clone();
        edited.predicate.shards[0].plaintext_size = 2;
        edited.subject[0].digest.insert(
            "sha256".into(),
            edited.predicate.shards_digest().to_string(),
        );
        env.payload = B64.encode(serde_json::to_vec(&edited).unwrap());
        assert!(matches!(
            StoredManifest::Signed(env).statement(Some(key.verifying_key())),
            Err(ManifestError::BadSignature)
        ));
    }

    #[test]
    fn validation() {
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b", "", "./a", "a\\b"] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
        check_relative_path("a/b.safetensors").unwrap();
        let mut s = statement();
        s.predicate.shards[0].plaintext_size = 5;
        assert!(matches!(s.validate(), Err(ManifestError::Invalid(_))));
        let mut s = statement();
        s.predicate.shards[0].path = "../evil".into();
        s = Statement::new(s.predicate);
        assert!(matches!(s.validate(), Err(ManifestError::UnsafePath(_))));
    }
}
