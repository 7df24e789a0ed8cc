//! X.509 certificates and CRLs: loading (PEM bundles, DER, directories), names, validity, and
//! signature checks for the algorithms vendor chains use (RSASSA-PSS with SHA-384 at AMD,
//! ECDSA P-384 with SHA-384 at AMD and NVIDIA, ECDSA P-256 with SHA-256 at Intel).

use std::path::Path;
use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::Certificate;

use crate::crypto::{self, Scheme};
use crate::error::{ChainError, EvidenceError, Result, SignatureCause};

/// id-RSASSA-PSS.
const RSASSA_PSS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// ecdsa-with-SHA384.
const ECDSA_SHA384: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// ecdsa-with-SHA256.
const ECDSA_SHA256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// rsaEncryption.
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey.
const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1.
const SECP256R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1.
const SECP384R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// commonName.
const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");

/// basicConstraints.
const BASIC_CONSTRAINTS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19");
/// keyUsage.
const KEY_USAGE: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.15");

/// A parsed certificate together with its exact DER bytes.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Cert {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = Certificate::from_der(der).map_err(|e| EvidenceError::Certificate {
            cert: "input".into(),
            reason: format!("not a DER X.509 certificate: {e}"),
        })?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM form (one `CERTIFICATE` block, 64-column base64).
    pub fn to_pem(&self) -> String {
        der_to_pem(&self.der)
    }

    /// The parsed certificate.
    pub fn inner(&self) -> &Certificate {
        &self.cert
    }

    /// The subject's common name ("" if none).
    pub fn subject_cn(&self) -> String {
        common_name(self.cert.tbs_certificate().subject())
    }

    /// The issuer's common name ("" if none).
    pub fn issuer_cn(&self) -> String {
        common_name(self.cert.tbs_certificate().issuer())
    }

    /// Whether the subject key is an elliptic-curve key.
    pub fn has_ec_key(&self) -> bool {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .algorithm
            .oid
            == EC_PUBLIC_KEY
    }

    /// The serial number, lower-case hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// SHA-256 of the DER, lower-case hex.
    pub fn fingerprint(&self) -> String {
        coco_core::Sha256Digest::of(&self.der).to_string()
    }

    /// `(not_before, not_after)` in Unix seconds.
    pub fn validity(&self) -> (u64, u64) {
        let v = self.cert.tbs_certificate().validity();
        (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        )
    }

    /// Fails unless `at` lies inside the validity window. `role` names the certificate.
    pub fn check_validity(&self, at: SystemTime, role: &str) -> Result<()> {
        let at = unix(at);
        let (not_before, not_after) = self.validity();
        if at < not_before || at > not_after {
            return Err(EvidenceError::Expired {
                cert: format!("certificate {role} ({})", self.subject_cn()),
                at,
                not_before,
                not_after,
            });
        }
        Ok(())
    }

    /// The exact DER bytes of the TBSCertificate (what the issuer signed), sliced out of the
    /// original encoding rather than re-encoded.
    fn tbs_der(&self) -> Result<&[u8]> {
        signed_part(&self.der).ok_or_else(|| EvidenceError::Certificate {
            cert: self.subject_cn(),
            reason: "cannot locate the TBS certificate".into(),
        })
    }

    fn spki_der(&self) -> Result<Vec<u8>> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| EvidenceError::Certificate {
                cert: self.subject_cn(),
                reason: format!("cannot encode the public key: {e}"),
            })
    }

    /// The subject key as an ECDSA P-384 verifying key.
    pub fn p384_key(&self) -> Result<p384::ecdsa::VerifyingKey> {
        use p384::pkcs8::DecodePublicKey;
        p384::ecdsa::VerifyingKey::from_public_key_der(&self.spki_der()?).map_err(|e| {
            EvidenceError::Certificate {
                cert: self.subject_cn(),
                reason: format!("the key is not ECDSA P-384: {e}"),
            }
        })
    }

    /// The subject key as an ECDSA P-256 verifying key.
    pub fn p256_key(&self) -> Result<p256::ecdsa::VerifyingKey> {
        use p256::pkcs8::DecodePublicKey;
        p256::ecdsa::VerifyingKey::from_public_key_der(&self.spki_der()?).map_err(|e| {
            EvidenceError::Certificate {
                cert: self.subject_cn(),
                reason: format!("the key is not ECDSA P-256: {e}"),
            }
        })
    }

    /// The subject public key as carried in the certificate: an uncompressed SEC1 point for
    /// EC keys, a PKCS#1 RSAPublicKey for RSA keys.
    pub fn public_key_bits(&self) -> &[u8] {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
    }

    fn ec_curve(&self) -> Option<der::asn1::ObjectIdentifier> {
        let alg = &self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .algorithm;
        if alg.oid != EC_PUBLIC_KEY {
            return None;
        }
        alg.parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
    }

    /// Checks an ECDSA signature given as r‖s (big-endian) made by this certificate's key:
    /// P-256 with SHA-256 or P-384 with SHA-384, by the key's curve. `what` names the signed
    /// object in the error.
    pub fn verify_ecdsa_fixed(&self, msg: &[u8], sig: &[u8], what: &str) -> Result<()> {
        let scheme = match self.ec_curve() {
            Some(c) if c == SECP256R1 => Scheme::P256Fixed,
            Some(c) if c == SECP384R1 => Scheme::P384Fixed,
            _ => {
                return Err(EvidenceError::Certificate {
                    cert: self.subject_cn(),
                    reason: "the key is not ECDSA P-256 or P-384".into(),
                });
            }
        };
        if crypto::verify(scheme, self.public_key_bits(), msg, sig) {
            Ok(())
        } else {
            Err(EvidenceError::signature(
                format!("{what} by {}", self.subject_cn()),
                SignatureCause::Invalid,
            ))
        }
    }

    /// Checks that `issuer`'s key signed this certificate (RSASSA-PSS/SHA-384 with a 48-byte
    /// salt, or ECDSA P-384/SHA-384), and that the issuer name matches; with a `cache`, a link
    /// that verified before is not checked again (see [`LinkCache`]).
    pub fn verify_signed_by(&self, issuer: &Cert, cache: Option<&LinkCache>) -> Result<()> {
        match cache {
            Some(k) => k.verify_signed_by(self, issuer),
            None => self.signed_by(issuer),
        }
    }

    fn signed_by(&self, issuer: &Cert) -> Result<()> {
        let what = format!(
            "certificate {} by {}",
            self.subject_cn(),
            issuer.subject_cn()
        );
        if self.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(EvidenceError::Chain(ChainError::WrongIssuer {
                cert: self.subject_cn(),
                issuer: self.issuer_cn(),
                expected: issuer.subject_cn(),
            }));
        }
        let sig = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| EvidenceError::signature(what.clone(), SignatureCause::Missing))?;
        verify_signature(
            self.tbs_der()?,
            &self.cert.signature_algorithm().oid,
            sig,
            issuer,
            what,
        )
    }

    /// Decodes extension `oid` as `T`: `None` when absent, an error naming the certificate
    /// and extension when present but malformed.
    fn decoded_extension<T: for<'a> der::Decode<'a>>(
        &self,
        oid: &der::asn1::ObjectIdentifier,
        what: &str,
    ) -> Result<Option<T>> {
        self.extension(oid)
            .map(|v| {
                T::from_der(v).map_err(|e| EvidenceError::Extension {
                    cert: self.subject_cn(),
                    extension: what.into(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Whether BasicConstraints says this is a CA certificate (false when absent; an error
    /// when malformed).
    pub fn is_ca(&self) -> Result<bool> {
        Ok(self
            .decoded_extension::<x509_cert::ext::pkix::BasicConstraints>(
                &BASIC_CONSTRAINTS,
                "BasicConstraints",
            )?
            .is_some_and(|b| b.ca))
    }

    /// The KeyUsage bits (None when absent; an error when malformed).
    pub fn key_usage(&self) -> Result<Option<x509_cert::ext::pkix::KeyUsage>> {
        self.decoded_extension(&KEY_USAGE, "KeyUsage")
    }

    /// The serial number in decimal (NVIDIA's `ueid` claim).
    pub fn serial_decimal(&self) -> String {
        decimal(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// The raw value of extension `oid`, if present.
    pub fn extension(&self, oid: &der::asn1::ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }
}

/// The first element inside the outer SEQUENCE of a signed DER structure (certificate or CRL):
/// the exact bytes the issuer signed.
pub(crate) fn signed_part(der: &[u8]) -> Option<&[u8]> {
    fn tlv(b: &[u8]) -> Option<(usize, usize)> {
        let first = *b.get(1)?;
        if first < 0x80 {
            return Some((2, first as usize));
        }
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | *b.get(2 + i)? as usize;
        }
        Some((2 + n, len))
    }
    let (outer_header, _) = tlv(der)?;
    let inner = der.get(outer_header..)?;
    let (h, l) = tlv(inner)?;
    inner.get(..h.checked_add(l)?)
}

/// Verifies `sig` (as carried in a certificate or CRL) over `tbs` with `issuer`'s key, for
/// the algorithm `alg`: RSASSA-PSS/SHA-384 with a 48-byte salt, ECDSA P-384/SHA-384 or ECDSA
/// P-256/SHA-256.
pub(crate) fn verify_signature(
    tbs: &[u8],
    alg: &der::asn1::ObjectIdentifier,
    sig: &[u8],
    issuer: &Cert,
    what: String,
) -> Result<()> {
    let (scheme, curve) = if *alg == RSASSA_PSS {
        (Scheme::RsaPssSha384, None)
    } else if *alg == ECDSA_SHA384 {
        (Scheme::P384Der, Some(SECP384R1))
    } else if *alg == ECDSA_SHA256 {
        (Scheme::P256Der, Some(SECP256R1))
    } else {
        return Err(EvidenceError::Certificate {
            cert: what,
            reason: format!("unsupported signature algorithm {alg}"),
        });
    };
    let key_ok = match curve {
        Some(c) => issuer.ec_curve() == Some(c),
        None => {
            issuer
                .cert
                .tbs_certificate()
                .subject_public_key_info()
                .algorithm
                .oid
                == RSA_ENCRYPTION
        }
    };
    if !key_ok {
        return Err(EvidenceError::Certificate {
            cert: issuer.subject_cn(),
            reason: format!("its key does not match the signature algorithm {alg} of {what}"),
        });
    }
    if crypto::verify(scheme, issuer.public_key_bits(), tbs, sig) {
        Ok(())
    } else {
        Err(EvidenceError::signature(what, SignatureCause::Invalid))
    }
}

/// A parsed certificate revocation list together with its exact DER bytes.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    list: x509_cert::crl::CertificateList,
}

impl Crl {
    /// Parses one DER CRL (a PEM `X509 CRL` block is accepted too).
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| EvidenceError::Certificate {
            cert: "CRL".into(),
            reason,
        };
        let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            pem_rfc7468::decode_vec(bytes.trim_ascii())
                .map_err(|e| bad(format!("bad PEM: {e}")))?
                .1
        } else {
            bytes.to_vec()
        };
        let list = x509_cert::crl::CertificateList::from_der(&der)
            .map_err(|e| bad(format!("not a DER X.509 CRL: {e}")))?;
        Ok(Self { der, list })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The issuer's common name ("" if none).
    pub fn issuer_cn(&self) -> String {
        common_name(&self.list.tbs_cert_list.issuer)
    }

    /// `(this_update, next_update)` in Unix seconds (`next_update` is `None` when absent).
    pub fn window(&self) -> (u64, Option<u64>) {
        let t = &self.list.tbs_cert_list;
        (
            t.this_update.to_unix_duration().as_secs(),
            t.next_update.map(|n| n.to_unix_duration().as_secs()),
        )
    }

    /// The number of revoked certificates listed.
    pub fn len(&self) -> usize {
        self.list
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map_or(0, Vec::len)
    }

    /// Whether no certificate is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `cert` is listed (same serial number; the issuer must have been checked with
    /// [`Crl::verify_signed_by`]).
    pub fn is_revoked(&self, cert: &Cert) -> bool {
        let serial = cert.inner().tbs_certificate().serial_number().as_bytes();
        self.list
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .any(|r| r.serial_number.as_bytes() == serial)
    }

    /// Checks that `issuer` signed this CRL and is named as its issuer.
    pub fn verify_signed_by(&self, issuer: &Cert) -> Result<()> {
        let what = format!("CRL of {}", self.issuer_cn());
        if self.list.tbs_cert_list.issuer != *issuer.inner().tbs_certificate().subject() {
            return Err(EvidenceError::Chain(ChainError::WrongIssuer {
                cert: "CRL".into(),
                issuer: self.issuer_cn(),
                expected: issuer.subject_cn(),
            }));
        }
        let tbs = signed_part(&self.der).ok_or_else(|| EvidenceError::Certificate {
            cert: what.clone(),
            reason: "cannot locate the TBS cert list".into(),
        })?;
        let sig = self
            .list
            .signature
            .as_bytes()
            .ok_or_else(|| EvidenceError::signature(what.clone(), SignatureCause::Missing))?;
        verify_signature(tbs, &self.list.signature_algorithm.oid, sig, issuer, what)
    }

    /// Fails unless `at` lies in `[this_update, next_update]`. `role` names the CRL.
    pub fn check_window(&self, at: SystemTime, role: &str) -> Result<()> {
        let at = unix(at);
        let (this_update, next_update) = self.window();
        let next = next_update.unwrap_or(u64::MAX);
        if at < this_update || at > next {
            return Err(EvidenceError::Expired {
                cert: format!("{role} ({})", self.issuer_cn()),
                at,
                not_before: this_update,
                not_after: next,
            });
        }
        Ok(())
    }
}

fn common_name(name: &x509_cert::name::Name) -> String {
    for atv in name.iter() {
        if atv.oid == CN {
            if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                return s.to_string();
            }
            if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                return s.to_string();
            }
            if let Ok(s) = atv.value.decode_as::<der::asn1::Ia5StringRef<'_>>() {
                return s.to_string();
            }
        }
    }
    String::new()
}

/// Big-endian unsigned bytes in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    let mut digits = Vec::new();
    while !n.is_empty() {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = rem << 8 | *b as u32;
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
        let zeros = n.iter().take_while(|&&b| b == 0).count();
        n.drain(..zeros);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// Orders `certs` into a chain from its leaf to the pinned `root` and checks every link: the
/// issuer's signature, CA and certificate-signing rights of every issuer, that the leaf is a
/// signing end entity (not a CA; digitalSignature when KeyUsage is present), and the validity
/// of every certificate (root included) at `at`. A copy of `root` in the input is ignored; any
/// other certificate that is not part of the chain is an error, and so is a chain that does
/// not end in `root`. `role` names the chain in errors. Returns the chain, leaf first, root
/// last.
///
/// With a `cache`, signatures that verified before are not checked again, and a chain's
/// links are remembered only once the whole chain verified up to `root`.
pub fn build_chain(
    certs: &[Cert],
    root: &Cert,
    at: SystemTime,
    role: &str,
    cache: Option<&LinkCache>,
) -> Result<Vec<Cert>> {
    let pool: Vec<&Cert> = certs.iter().filter(|c| *c != root).collect();
    if pool.len() > MAX_CHAIN_CERTS {
        return Err(EvidenceError::Chain(ChainError::TooLong {
            chain: role.into(),
            count: pool.len(),
            max: MAX_CHAIN_CERTS,
        }));
    }
    if pool.is_empty() {
        return Err(EvidenceError::Chain(ChainError::Empty {
            chain: role.into(),
        }));
    }
    fn subject(c: &Cert) -> &x509_cert::name::Name {
        c.cert.tbs_certificate().subject()
    }
    fn issuer(c: &Cert) -> &x509_cert::name::Name {
        c.cert.tbs_certificate().issuer()
    }
    // The leaf is the one certificate that issues none of the others; the input order
    // (leaf first) decides between equals.
    let leaves: Vec<&Cert> = pool
        .iter()
        .copied()
        .filter(|c| !pool.iter().any(|o| *o != *c && issuer(o) == subject(c)))
        .collect();
    let leaf = match leaves.as_slice() {
        [one] => *one,
        [] => {
            return Err(EvidenceError::Chain(ChainError::Loop {
                chain: role.into(),
            }));
        }
        many => {
            return Err(EvidenceError::Chain(ChainError::MultipleLeaves {
                chain: role.into(),
                leaves: many.iter().map(|c| c.subject_cn()).collect(),
            }));
        }
    };
    // By names first (no signature checked yet): the chain from the leaf to the pinned root,
    // using every certificate given.
    let mut chain = vec![leaf.clone()];
    loop {
        let cur = chain.last().expect("non-empty");
        if issuer(cur) == subject(root) {
            chain.push(root.clone());
            break;
        }
        let next = pool
            .iter()
            .find(|c| subject(c) == issuer(cur) && !chain.contains(c))
            .ok_or_else(|| {
                EvidenceError::Chain(ChainError::UnknownIssuer {
                    chain: role.into(),
                    cert: cur.subject_cn(),
                    issuer: cur.issuer_cn(),
                    root: root.subject_cn(),
                })
            })?;
        chain.push((*next).clone());
    }
    if chain.len() - 1 != pool.len() {
        let extra: Vec<String> = pool
            .iter()
            .filter(|c| !chain.contains(c))
            .map(|c| c.subject_cn())
            .collect();
        return Err(EvidenceError::Chain(ChainError::Unused {
            chain: role.into(),
            certs: extra,
        }));
    }
    // Then the signatures, from the root down, each link skipped when remembered; new links
    // are remembered only when every link verified.
    let mut verified = Vec::new();
    for pair in chain.windows(2).rev() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        if cache.is_some_and(|c| c.knows(cert, issuer)) {
            continue;
        }
        cert.signed_by(issuer)?;
        verified.push(LinkCache::key(cert, issuer));
    }
    for (i, c) in chain.iter().enumerate() {
        let name = format!("{role} certificate {i}");
        c.check_validity(at, &name)?;
        if i == 0 && (c.is_ca()? || c.key_usage()?.is_some_and(|k| !k.digital_signature())) {
            return Err(EvidenceError::CertificateRole {
                cert: format!("{name} ({})", c.subject_cn()),
                role: crate::error::CertRole::SigningLeaf,
            });
        }
        if i > 0 {
            let ku_ok = c.key_usage()?.is_none_or(|k| k.key_cert_sign());
            if !c.is_ca()? || !ku_ok {
                return Err(EvidenceError::CertificateRole {
                    cert: format!("{name} ({})", c.subject_cn()),
                    role: crate::error::CertRole::Issuer,
                });
            }
        }
    }
    if let Some(c) = cache {
        c.remember(verified);
    }
    Ok(chain)
}
/// Remembers certificate signatures that verified (by the SHA-256 of both certificates'
/// DER), so that chains seen again (the same GPU, the same chip) skip their signature
/// checks. Names, CA rights, validity and everything else are still checked every time.
/// Bounded: at most [`LinkCache::capacity`] links, the least recently used evicted first; and
/// [`build_chain`] remembers a chain's links only once the whole chain verified up to the
/// pinned root, so input that never reaches a root cannot fill it. Thread-safe.
#[derive(Debug)]
pub struct LinkCache {
    inner: std::sync::Mutex<Lru>,
    capacity: usize,
}

type LinkKey = (String, String);

#[derive(Debug, Default)]
struct Lru {
    used: std::collections::HashMap<LinkKey, u64>,
    by_use: std::collections::BTreeMap<u64, LinkKey>,
    tick: u64,
}

impl Lru {
    fn touch(&mut self, key: &LinkKey) -> bool {
        let Some(t) = self.used.get_mut(key) else {
            return false;
        };
        self.by_use.remove(t);
        self.tick += 1;
        *t = self.tick;
        self.by_use.insert(self.tick, key.clone());
        true
    }

    fn insert(&mut self, key: LinkKey, capacity: usize) {
        if self.touch(&key) {
            return;
        }
        while self.used.len() >= capacity.max(1) {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.used.remove(&oldest);
        }
        self.tick += 1;
        self.by_use.insert(self.tick, key.clone());
        self.used.insert(key, self.tick);
    }
}

impl Default for LinkCache {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl LinkCache {
    /// The default bound: enough for thousands of GPUs and chips.
    pub const DEFAULT_CAPACITY: usize = 8192;

    /// An empty cache of [`Self::DEFAULT_CAPACITY`] links.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache of at most `capacity` links.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: std::sync::Mutex::new(Lru::default()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(cert: &Cert, issuer: &Cert) -> LinkKey {
        (cert.fingerprint(), issuer.fingerprint())
    }

    /// Whether `issuer`'s signature on `cert` verified before (and the names still match).
    fn knows(&self, cert: &Cert, issuer: &Cert) -> bool {
        cert.cert.tbs_certificate().issuer() == issuer.cert.tbs_certificate().subject()
            && self.lock().touch(&Self::key(cert, issuer))
    }

    fn remember(&self, links: impl IntoIterator<Item = LinkKey>) {
        let mut lru = self.lock();
        for k in links {
            lru.insert(k, self.capacity);
        }
    }

    /// Runs `verify` once per `key`, a signature over bytes named by their SHA-256 and by the
    /// signer's fingerprint (an OCSP response's tbsResponseData): remembered when it passes.
    /// For signers that are themselves trusted.
    pub(crate) fn verify_once(
        &self,
        key: (String, String),
        verify: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        if self.lock().touch(&key) {
            return Ok(());
        }
        verify()?;
        self.remember([key]);
        Ok(())
    }

    /// [`Cert::verify_signed_by`], once per (certificate, issuer) pair. For links whose issuer
    /// is itself trusted (a pinned root, or a certificate the caller verified up to one).
    pub fn verify_signed_by(&self, cert: &Cert, issuer: &Cert) -> Result<()> {
        if self.knows(cert, issuer) {
            return Ok(());
        }
        cert.signed_by(issuer)?;
        self.remember([Self::key(cert, issuer)]);
        Ok(())
    }

    /// The number of remembered signatures.
    pub fn len(&self) -> usize {
        self.lock().used.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The most certificates [`build_chain`] accepts for one chain (NVIDIA's device chains
/// have five; AMD's and Intel's three). More is refused before any signature is checked.
pub const MAX_CHAIN_CERTS: usize = 16;

/// Seconds since the Unix epoch (0 before it).
pub use coco_core::time::unix;

/// A `CERTIFICATE` PEM block of DER bytes.
pub fn der_to_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
        .expect("PEM encoding of bytes cannot fail")
}

/// Parses certificates from bytes: a PEM bundle (any number of CERTIFICATE blocks) or one DER
/// certificate.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>> {
    parse_certs_except(bytes, None)
}

/// Like [`parse_certs`], leaving out certificates whose DER equals `skip` (a trusted root
/// carried along in a chain) without parsing them again.
pub fn parse_certs_except(bytes: &[u8], skip: Option<&Cert>) -> Result<Vec<Cert>> {
    let bad = |reason: String| EvidenceError::Certificate {
        cert: "input".into(),
        reason,
    };
    // DER is one SEQUENCE (0x30); anything else with a PEM boundary is PEM, with any text
    // around the blocks (RFC 7468 allows explanatory text, e.g. a "# CN=..." line each).
    let is_pem = bytes.first() != Some(&0x30) && bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !is_pem {
        return Ok(vec![Cert::from_der(bytes)?]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad("PEM is not UTF-8".into()))?;
    let mut out = Vec::new();
    let mut rest = text;
    let end_marker = "-----END CERTIFICATE-----";
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end = rest[start..]
            .find(end_marker)
            .ok_or_else(|| bad("unterminated PEM certificate".into()))?
            + start
            + end_marker.len();
        let (_, der) = pem_rfc7468::decode_vec(&rest.as_bytes()[start..end])
            .map_err(|e| bad(format!("bad PEM: {e}")))?;
        if skip.is_none_or(|s| s.der() != der.as_slice()) {
            out.push(Cert::from_der(&der)?);
        }
        rest = &rest[end..];
    }
    Ok(out)
}

/// Loads certificates from a PEM/DER file, or from every `.pem`, `.der`, `.crt` and `.cer`
/// file of a directory (other files are ignored).
pub fn load_certs(path: &Path) -> Result<Vec<Cert>> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| EvidenceError::Certificate {
            cert: p.display().to_string(),
            reason: e.to_string(),
        })
    };
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| EvidenceError::Certificate {
                cert: path.display().to_string(),
                reason: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["pem", "der", "crt", "cer"].contains(&e.to_ascii_lowercase().as_str())
                    })
            })
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for p in entries {
            out.extend(parse_certs(&read(&p)?)?);
        }
        Ok(out)
    } else {
        parse_certs(&read(path)?)
    }
}

