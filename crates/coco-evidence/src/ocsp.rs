//! OCSP (RFC 6960): the requests a verifier sends for the certificates of a chain, and the
//! verification of the responses, so that a chain can be said to be checked for revocation.
//!
//! The ASN.1 types are RFC 6960's module (§4.1, §4.2) with `der`'s derives. RustCrypto's
//! `x509-ocsp` defines the same types, but no release of it is on `der` 0.8 / `x509-cert` 0.3,
//! which this crate uses; these follow its layout so that moving to it later is mechanical.
//!
//! A response is accepted for a certificate ([`check`]) only when:
//! - the responder said `successful` and sent a `BasicOCSPResponse`;
//! - it is signed by the certificate's issuer, or by a responder certificate carried in the
//!   response that chains to the same pinned root and has `id-kp-OCSPSigning` (NVIDIA's
//!   responder is of this kind: its certificate is not issued by the CA whose certificates it
//!   answers for, so the authority is the pinned root, as in NVIDIA's verifiers);
//! - one `SingleResponse` names the certificate (CertID: SHA-256/384/512 or SHA-1 of the
//!   issuer's name and key, and the serial number);
//! - the verification time lies in `[thisUpdate, nextUpdate]` (a response without
//!   `nextUpdate` counts as valid for [`CheckOptions::max_age`] after `thisUpdate`);
//! - with an expected nonce, the response carries exactly that nonce;
//! - the status is `good` (`certificateHold` is accepted only with
//!   [`CheckOptions::allow_hold`]); `revoked` is [`EvidenceError::Revoked`].

use std::time::SystemTime;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

pub use crate::error::OcspProblem;
use crate::error::{EvidenceError, Result, SignatureCause};
use crate::x509::{Cert, LinkCache, build_chain};

/// id-pkix-ocsp-basic.
pub const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce.
pub const OID_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-kp-OCSPSigning.
pub const OID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// The largest response read (NVIDIA's carry one responder certificate: ~2 KiB).
pub const MAX_RESPONSE: usize = 64 << 10;
/// How long a response without `nextUpdate` is used after its `thisUpdate` by default.
pub const DEFAULT_MAX_AGE: u64 = 24 * 3600;

/// `OCSPResponse` (RFC 6960 §4.2.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OcspResponseDer {
    /// `responseStatus`.
    pub response_status: ResponseStatus,
    /// `responseBytes`.
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub response_bytes: Option<ResponseBytes>,
}

/// `OCSPResponseStatus`.
#[derive(Enumerated, Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum ResponseStatus {
    /// The response has valid confirmations.
    Successful = 0,
    /// Illegal confirmation request.
    MalformedRequest = 1,
    /// Internal error in the issuer.
    InternalError = 2,
    /// Try again later.
    TryLater = 3,
    /// The request must be signed.
    SigRequired = 5,
    /// The request is unauthorized.
    Unauthorized = 6,
}

/// `ResponseBytes`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ResponseBytes {
    /// `responseType` (`id-pkix-ocsp-basic`).
    pub response_type: ObjectIdentifier,
    /// The DER of the response of that type.
    pub response: OctetString,
}

/// `BasicOCSPResponse`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct BasicOcspResponse {
    /// `tbsResponseData`.
    pub tbs_response_data: ResponseData,
    /// `signatureAlgorithm`.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// `signature`.
    pub signature: BitString,
    /// `certs`: the responder's certificate(s).
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub certs: Option<Vec<Certificate>>,
}

/// `ResponseData`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ResponseData {
    /// `version` (v1 = 0).
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: u8,
    /// `responderID`.
    pub responder_id: ResponderId,
    /// `producedAt`.
    pub produced_at: GeneralizedTime,
    /// `responses`.
    pub responses: Vec<SingleResponse>,
    /// `responseExtensions` (the nonce).
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub response_extensions: Option<Extensions>,
}

/// `ResponderID`.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum ResponderId {
    /// `byName`.
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    /// `byKey`: SHA-1 of the responder's public key bits.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

/// `SingleResponse`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SingleResponse {
    /// `certID`.
    pub cert_id: CertId,
    /// `certStatus`.
    pub cert_status: CertStatus,
    /// `thisUpdate`.
    pub this_update: GeneralizedTime,
    /// `nextUpdate`.
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub next_update: Option<GeneralizedTime>,
    /// `singleExtensions`.
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub single_extensions: Option<Extensions>,
}

