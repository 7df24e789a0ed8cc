//! Signed CoRIMs: `18(COSE_Sign1)` with the CoRIM in the payload, ES256 or ES384, corim-meta
//! (label 8) and/or CWT claims (label 15) in the protected header.
//!
//! The signature is checked over the exact bytes received (`Sig_structure` built from the
//! original protected-header and payload byte strings; signed CoRIMs in the wild are not
//! deterministic CBOR), and only against keys the caller trusts: a `kid` or certificate in the
//! document only selects among them.

use ciborium::value::Value;
use coset::{CborSerializable, CoseSign1, Label, TaggedCborSerializable, iana};

use super::{Corim, DecodeOptions, Validity, tags};
use crate::cbor::{self, get, map, text, uint, untag};
use crate::error::{CoreError, Result, SignatureError};
use crate::keys::{PublicKey, SigningKey};

/// The content type a signed CoRIM's protected header must carry.
pub const CONTENT_TYPE: &str = "application/rim+cbor";

/// The signer named in corim-meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// signer-name.
    pub name: String,
    /// signer-uri.
    pub uri: Option<String>,
}

/// A signed CoRIM, decoded but not yet verified.
#[derive(Debug, Clone)]
pub struct SignedCorim {
    /// The CoRIM in the payload.
    pub corim: Corim,
    /// The COSE algorithm (-7 ES256, -35 ES384).
    pub alg: i64,
    /// The key id, if given.
    pub kid: Option<Vec<u8>>,
    /// corim-meta's signer.
    pub signer: Option<Signer>,
    /// corim-meta's signature-validity.
    pub signature_validity: Option<Validity>,
    /// CWT claims' nbf/exp as a window.
    pub cwt_validity: Option<Validity>,
    /// CWT claims' issuer.
    pub cwt_issuer: Option<String>,
    sign1: CoseSign1,
}

fn bad(path: &str, reason: impl Into<String>) -> CoreError {
    CoreError::malformed(path, reason)
}

/// Whether `bytes` is a signed CoRIM (tag 18, or 500/502 around it).
pub fn is_signed(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [0xd2, ..] | [0xd9, 0x01, 0xf4, 0xd9, 0x01, 0xf6, ..] | [0xd9, 0x01, 0xf6, ..]
    )
}

