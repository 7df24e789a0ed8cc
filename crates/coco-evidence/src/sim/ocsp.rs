//! A simulated OCSP responder for tests and demos: a throwaway PKI shaped like NVIDIA's device
//! chain (leaf, device identity CA, provisioner CA, root) with a delegated responder under the
//! root, signers that must be refused (not a responder; under another root), and responses
//! signed on request (good, revoked, unknown, any window, any nonce).

use std::time::{Duration, SystemTime};

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use p384::ecdsa::signature::Signer;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};

use super::{cert, ext, key};
use crate::error::Result;
use crate::ocsp::{
    self, BasicOcspResponse, CertId, CertIdHash, CertStatus, OcspRequestDer, OcspResponseDer,
    ResponderId, ResponseBytes, ResponseData, ResponseStatus, SingleResponse,
};
use crate::simulated::sim_err;
use crate::x509::Cert;

/// ecdsa-with-SHA384.
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// What a certificate issued by [`issue`] may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// A CA (BasicConstraints CA:TRUE).
    Ca,
    /// An OCSP responder (ExtendedKeyUsage id-kp-OCSPSigning).
    Responder,
    /// Neither.
    EndEntity,
}

/// A P-384 certificate `subject` issued by `issuer` (names as `CN=...`), valid 30 days.
pub fn issue(
    subject: &str,
    issuer: &str,
    serial: u32,
    key: &p384::ecdsa::SigningKey,
    by: &p384::ecdsa::SigningKey,
    kind: CertKind,
) -> Result<Cert> {
    let extensions: Vec<Extension> = match kind {
        CertKind::Ca => vec![ext(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: None,
            },
        )?],
        CertKind::Responder => vec![ext(
            false,
            &ExtendedKeyUsage(vec![ocsp::OID_KP_OCSP_SIGNING]),
        )?],
        CertKind::EndEntity => Vec::new(),
    };
    cert(subject, issuer, serial, key, by, extensions)
}

/// A key and its certificate, signing OCSP responses.
pub struct SimSigner {
    key: p384::ecdsa::SigningKey,
    /// The certificate.
    pub cert: Cert,
}

impl std::fmt::Debug for SimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimSigner({})", self.cert.subject_cn())
    }
}

/// The throwaway PKI.
#[derive(Debug)]
pub struct SimOcspPki {
    /// Leaf, device identity CA, provisioner CA, root.
    pub chain: Vec<Cert>,
    /// The delegated responder (id-kp-OCSPSigning, issued by the root).
    pub responder: SimSigner,
    /// The provisioner CA (`chain[2]`), which may answer for what it issued.
    pub issuer: SimSigner,
    /// A certificate under the root without id-kp-OCSPSigning.
    pub plain: SimSigner,
    /// A responder under another root.
    pub stranger: SimSigner,
}

impl SimOcspPki {
    /// Generates every key and certificate.
    pub fn generate() -> Result<Self> {
        const ROOT: &str = "CN=Sim Device Identity CA";
        const ICA: &str = "CN=Sim Provisioner ICA";
        const DEV: &str = "CN=Sim GSP BROM";
        let (root_key, ica_key, dev_key, leaf_key) = (key()?, key()?, key()?, key()?);
        let root = issue(ROOT, ROOT, 1, &root_key, &root_key, CertKind::Ca)?;
        let ica = issue(ICA, ROOT, 2, &ica_key, &root_key, CertKind::Ca)?;
        let dev = issue(DEV, ICA, 3, &dev_key, &ica_key, CertKind::Ca)?;
        let leaf = issue(
            "CN=Sim GSP FMC LF",
            DEV,
            4,
            &leaf_key,
            &dev_key,
            CertKind::EndEntity,
        )?;
        let signer = |subject: &str, serial, by: &p384::ecdsa::SigningKey, issuer, kind| {
            let k = key()?;
            let cert = issue(subject, issuer, serial, &k, by, kind)?;
            Ok::<_, crate::EvidenceError>(SimSigner { key: k, cert })
        };
        let responder = signer(
            "CN=Sim OCSP Responder",
            5,
            &root_key,
            ROOT,
            CertKind::Responder,
        )?;
        let plain = signer(
            "CN=Sim Not A Responder",
            6,
            &root_key,
            ROOT,
            CertKind::EndEntity,
        )?;
        let other_root = key()?;
        let stranger = signer(
            "CN=Sim OCSP Responder",
            7,
            &other_root,
            "CN=Other Root",
            CertKind::Responder,
        )?;
        Ok(Self {
            chain: vec![leaf, dev, ica.clone(), root],
            responder,
            issuer: SimSigner {
                key: ica_key,
                cert: ica,
            },
            plain,
            stranger,
        })
    }

    /// The root.
    pub fn root(&self) -> &Cert {
        &self.chain[3]
    }