/// `CertID`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertId {
    /// `hashAlgorithm`.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// `issuerNameHash`: the hash of the issuer's DN (DER).
    pub issuer_name_hash: OctetString,
    /// `issuerKeyHash`: the hash of the issuer's public key bits.
    pub issuer_key_hash: OctetString,
    /// `serialNumber`.
    pub serial_number: SerialNumber,
}

/// `CertStatus`.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum CertStatus {
    /// `good`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    /// `revoked`.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    /// `unknown`.
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// `RevokedInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct RevokedInfo {
    /// `revocationTime`.
    pub revocation_time: GeneralizedTime,
    /// `revocationReason`.
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub revocation_reason: Option<CrlReason>,
}

/// `OCSPRequest` (RFC 6960 §4.1.1), unsigned.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OcspRequestDer {
    /// `tbsRequest`.
    pub tbs_request: TbsRequest,
}

/// `TBSRequest`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TbsRequest {
    /// `version` (v1 = 0).
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: u8,
    /// `requestList`.
    pub request_list: Vec<Request>,
    /// `requestExtensions` (the nonce).
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    pub request_extensions: Option<Extensions>,
}

/// `Request`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Request {
    /// `reqCert`.
    pub req_cert: CertId,
}

/// The hash of a CertID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdHash {
    /// SHA-1 (the default of most clients, e.g. `openssl ocsp`).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384 (NVIDIA's verifiers).
    Sha384,
    /// SHA-512.
    Sha512,
}

impl CertIdHash {
    fn oid(self) -> ObjectIdentifier {
        match self {
            CertIdHash::Sha1 => OID_SHA1,
            CertIdHash::Sha256 => OID_SHA256,
            CertIdHash::Sha384 => OID_SHA384,
            CertIdHash::Sha512 => OID_SHA512,
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.oid() == *oid)
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            CertIdHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            CertIdHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            CertIdHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            CertIdHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

fn malformed(cert: &str, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Ocsp {
        cert: cert.into(),
        problem: OcspProblem::Malformed(reason.into()),
    }
}

/// The CertID of `cert` issued by `issuer`, hashed with `hash`.
pub fn cert_id(cert: &Cert, issuer: &Cert, hash: CertIdHash) -> Result<CertId> {
    let name = issuer
        .inner()
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(|e| malformed(&cert.subject_cn(), format!("issuer name: {e}")))?;
    let octets = |v: Vec<u8>| {
        OctetString::new(v).map_err(|e| malformed(&cert.subject_cn(), format!("CertID: {e}")))
    };
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: hash.oid(),
            parameters: Some(der::Any::null()),
        },
        issuer_name_hash: octets(hash.digest(&name))?,
        issuer_key_hash: octets(hash.digest(issuer.public_key_bits()))?,
        serial_number: cert.inner().tbs_certificate().serial_number().clone(),
    })
}

/// The DER of an unsigned OCSP request for `cert` issued by `issuer`, with a SHA-384 CertID
/// and, when given, a nonce extension (RFC 8954: the nonce as an OCTET STRING), as NVIDIA's
/// verifiers send it.
pub fn request(cert: &Cert, issuer: &Cert, nonce: Option<&[u8]>) -> Result<Vec<u8>> {
    let who = cert.subject_cn();
    let request_extensions = nonce
        .map(|n| -> Result<Extensions> {
            let value = OctetString::new(n)
                .and_then(|o| o.to_der())
                .and_then(OctetString::new)
                .map_err(|e| malformed(&who, format!("nonce: {e}")))?;
            Ok(vec![Extension {
                extn_id: OID_OCSP_NONCE,
                critical: false,
                extn_value: value,
            }])
        })
        .transpose()?;
    OcspRequestDer {
        tbs_request: TbsRequest {
            version: 0,
            request_list: vec![Request {
                req_cert: cert_id(cert, issuer, CertIdHash::Sha384)?,
            }],
            request_extensions,
        },
    }
    .to_der()
    .map_err(|e| malformed(&who, format!("encoding the request: {e}")))
}

/// A parsed OCSP response (successful, basic), with its exact bytes.
#[derive(Debug, Clone)]
pub struct OcspResponse {
    der: Vec<u8>,
    tbs: Vec<u8>,
    basic: BasicOcspResponse,
    certs: Vec<Cert>,
}