#[cfg(test)]
mod tests {
    //! `build_chain` under a throwaway P-384 root: the shapes the vendors' chains must have,
    //! and each way out of them.
    use super::*;
    use std::time::Duration;
    use x509_cert::ext::Extension;
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};

    fn key(seed: u8) -> p384::ecdsa::SigningKey {
        p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap()
    }

    fn ext(oid: der::asn1::ObjectIdentifier, value: impl der::Encode) -> Extension {
        Extension {
            extn_id: oid,
            critical: true,
            extn_value: der::asn1::OctetString::new(value.to_der().unwrap()).unwrap(),
        }
    }

    /// A real PEM bundle (AMD's ASK + ARK) with explanatory text around and between the
    /// blocks, as RFC 7468 allows and as bundles fetched by hand often have, reads as the bare
    /// bundle does; DER still reads as DER.
    #[test]
    fn pem_with_text_around_the_blocks() {
        let dir = crate::vectors::dir().join("snp/milan-v2-virtee-sev");
        let pem = std::fs::read_to_string(dir.join("cert_chain.pem")).unwrap();
        let bare = parse_certs(pem.as_bytes()).unwrap();
        assert_eq!(bare.len(), 2);
        let annotated = pem
            .replace(
                "-----BEGIN CERTIFICATE-----",
                "# CN=next one\n-----BEGIN CERTIFICATE-----",
            )
            .replace(
                "-----END CERTIFICATE-----",
                "-----END CERTIFICATE-----\nsubject=...\n",
            );
        let annotated = format!("Certificates of AMD Milan\n\n{annotated}\ntrailing words\n");
        let read = parse_certs(annotated.as_bytes()).unwrap();
        assert_eq!(
            read.iter().map(Cert::der).collect::<Vec<_>>(),
            bare.iter().map(Cert::der).collect::<Vec<_>>()
        );
        let der = std::fs::read(dir.join("vcek.der")).unwrap();
        assert_eq!(parse_certs(&der).unwrap()[0].der(), der.as_slice());
    }

    /// `ca`: BasicConstraints cA; `usage`: the KeyUsage bits (none: no extension).
    fn cert(
        subject: &str,
        issuer: &str,
        subject_key: &p384::ecdsa::SigningKey,
        issuer_key: &p384::ecdsa::SigningKey,
        ca: bool,
        usage: Option<KeyUsages>,
    ) -> Cert {
        let mut extensions = vec![ext(
            <BasicConstraints as der::oid::AssociatedOid>::OID,
            BasicConstraints {
                ca,
                path_len_constraint: None,
            },
        )];
        if let Some(u) = usage {
            extensions.push(ext(
                <KeyUsage as der::oid::AssociatedOid>::OID,
                KeyUsage(u.into()),
            ));
        }
        cert_with(subject, issuer, subject_key, issuer_key, extensions)
    }

    fn cert_with(
        subject: &str,
        issuer: &str,
        subject_key: &p384::ecdsa::SigningKey,
        issuer_key: &p384::ecdsa::SigningKey,
        extensions: Vec<Extension>,
    ) -> Cert {
        crate::sim::cert(subject, issuer, 7, subject_key, issuer_key, extensions).unwrap()
    }

    const ROOT: &str = "CN=Test Root";
    const ICA: &str = "CN=Test ICA";
    const LEAF: &str = "CN=Test Leaf";

    struct Pki {
        root: Cert,
        ica: Cert,
        leaf: Cert,
    }

    fn pki() -> Pki {
        let (r, i, l) = (key(1), key(2), key(3));
        Pki {
            root: cert(ROOT, ROOT, &r, &r, true, Some(KeyUsages::KeyCertSign)),
            ica: cert(ICA, ROOT, &i, &r, true, Some(KeyUsages::KeyCertSign)),
            leaf: cert(LEAF, ICA, &l, &i, false, Some(KeyUsages::DigitalSignature)),
        }
    }

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn a_well_formed_chain_builds_in_any_order_with_or_without_the_root() {
        let p = pki();
        for certs in [
            vec![p.leaf.clone(), p.ica.clone()],
            vec![p.ica.clone(), p.leaf.clone()],
            vec![p.leaf.clone(), p.ica.clone(), p.root.clone()],
        ] {
            let chain = build_chain(&certs, &p.root, now(), "test", None).unwrap();
            let names: Vec<String> = chain.iter().map(Cert::subject_cn).collect();
            assert_eq!(names, ["Test Leaf", "Test ICA", "Test Root"]);
        }
    }

    #[test]
    fn a_leaf_that_is_a_ca_or_cannot_sign_is_refused() {
        let p = pki();
        let (i, l) = (key(2), key(3));
        let ca_leaf = cert(LEAF, ICA, &l, &i, true, None);
        let e = build_chain(&[ca_leaf, p.ica.clone()], &p.root, now(), "test", None).unwrap_err();
        let leaf = |e: &EvidenceError| {
            matches!(
                e,
                EvidenceError::CertificateRole {
                    role: crate::error::CertRole::SigningLeaf,
                    ..
                }
            )
        };
        assert!(leaf(&e), "{e}");
        let no_sign = cert(LEAF, ICA, &l, &i, false, Some(KeyUsages::KeyEncipherment));
        let e = build_chain(&[no_sign, p.ica.clone()], &p.root, now(), "test", None).unwrap_err();
        assert!(leaf(&e), "{e}");
        // No KeyUsage at all is allowed for the leaf (NVIDIA's leaves carry one, RIM ones vary).
        let plain = cert(LEAF, ICA, &l, &i, false, None);
        build_chain(&[plain, p.ica.clone()], &p.root, now(), "test", None).unwrap();
        // A KeyUsage that does not decode is not taken for an absent one.
        let bad = cert_with(
            LEAF,
            ICA,
            &l,
            &i,
            vec![Extension {
                extn_id: <KeyUsage as der::oid::AssociatedOid>::OID,
                critical: true,
                // An OCTET STRING where the BIT STRING belongs.
                extn_value: der::asn1::OctetString::new(vec![0x04, 0x02, 0x07, 0x80]).unwrap(),
            }],
        );
        let e = build_chain(&[bad, p.ica.clone()], &p.root, now(), "test", None).unwrap_err();
        assert!(
            matches!(&e, EvidenceError::Extension { extension, .. } if extension == "KeyUsage"),
            "{e}"
        );
    }

    #[test]
    fn an_intermediate_that_is_not_a_ca_is_refused() {
        let p = pki();
        let (r, i) = (key(1), key(2));
        let not_ca = cert(ICA, ROOT, &i, &r, false, None);
        let e = build_chain(&[p.leaf.clone(), not_ca], &p.root, now(), "test", None).unwrap_err();
        let issuer = |e: &EvidenceError| {
            matches!(
                e,
                EvidenceError::CertificateRole {
                    role: crate::error::CertRole::Issuer,
                    ..
                }
            )
        };
        assert!(issuer(&e), "{e}");
        let no_cert_sign = cert(ICA, ROOT, &i, &r, true, Some(KeyUsages::DigitalSignature));
        let e = build_chain(
            &[p.leaf.clone(), no_cert_sign],
            &p.root,
            now(),
            "test",
            None,
        )
        .unwrap_err();
        assert!(issuer(&e), "{e}");
    }

    #[test]
    fn forged_links_gaps_strays_and_time_are_refused() {
        let p = pki();
        // The same names under another key: the signature link breaks.
        let (r2, i2) = (key(9), key(2));
        let forged_ica = cert(ICA, ROOT, &i2, &r2, true, Some(KeyUsages::KeyCertSign));
        let e =
            build_chain(&[p.leaf.clone(), forged_ica], &p.root, now(), "test", None).unwrap_err();
        assert!(
            matches!(
                e,
                EvidenceError::Signature {
                    cause: SignatureCause::Invalid,
                    ..
                }
            ),
            "{e}"
        );
        // A missing intermediate.
        let e =
            build_chain(std::slice::from_ref(&p.leaf), &p.root, now(), "test", None).unwrap_err();
        assert!(
            matches!(&e, EvidenceError::Chain(ChainError::UnknownIssuer { cert, .. }) if cert == "Test Leaf"),
            "{e}"
        );
        // A certificate that is not part of the chain.
        let (s, r) = (key(5), key(1));
        let stray = cert("CN=Stray", ROOT, &s, &r, false, None);
        let e = build_chain(
            &[p.leaf.clone(), p.ica.clone(), stray],
            &p.root,
            now(),
            "test",
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&e, EvidenceError::Chain(ChainError::MultipleLeaves { leaves, .. }) if leaves.len() == 2),
            "{e}"
        );
        // Outside the validity period (the certificates are valid for 30 days).
        let later = now() + Duration::from_secs(31 * 86400);
        let e = build_chain(
            &[p.leaf.clone(), p.ica.clone()],
            &p.root,
            later,
            "test",
            None,
        )
        .unwrap_err();
        assert!(matches!(e, EvidenceError::Expired { .. }), "{e}");
        assert!(matches!(
            build_chain(&[], &p.root, now(), "test", None),
            Err(EvidenceError::Chain(ChainError::Empty { .. }))
        ));
    }

    /// The chain-cache bomb: links of a chain that never reaches the pinned root are not
    /// remembered, chains longer than the bound are refused before any signature check, and
    /// the cache never holds more than its capacity.
    #[test]
    fn the_link_cache_is_bounded_and_holds_only_rooted_chains() {
        let p = pki();
        let cache = LinkCache::with_capacity(3);
        // A long chain under a root that is not the pinned one.
        let keys: Vec<_> = (10..30).map(key).collect();
        let mut other = vec![cert(
            "CN=Other Root",
            "CN=Other Root",
            &keys[0],
            &keys[0],
            true,
            None,
        )];
        for i in 1..6 {
            other.push(cert(
                &format!("CN=Other {i}"),
                &if i == 1 {
                    "CN=Other Root".into()
                } else {
                    format!("CN=Other {}", i - 1)
                },
                &keys[i],
                &keys[i - 1],
                i < 5,
                None,
            ));
        }
        other.reverse();
        let e = build_chain(&other, &p.root, now(), "test", Some(&cache)).unwrap_err();
        assert!(
            matches!(e, EvidenceError::Chain(ChainError::UnknownIssuer { .. })),
            "{e}"
        );
        assert!(cache.is_empty());
        // Too many certificates: refused as such.
        let many: Vec<Cert> = (0..MAX_CHAIN_CERTS + 1).map(|_| p.ica.clone()).collect();
        let e = build_chain(&many, &p.root, now(), "test", Some(&cache)).unwrap_err();
        assert!(
            matches!(e, EvidenceError::Chain(ChainError::TooLong { count, .. }) if count == MAX_CHAIN_CERTS + 1),
            "{e}"
        );
        assert!(cache.is_empty());
        // A chain to the pinned root: both links remembered; a forged leaf under the same
        // intermediate fails and adds nothing.
        build_chain(
            &[p.leaf.clone(), p.ica.clone()],
            &p.root,
            now(),
            "test",
            Some(&cache),
        )
        .unwrap();
        assert_eq!(cache.len(), 2);
        let forged = cert(LEAF, ICA, &key(40), &key(41), false, None);
        assert!(
            build_chain(
                &[forged, p.ica.clone()],
                &p.root,
                now(),
                "test",
                Some(&cache)
            )
            .is_err()
        );
        assert_eq!(cache.len(), 2);
        // More links than the capacity: the least recently used go first.
        for seed in 50..54 {
            let l = cert(
                &format!("CN=Leaf {seed}"),
                ICA,
                &key(seed),
                &key(2),
                false,
                None,
            );
            build_chain(&[l, p.ica.clone()], &p.root, now(), "test", Some(&cache)).unwrap();
            assert!(cache.len() <= cache.capacity());
        }
        assert_eq!(cache.len(), 3);
    }
}