    /// `(certificate, issuer)` for the CAs between the leaf and the root.
    pub fn cas(&self) -> Vec<(&Cert, &Cert)> {
        vec![
            (&self.chain[1], &self.chain[2]),
            (&self.chain[2], &self.chain[3]),
        ]
    }
}

/// What a simulated response says.
#[derive(Debug, Clone)]
pub struct SimAnswer {
    /// `(CertID, status)` per single response.
    pub entries: Vec<(CertId, CertStatus)>,
    /// The nonce extension, if any.
    pub nonce: Option<Vec<u8>>,
    /// `thisUpdate`.
    pub this_update: SystemTime,
    /// `nextUpdate`.
    pub next_update: Option<SystemTime>,
}

impl SimAnswer {
    /// `good` for every `(certificate, issuer)`, from ten minutes ago for a day.
    pub fn good(certs: &[(&Cert, &Cert)], nonce: Option<&[u8]>) -> Result<Self> {
        let entries = certs
            .iter()
            .map(|(c, i)| {
                Ok((
                    ocsp::cert_id(c, i, CertIdHash::Sha384)?,
                    CertStatus::Good(Null),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::window(entries, nonce.map(<[u8]>::to_vec)))
    }

    /// `good` for every certificate a DER OCSP request asks about, with its nonce.
    pub fn for_request(request: &[u8]) -> Result<Self> {
        let req = OcspRequestDer::from_der(request)
            .map_err(|e| sim_err(format!("not an OCSP request: {e}")))?;
        let nonce = req
            .tbs_request
            .request_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ocsp::OID_OCSP_NONCE)
            .map(|e| {
                OctetString::from_der(e.extn_value.as_bytes())
                    .map(|o| o.as_bytes().to_vec())
                    .unwrap_or_else(|_| e.extn_value.as_bytes().to_vec())
            });
        let entries = req
            .tbs_request
            .request_list
            .into_iter()
            .map(|r| (r.req_cert, CertStatus::Good(Null)))
            .collect();
        Ok(Self::window(entries, nonce))
    }

    fn window(entries: Vec<(CertId, CertStatus)>, nonce: Option<Vec<u8>>) -> Self {
        let now = SystemTime::now();
        Self {
            entries,
            nonce,
            this_update: now - Duration::from_secs(600),
            next_update: Some(now + Duration::from_secs(86400)),
        }
    }
}

fn gt(t: SystemTime) -> Result<GeneralizedTime> {
    GeneralizedTime::from_system_time(t).map_err(|e| sim_err(e.to_string()))
}

impl SimSigner {
    /// A responder whose certificate names `issuer` (e.g. a vendor's root) as its issuer but
    /// is signed with its own key: what anyone without the issuer's key can make.
    pub fn forged(subject: &str, issuer: &str) -> Result<Self> {
        let k = key()?;
        let cert = issue(subject, issuer, 9, &k, &k, CertKind::Responder)?;
        Ok(Self { key: k, cert })
    }

    /// A DER `OCSPResponse` saying `answer`, signed by this signer and carrying `certs`.
    pub fn respond(&self, answer: &SimAnswer, certs: &[&Cert]) -> Result<Vec<u8>> {
        let e = |e: der::Error| sim_err(e.to_string());
        let response_extensions = match &answer.nonce {
            Some(n) => Some(vec![Extension {
                extn_id: ocsp::OID_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(
                    OctetString::new(n.as_slice())
                        .map_err(e)?
                        .to_der()
                        .map_err(e)?,
                )
                .map_err(e)?,
            }]),
            None => None,
        };
        let responses = answer
            .entries
            .iter()
            .map(|(id, status)| {
                Ok(SingleResponse {
                    cert_id: id.clone(),
                    cert_status: status.clone(),
                    this_update: gt(answer.this_update)?,
                    next_update: answer.next_update.map(gt).transpose()?,
                    single_extensions: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tbs = ResponseData {
            version: 0,
            responder_id: ResponderId::ByName(
                self.cert.inner().tbs_certificate().subject().clone(),
            ),
            produced_at: gt(SystemTime::now() - Duration::from_secs(60))?,
            responses,
            response_extensions,
        };
        let sig: p384::ecdsa::DerSignature = self.key.sign(&tbs.to_der().map_err(e)?);
        let certs = certs
            .iter()
            .map(|c| x509_cert::Certificate::from_der(c.der()).map_err(e))
            .collect::<Result<Vec<_>>>()?;
        let basic = BasicOcspResponse {
            tbs_response_data: tbs,
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_SHA384,
                parameters: None,
            },
            signature: BitString::from_bytes(sig.as_bytes()).map_err(e)?,
            certs: (!certs.is_empty()).then_some(certs),
        };
        OcspResponseDer {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ocsp::OID_OCSP_BASIC,
                response: OctetString::new(basic.to_der().map_err(e)?).map_err(e)?,
            }),
        }
        .to_der()
        .map_err(e)
    }
}