impl OcspResponse {
    /// Parses a DER `OCSPResponse`: it must say `successful` and carry a basic response.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        let bad = |r: String| malformed("OCSP response", r);
        if bytes.len() > MAX_RESPONSE {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_RESPONSE} read",
                bytes.len()
            )));
        }
        let outer = OcspResponseDer::from_der(bytes).map_err(|e| bad(e.to_string()))?;
        if outer.response_status != ResponseStatus::Successful {
            return Err(EvidenceError::Ocsp {
                cert: "OCSP response".into(),
                problem: OcspProblem::Status(format!("{:?}", outer.response_status)),
            });
        }
        let rb = outer
            .response_bytes
            .ok_or_else(|| bad("successful, but without responseBytes".into()))?;
        if rb.response_type != OID_OCSP_BASIC {
            return Err(bad(format!(
                "response type {} is not id-pkix-ocsp-basic",
                rb.response_type
            )));
        }
        let inner = rb.response.as_bytes();
        let basic = BasicOcspResponse::from_der(inner).map_err(|e| bad(e.to_string()))?;
        let tbs = crate::x509::signed_part(inner)
            .ok_or_else(|| bad("cannot locate tbsResponseData".into()))?
            .to_vec();
        let certs = basic
            .certs
            .iter()
            .flatten()
            .map(|c| {
                c.to_der()
                    .map_err(|e| bad(format!("responder certificate: {e}")))
                    .and_then(|d| Cert::from_der(&d))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            der: bytes.to_vec(),
            tbs,
            basic,
            certs,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The decoded basic response.
    pub fn basic(&self) -> &BasicOcspResponse {
        &self.basic
    }

    /// The certificates the response carries (the responder's first).
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    /// `producedAt`, Unix seconds.
    pub fn produced_at(&self) -> u64 {
        self.basic
            .tbs_response_data
            .produced_at
            .to_unix_duration()
            .as_secs()
    }

    /// The nonce of the response, if it carries one (the RFC 8954 OCTET STRING's content; a
    /// responder that puts the raw bytes in the extension gets those).
    pub fn nonce(&self) -> Option<Vec<u8>> {
        let ext = self
            .basic
            .tbs_response_data
            .response_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == OID_OCSP_NONCE)?;
        let raw = ext.extn_value.as_bytes();
        Some(
            OctetString::from_der(raw)
                .map(|o| o.as_bytes().to_vec())
                .unwrap_or_else(|_| raw.to_vec()),
        )
    }

    /// Whether a single response of this response names `cert` issued by `issuer`.
    pub fn covers(&self, cert: &Cert, issuer: &Cert) -> bool {
        self.single(cert, issuer).is_some()
    }

    fn single(&self, cert: &Cert, issuer: &Cert) -> Option<&SingleResponse> {
        self.basic.tbs_response_data.responses.iter().find(|s| {
            CertIdHash::from_oid(&s.cert_id.hash_algorithm.oid)
                .and_then(|h| cert_id(cert, issuer, h).ok())
                .is_some_and(|id| {
                    id.issuer_name_hash == s.cert_id.issuer_name_hash
                        && id.issuer_key_hash == s.cert_id.issuer_key_hash
                        && id.serial_number == s.cert_id.serial_number
                })
        })
    }
}