impl SignedCorim {
    /// Decodes the COSE_Sign1 and the CoRIM it carries. Nothing is trusted until
    /// [`SignedCorim::verify`].
    pub fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<Self> {
        let v = cbor::decode(bytes, "signed-corim")?;
        let mut inner = &v;
        if opts.legacy {
            while let (Some(tags::LEGACY_CORIM | tags::LEGACY_SIGNED), x) = untag(inner) {
                inner = x;
            }
        }
        let arr = match untag(inner) {
            (Some(tags::COSE_SIGN1), a @ Value::Array(_)) => a,
            (t, other) => {
                return Err(bad(
                    "signed-corim",
                    format!(
                        "expected 18(COSE_Sign1), found {}{}{}",
                        t.map(|t| format!("tag {t} of ")).unwrap_or_default(),
                        cbor::kind(other),
                        if !opts.legacy
                            && matches!(t, Some(tags::LEGACY_CORIM | tags::LEGACY_SIGNED))
                        {
                            " (NVIDIA's TCG-era CoRIM wrapping: read it in compatibility mode, \
                             --legacy)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        };
        // The outer array is re-encoded; the protected header and payload byte strings inside
        // are carried over unchanged, so the Sig_structure is over the received bytes.
        let sign1 = CoseSign1::from_slice(&cbor::encode(arr))
            .map_err(|e| bad("signed-corim/COSE_Sign1", e.to_string()))?;
        let h = &sign1.protected.header;
        let alg = match &h.alg {
            Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => -7,
            Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384)) => -35,
            other => {
                return Err(CoreError::Signature(SignatureError::Algorithm {
                    document: "CoRIM",
                    alg: format!("{other:?}"),
                }));
            }
        };
        match &h.content_type {
            Some(coset::ContentType::Text(t)) if t == CONTENT_TYPE => {}
            Some(coset::ContentType::Text(t)) if opts.legacy => {
                let _ = t;
            }
            other if !opts.legacy => {
                return Err(bad(
                    "signed-corim/protected/content-type",
                    format!("expected {CONTENT_TYPE:?}, found {other:?}"),
                ));
            }
            _ => {}
        }
        let mut signer = None;
        let mut signature_validity = None;
        let mut cwt_validity = None;
        let mut cwt_issuer = None;
        for (label, value) in &h.rest {
            match label {
                Label::Int(8) => {
                    let p = "signed-corim/protected/corim-meta";
                    let meta = match value {
                        Value::Bytes(b) => cbor::decode(b, p)?,
                        m @ Value::Map(_) => m.clone(),
                        other => {
                            return Err(bad(
                                p,
                                format!("expected bstr .cbor map, found {}", cbor::kind(other)),
                            ));
                        }
                    };
                    let m = map(&meta, p)?;
                    if let Some(s) = get(m, 0) {
                        let sm = map(s, &format!("{p}/signer"))?;
                        signer = Some(Signer {
                            name: text(
                                get(sm, 0).ok_or_else(|| bad(p, "signer without a name"))?,
                                p,
                            )?
                            .to_string(),
                            uri: get(sm, 1)
                                .map(|u| text(untag(u).1, p).map(str::to_string))
                                .transpose()?,
                        });
                    }
                    signature_validity = get(m, 1)
                        .map(|v| Validity::decode(v, &format!("{p}/signature-validity")))
                        .transpose()?;
                }
                Label::Int(15) => {
                    let p = "signed-corim/protected/cwt-claims";
                    let m = map(value, p)?;
                    cwt_issuer = get(m, 1)
                        .map(|i| text(i, p).map(str::to_string))
                        .transpose()?;
                    let nbf = get(m, 5).map(|t| uint(untag(t).1, p)).transpose()?;
                    let exp = get(m, 4).map(|t| uint(untag(t).1, p)).transpose()?;
                    if nbf.is_some() || exp.is_some() {
                        cwt_validity = Some(Validity {
                            not_before: nbf,
                            not_after: exp,
                        });
                    }
                }
                _ => {}
            }
        }
        if signer.is_none() && cwt_issuer.is_none() && !opts.legacy {
            return Err(bad(
                "signed-corim/protected",
                "neither corim-meta (8) nor CWT claims (15)",
            ));
        }
        let payload = sign1.payload.as_deref().ok_or_else(|| {
            bad(
                "signed-corim/payload",
                "detached payloads are not supported",
            )
        })?;
        let corim = Corim::from_value(&cbor::decode(payload, "signed-corim/payload")?, opts)?;
        let kid = (!h.key_id.is_empty()).then(|| h.key_id.clone());
        Ok(Self {
            corim,
            alg,
            kid,
            signer,
            signature_validity,
            cwt_validity,
            cwt_issuer,
            sign1,
        })
    }

    /// Verifies the signature with one of `trusted` (the key's algorithm must be the header's)
    /// and every validity window (signature-validity, CWT nbf/exp, rim-validity) at `at`
    /// (Unix seconds). Returns the key that verified.
    pub fn verify<'k>(&self, trusted: &'k [PublicKey], at: u64) -> Result<&'k PublicKey> {
        let key = trusted
            .iter()
            .filter(|k| k.cose_alg() == self.alg)
            .find(|k| {
                self.sign1
                    .verify_signature(
                        b"",
                        |sig, data| if k.verify(data, sig) { Ok(()) } else { Err(()) },
                    )
                    .is_ok()
            })
            .ok_or(CoreError::Signature(SignatureError::Untrusted {
                document: "CoRIM",
                alg: if self.alg == -7 { "ES256" } else { "ES384" },
                trusted: trusted.len(),
            }))?;
        if let Some(v) = self.signature_validity {
            v.check(at, "CoRIM signature (corim-meta signature-validity)")?;
        }
        if let Some(v) = self.cwt_validity {
            v.check(at, "CoRIM signature (CWT nbf/exp)")?;
        }
        if let Some(v) = self.corim.validity {
            v.check(at, "CoRIM (rim-validity)")?;
        }
        Ok(key)
    }
}

/// Signs a CoRIM (`501(...)` bytes) as `18(COSE_Sign1)` with corim-meta naming `signer` and an
/// optional signature validity, ES256 or ES384 by the key's curve.
pub fn sign(
    corim_bytes: &[u8],
    key: &SigningKey,
    signer: &str,
    validity: Option<Validity>,
) -> Result<Vec<u8>> {
    let mut meta = vec![(
        Value::Integer(0.into()),
        Value::Map(vec![(Value::Integer(0.into()), Value::Text(signer.into()))]),
    )];
    if let Some(v) = validity {
        let mut w = Vec::new();
        if let Some(nb) = v.not_before {
            w.push((
                Value::Integer(0.into()),
                Value::Tag(tags::EPOCH_TIME, Box::new(cbor::integer(nb.into()))),
            ));
        }
        if let Some(na) = v.not_after {
            w.push((
                Value::Integer(1.into()),
                Value::Tag(tags::EPOCH_TIME, Box::new(cbor::integer(na.into()))),
            ));
        }
        meta.push((Value::Integer(1.into()), Value::Map(w)));
    }
    let alg = match key.public().cose_alg() {
        -7 => iana::Algorithm::ES256,
        _ => iana::Algorithm::ES384,
    };
    let protected = coset::HeaderBuilder::new()
        .algorithm(alg)
        .content_type(CONTENT_TYPE.to_string())
        .value(8, Value::Bytes(cbor::encode(&Value::Map(meta))))
        .build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(corim_bytes.to_vec())
        .create_signature(b"", |data| key.sign(data))
        .build();
    sign1.to_tagged_vec().map_err(|e| {
        CoreError::Signature(SignatureError::Sign {
            document: "CoRIM",
            reason: format!("cannot encode COSE_Sign1: {e}"),
        })
    })
}
