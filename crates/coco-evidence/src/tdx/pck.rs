//! The SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1, Intel's "SGX PCK
//! Certificate and CRL Profile"): PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID,
//! FMSPC and SGX type, decoded with `der`.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Sequence, Tag, Tagged};

use crate::error::{EvidenceError, Result};
use crate::x509::Cert;

/// The SGX extension's OID.
pub const SGX_EXTENSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113741.1.13.1");

/// What a PCK certificate says about its platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckExtensions {
    /// PPID (16 bytes).
    pub ppid: Vec<u8>,
    /// The 16 SGX TCB component SVNs.
    pub sgx_tcb_components: [u8; 16],
    /// PCESVN.
    pub pce_svn: u16,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// PCE-ID (2 bytes).
    pub pce_id: [u8; 2],
    /// FMSPC (6 bytes): family-model-stepping-platform-custom SKU.
    pub fmspc: [u8; 6],
    /// SGX type: 0 standard, 1 scalable, 2 scalable with integrity.
    pub sgx_type: u8,
}

#[derive(Sequence)]
struct Entry<'a> {
    id: ObjectIdentifier,
    value: AnyRef<'a>,
}

fn bad(cert: &Cert, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Certificate {
        cert: format!("PCK ({})", cert.subject_cn()),
        reason: reason.into(),
    }
}

fn sub(n: &str) -> ObjectIdentifier {
    ObjectIdentifier::new(&format!("1.2.840.113741.1.13.1.{n}")).expect("valid OID")
}

impl PckExtensions {
    /// Reads the SGX extension of `cert`.
    pub fn from_cert(cert: &Cert) -> Result<Self> {
        let raw = cert
            .extension(&SGX_EXTENSION)
            .ok_or_else(|| bad(cert, "no SGX extension (1.2.840.113741.1.13.1)"))?;
        let entries = Vec::<Entry<'_>>::from_der(raw).map_err(|e| {
            bad(
                cert,
                format!("SGX extension is not a SEQUENCE of (OID, value): {e}"),
            )
        })?;
        let find = |n: &str| {
            let oid = sub(n);
            entries
                .iter()
                .find(|e| e.id == oid)
                .map(|e| e.value)
                .ok_or_else(|| bad(cert, format!("SGX extension has no {oid}")))
        };
        let octets = |n: &str, len: usize| -> Result<Vec<u8>> {
            let v = find(n)?;
            let o = v.decode_as::<&OctetStringRef>().map_err(|e| {
                bad(
                    cert,
                    format!("SGX extension {}: not an OCTET STRING: {e}", sub(n)),
                )
            })?;
            if o.as_bytes().len() != len {
                return Err(bad(
                    cert,
                    format!(
                        "SGX extension {}: {} bytes, expected {len}",
                        sub(n),
                        o.as_bytes().len()
                    ),
                ));
            }
            Ok(o.as_bytes().to_vec())
        };
        let tcb = find("2")?;
        let tcb_entries = tcb
            .decode_as::<Vec<Entry<'_>>>()
            .map_err(|e| bad(cert, format!("SGX TCB extension: {e}")))?;
        let tcb_find = |n: u32| {
            let oid = sub(&format!("2.{n}"));
            tcb_entries
                .iter()
                .find(|e| e.id == oid)
                .map(|e| e.value)
                .ok_or_else(|| bad(cert, format!("SGX TCB extension has no {oid}")))
        };
        let mut sgx_tcb_components = [0u8; 16];
        for (i, c) in sgx_tcb_components.iter_mut().enumerate() {
            *c = tcb_find(i as u32 + 1)?
                .decode_as::<u8>()
                .map_err(|e| bad(cert, format!("SGX TCB component {}: {e}", i + 1)))?;
        }
        let pce_svn = tcb_find(17)?
            .decode_as::<u16>()
            .map_err(|e| bad(cert, format!("PCESVN: {e}")))?;
        let cpu_svn: [u8; 16] = tcb_find(18)?
            .decode_as::<&OctetStringRef>()
            .ok()
            .and_then(|o| o.as_bytes().try_into().ok())
            .ok_or_else(|| bad(cert, "CPUSVN is not a 16-byte OCTET STRING"))?;
        let sgx_type = {
            let v = find("5")?;
            if v.tag() != Tag::Enumerated || v.value().len() != 1 {
                return Err(bad(cert, "SGX type is not a one-byte ENUMERATED"));
            }
            v.value()[0]
        };
        Ok(Self {
            ppid: octets("1", 16)?,
            sgx_tcb_components,
            pce_svn,
            cpu_svn,
            pce_id: octets("3", 2)?.try_into().expect("length checked"),
            fmspc: octets("4", 6)?.try_into().expect("length checked"),
            sgx_type,
        })
    }
}