/// The responses in `dir` (every regular file, DER), as `coco collateral fetch --platform
/// nvidia` writes them; a directory that does not exist holds none. At most
/// [`MAX_DIR_RESPONSES`] are read.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<OcspResponse>> {
    let unreadable = |e: std::io::Error| {
        EvidenceError::Collateral(crate::error::CollateralError::Unreadable {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut paths = Vec::new();
    for e in entries {
        let p = e.map_err(unreadable)?.path();
        if p.is_file() {
            paths.push(p);
        }
    }
    if paths.len() > MAX_DIR_RESPONSES {
        return Err(EvidenceError::Collateral(
            crate::error::CollateralError::Invalid {
                document: dir.display().to_string(),
                reason: format!(
                    "{} files, more than the {MAX_DIR_RESPONSES} OCSP responses read",
                    paths.len()
                ),
            },
        ));
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(unreadable)?;
            OcspResponse::from_der(&bytes).map_err(|e| match e {
                EvidenceError::Ocsp { problem, .. } => EvidenceError::Ocsp {
                    cert: p.display().to_string(),
                    problem,
                },
                other => other,
            })
        })
        .collect()
}

/// The most responses [`load_dir`] reads (eight GPUs, three certificates each, with room).
pub const MAX_DIR_RESPONSES: usize = 64;

/// Where verification gets OCSP responses for a device chain it has just verified (leaf
/// first, pinned root last): a service's cache that asks the vendor's responder. This crate
/// does no I/O itself; `coco_release::collateral::ocsp::OcspCache` is one. Whatever a source
/// returns is checked like any other response ([`check_chain`]).
pub trait OcspSource: std::fmt::Debug + Send + Sync {
    /// Responses for `chain[range]` at `at`. A source that cannot answer (responder
    /// unreachable, nothing valid cached) returns
    /// [`CollateralError::Unavailable`](crate::error::CollateralError::Unavailable).
    fn responses(
        &self,
        chain: &[Cert],
        range: std::ops::Range<usize>,
        at: SystemTime,
    ) -> Result<Vec<OcspResponse>>;
}

/// What [`check`] requires beyond the signature.
#[derive(Debug, Clone)]
pub struct CheckOptions<'a> {
    /// The verification time.
    pub at: SystemTime,
    /// The nonce the request carried: the response must carry the same. `None` for responses
    /// read back from a collateral directory (their nonce was checked when they were fetched).
    pub nonce: Option<&'a [u8]>,
    /// Accept `revoked` with reason `certificateHold` (NVIDIA's `--allow_hold_cert`).
    pub allow_hold: bool,
    /// How long a response without `nextUpdate` is used after its `thisUpdate` (seconds).
    pub max_age: u64,
    /// Signatures already verified: responder chains, and responses seen before (by the
    /// SHA-256 of their tbsResponseData and the signer's fingerprint).
    pub cache: Option<&'a LinkCache>,
}

impl CheckOptions<'_> {
    /// At `at`, no nonce, holds refused, [`DEFAULT_MAX_AGE`].
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            nonce: None,
            allow_hold: false,
            max_age: DEFAULT_MAX_AGE,
            cache: None,
        }
    }
}

/// The status a response gave a certificate, once [`check`] accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertOcsp {
    /// The certificate's subject CN.
    pub cert: String,
    /// Its serial number, hex.
    pub serial: String,
    /// `good`, or `revoked` with `certificateHold` when holds are allowed.
    pub status: &'static str,
    /// `thisUpdate`, Unix seconds.
    pub this_update: u64,
    /// `nextUpdate` (or `thisUpdate` + max age), Unix seconds.
    pub valid_until: u64,
    /// Whether a nonce was required and matched.
    pub nonce_matched: bool,
}

fn has_ocsp_signing(c: &Cert) -> Result<bool> {
    let Some(v) = c.extension(&OID_EXT_KEY_USAGE) else {
        return Ok(false);
    };
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(v).map_err(|e| {
        EvidenceError::Extension {
            cert: c.subject_cn(),
            extension: "ExtendedKeyUsage".into(),
            reason: e.to_string(),
        }
    })?;
    Ok(eku.0.contains(&OID_KP_OCSP_SIGNING))
}

/// Checks that `resp` vouches for `cert` (issued by `issuer`, under the pinned `root`) at
/// `opts.at`; see the module documentation for every rule. `revoked` is
/// [`EvidenceError::Revoked`].
pub fn check(
    resp: &OcspResponse,
    cert: &Cert,
    issuer: &Cert,
    root: &Cert,
    opts: &CheckOptions<'_>,
) -> Result<CertOcsp> {
    let who = format!("{} (serial {})", cert.subject_cn(), cert.serial_hex());
    let problem = |p: OcspProblem| EvidenceError::Ocsp {
        cert: who.clone(),
        problem: p,
    };
    // 1. The signer: the issuer itself, or an authorised responder under the same root.
    let signer = match resp.certs.first() {
        None => issuer.clone(),
        Some(first) if first == issuer => issuer.clone(),
        Some(_) => {
            let chain = build_chain(&resp.certs, root, opts.at, "OCSP responder", opts.cache)?;
            if !has_ocsp_signing(&chain[0])? {
                return Err(problem(OcspProblem::ResponderNotAuthorized(
                    chain[0].subject_cn(),
                )));
            }
            chain[0].clone()
        }
    };
    let rid_ok = match &resp.basic.tbs_response_data.responder_id {
        ResponderId::ByName(n) => n == signer.inner().tbs_certificate().subject(),
        ResponderId::ByKey(k) => {
            k.as_bytes() == sha1::Sha1::digest(signer.public_key_bits()).as_slice()
        }
    };
    if !rid_ok {
        return Err(problem(OcspProblem::Malformed(format!(
            "the responder id does not name the signing certificate {:?}",
            signer.subject_cn()
        ))));
    }
    let sig = resp.basic.signature.as_bytes().ok_or_else(|| {
        EvidenceError::signature(format!("OCSP response for {who}"), SignatureCause::Missing)
    })?;
    let verify = || {
        crate::x509::verify_signature(
            &resp.tbs,
            &resp.basic.signature_algorithm.oid,
            sig,
            &signer,
            format!("OCSP response for {who} by {}", signer.subject_cn()),
        )
    };
    match opts.cache {
        // A response seen before (a service's cached answer, reused on every release until
        // it is refreshed): its signed bytes by this signer verified then. Everything below
        // (the certificate named, time, nonce, status) is checked every time.
        Some(cache) => cache.verify_once(
            (
                format!("ocsp-tbs {}", coco_core::Sha256Digest::of(&resp.tbs)),
                signer.fingerprint(),
            ),
            verify,
        )?,
        None => verify()?,
    }
    // 2. The single response for this certificate.
    let single = resp
        .single(cert, issuer)
        .ok_or_else(|| problem(OcspProblem::NotCovered))?;
    // 3. Time.
    let at = coco_core::time::unix(opts.at);
    let this_update = single.this_update.to_unix_duration().as_secs();
    let valid_until = match &single.next_update {
        Some(n) => n.to_unix_duration().as_secs(),
        None => this_update.saturating_add(opts.max_age),
    };
    if at < this_update || at > valid_until {
        return Err(EvidenceError::Expired {
            cert: format!("OCSP response for {who}"),
            at,
            not_before: this_update,
            not_after: valid_until,
        });
    }
    // 4. Nonce.
    if let Some(expected) = opts.nonce {
        let found = resp.nonce();
        if found.as_deref() != Some(expected) {
            return Err(problem(OcspProblem::Nonce {
                expected: hex::encode(expected),
                found: found.map(hex::encode).unwrap_or_else(|| "none".into()),
            }));
        }
    }
    // 5. Status.
    let status = match &single.cert_status {
        CertStatus::Good(_) => "good",
        CertStatus::Revoked(r)
            if opts.allow_hold && r.revocation_reason == Some(CrlReason::CertificateHold) =>
        {
            "revoked (certificate hold, allowed)"
        }
        CertStatus::Revoked(_) => {
            return Err(EvidenceError::Revoked {
                cert: cert.subject_cn(),
                serial: cert.serial_hex(),
            });
        }
        CertStatus::Unknown(_) => return Err(problem(OcspProblem::Unknown)),
    };
    Ok(CertOcsp {
        cert: cert.subject_cn(),
        serial: cert.serial_hex(),
        status,
        this_update,
        valid_until,
        nonce_matched: opts.nonce.is_some(),
    })
}

/// The certificates of `chain[range]` (leaf first, root last) with their issuers, the next
/// certificate of the chain: what OCSP is asked about. A certificate without an issuer in the
/// chain (the root) has no pair.
pub fn links(
    chain: &[Cert],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = (&Cert, &Cert)> {
    range.filter_map(move |i| Some((chain.get(i)?, chain.get(i + 1)?)))
}

/// Checks the certificates `chain[range]` (leaf first, root last) against `responses`: each
/// must be vouched for by one of them ([`check`] with its issuer, the next certificate, and
/// the chain's root). A certificate no response names is [`OcspProblem::NotCovered`].
pub fn check_chain(
    chain: &[Cert],
    range: std::ops::Range<usize>,
    responses: &[OcspResponse],
    opts: &CheckOptions<'_>,
) -> Result<Vec<CertOcsp>> {
    let root = chain.last().ok_or_else(|| {
        EvidenceError::Chain(crate::error::ChainError::Empty {
            chain: "OCSP".into(),
        })
    })?;
    let mut out = Vec::new();
    for (cert, issuer) in links(chain, range) {
        let resp = responses
            .iter()
            .find(|r| r.covers(cert, issuer))
            .ok_or_else(|| EvidenceError::Ocsp {
                cert: format!("{} (serial {})", cert.subject_cn(), cert.serial_hex()),
                problem: OcspProblem::NotCovered,
            })?;
        out.push(check(resp, cert, issuer, root, opts)?);
    }
    Ok(out)
}
