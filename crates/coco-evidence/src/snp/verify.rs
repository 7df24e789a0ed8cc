//! Verification of an SNP report: VCEK/VLEK -> ASK/ASVK -> pinned ARK, validity at an
//! injected time, the report signature, and the endorsement key's TCB and chip id.

use std::time::SystemTime;

use der::Decode;

use super::abi::{Product, Report, SigningKey, Tcb};
use super::roots::arks;
use crate::error::{EvidenceError, Result};
use crate::verified::Verified;
use crate::x509::{Cert, Crl};

const AMD_OID: &str = "1.3.6.1.4.1.3704.1";

fn oid(suffix: &str) -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new(&format!("{AMD_OID}.{suffix}")).expect("valid OID")
}

/// Options of SNP verification: the time, the endorsement certificates, AMD's CRL and the
/// chain cache.
#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
    /// The time at which certificates must be valid.
    pub at: SystemTime,
    /// The endorsement certificates, in any order: the VCEK or VLEK, and the ASK or ASVK (an
    /// ARK among them is ignored: only pinned ARKs are trusted).
    pub certs: &'a [Cert],
    /// Serial numbers (hex, lower-case) revoked by AMD's CRL for the chain in use, if
    /// revocation data is available.
    pub revoked_serials: Option<Vec<String>>,
    /// AMD's CRL for the product (KDS `/vcek/v1/{product}/crl`, DER): it must be signed by
    /// the pinned ARK and current at `at`, and neither the ASK/ASVK nor the VCEK/VLEK may be
    /// on it. With it the evidence says `revocation_checked: true`.
    pub crl: Option<Crl>,
    /// Read a capture longer than a report (unsigned bytes after the 1184 signed ones, as some
    /// tools write) by its first 1184 bytes ([`parse`](super::parse)). Off by default: exactly
    /// one report.
    pub allow_trailing_data: bool,
    /// Chain signatures already verified (reports of known chips skip the RSA-PSS checks).
    pub cache: Option<&'a ChainCache>,
}

impl<'a> VerifyOptions<'a> {
    /// Verification at `at`, without certificates (yet), revocation data or cache.
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            certs: &[],
            revoked_serials: None,
            crl: None,
            allow_trailing_data: false,
            cache: None,
        }
    }

    /// The endorsement certificates (VCEK or VLEK, and ASK or ASVK, in any order).
    pub fn with_certs(mut self, certs: &'a [Cert]) -> Self {
        self.certs = certs;
        self
    }

    /// Reads a longer capture by its first 1184 (signed) bytes.
    pub fn allowing_trailing_data(mut self) -> Self {
        self.allow_trailing_data = true;
        self
    }

    /// Checks revocation against AMD's CRL.
    pub fn with_crl(mut self, crl: Crl) -> Self {
        self.crl = Some(crl);
        self
    }

    /// Reuses chain signature checks remembered in `cache` (and remembers new ones there).
    pub fn with_cache(mut self, cache: &'a ChainCache) -> Self {
        self.cache = Some(cache);
        self
    }
}

/// A report whose signature, chain and endorsement checks passed.
#[derive(Debug, Clone)]
pub struct SnpEvidence {
    /// The report.
    pub report: Report,
    /// The product, from CPUID (v3+) and the chain (they must agree).
    pub product: Product,
    /// The endorsement key certificate (VCEK or VLEK).
    pub vek: Cert,
    /// The intermediate (ASK or ASVK).
    pub intermediate: Cert,
    /// The pinned ARK the chain ends in.
    pub ark: Cert,
    /// Whether AMD's CRL was checked.
    pub revocation_checked: bool,
}

/// Checks AMD's CRL: signed by (and naming) `issuer`, current at `at`, listing none of
/// `certs` (each with its role for the error). [`verify`] calls it with the pinned ARK when
/// [`VerifyOptions::crl`] is set.
pub fn check_crl(crl: &Crl, issuer: &Cert, at: SystemTime, certs: &[(&Cert, &str)]) -> Result<()> {
    crl.verify_signed_by(issuer)?;
    crl.check_window(at, "AMD CRL")?;
    for (cert, role) in certs {
        if crl.is_revoked(cert) {
            return Err(EvidenceError::Revoked {
                cert: format!("{role} ({})", cert.subject_cn()),
                serial: cert.serial_hex(),
            });
        }
    }
    Ok(())
}

/// The VCEK/VLEK TCB extensions and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VekExtensions {
    /// productName (1.3.6.1.4.1.3704.1.2).
    pub product_name: Option<String>,
    /// The SPLs.
    pub tcb: Tcb,
    /// hwID (VCEK only).
    pub hw_id: Option<Vec<u8>>,
}

fn spl(cert: &Cert, suffix: &str, name: &str) -> Result<Option<u8>> {
    let Some(v) = cert.extension(&oid(suffix)) else {
        return Ok(None);
    };
    let n = u32::from_der(v).map_err(|e| EvidenceError::Certificate {
        cert: cert.subject_cn(),
        reason: format!("extension {name} ({AMD_OID}.{suffix}) is not an INTEGER: {e}"),
    })?;
    u8::try_from(n)
        .map(Some)
        .map_err(|_| EvidenceError::Certificate {
            cert: cert.subject_cn(),
            reason: format!("extension {name} = {n} is out of range"),
        })
}

/// Reads the AMD extensions of a VCEK/VLEK.
pub fn vek_extensions(cert: &Cert, product: Product) -> Result<VekExtensions> {
    let need = |v: Option<u8>, name: &str| {
        v.ok_or_else(|| EvidenceError::Certificate {
            cert: cert.subject_cn(),
            reason: format!("missing TCB extension {name}"),
        })
    };
    let tcb = Tcb {
        bootloader: need(spl(cert, "3.1", "blSPL")?, "blSPL")?,
        tee: need(spl(cert, "3.2", "teeSPL")?, "teeSPL")?,
        snp: need(spl(cert, "3.3", "snpSPL")?, "snpSPL")?,
        microcode: need(spl(cert, "3.8", "ucodeSPL")?, "ucodeSPL")?,
        fmc: match product {
            Product::Turin => Some(need(spl(cert, "3.9", "fmcSPL")?, "fmcSPL")?),
            _ => None,
        },
    };
    let product_name = cert.extension(&oid("2")).map(|v| {
        der::asn1::Ia5StringRef::from_der(v)
            .map(|s| s.to_string())
            .unwrap_or_else(|_| String::from_utf8_lossy(v).into_owned())
    });
    let hw_id = cert.extension(&oid("4")).map(|v| match v {
        // Some issuers wrap the raw bytes in an OCTET STRING.
        [0x04, n, rest @ ..]
            if *n as usize == rest.len() && (rest.len() == 64 || rest.len() == 8) =>
        {
            rest.to_vec()
        }
        raw => raw.to_vec(),
    });
    Ok(VekExtensions {
        product_name,
        tcb,
        hw_id,
    })
}

/// Remembers chain signatures (endorsement key -> intermediate -> pinned ARK) that verified,
/// so that reports from the same chip skip the two RSA-PSS checks. Validity, revocation, TCB,
/// chip id and the report signature are still checked for every report. Thread-safe.
pub type ChainCache = crate::x509::LinkCache;

/// Verifies a parsed report against the endorsement certificates of `opts` (see
/// [`VerifyOptions::certs`]): the chain to a pinned ARK, validity at `opts.at`, AMD's CRL when
/// given, the endorsement key's TCB and chip id, and the report signature.
pub fn verify(report: Report, opts: &VerifyOptions<'_>) -> Result<Verified<SnpEvidence>> {
    let (certs, cache) = (opts.certs, opts.cache);
    let (vek_cn, inter_prefix, role) = match report.signing_key {
        SigningKey::Vcek => ("SEV-VCEK", "SEV-", "VCEK"),
        SigningKey::Vlek => ("SEV-VLEK", "SEV-VLEK-", "VLEK"),
    };
    let vek = certs
        .iter()
        .find(|c| c.has_ec_key() && c.subject_cn() == vek_cn)
        .ok_or_else(|| EvidenceError::Certificate {
            cert: role.into(),
            reason: format!(
                "the report is signed by a {role}, and no certificate with CN {vek_cn} was given \
                 (give the {role} and its ASK with --certs; AMD's KDS serves them by chip id and \
                 reported TCB)"
            ),
        })?;
    let issuer_cn = vek.issuer_cn();
    if !issuer_cn.starts_with(inter_prefix) || (role == "VCEK" && issuer_cn.starts_with("SEV-VLEK"))
    {
        return Err(EvidenceError::Chain(
            crate::error::ChainError::WrongIssuer {
                cert: role.into(),
                issuer: issuer_cn,
                expected: format!("an AMD {}", if role == "VCEK" { "ASK" } else { "ASVK" }),
            },
        ));
    }
    let intermediate = certs
        .iter()
        .find(|c| !c.has_ec_key() && c.subject_cn() == issuer_cn)
        .ok_or_else(|| EvidenceError::Certificate {
            cert: issuer_cn.clone(),
            reason: format!("the {role}'s issuer certificate was not given"),
        })?;
    let chain_product = Product::from_name(&issuer_cn)
        .ok_or_else(|| EvidenceError::Platform(format!("unknown AMD product in {issuer_cn:?}")))?;
    let product = match report.cpuid {
        Some((f, m, _)) => {
            let p = Product::from_cpuid(f, m).ok_or_else(|| {
                EvidenceError::Platform(format!("unknown CPUID family {f:#x} model {m:#x}"))
            })?;
            if p != chain_product {
                return Err(EvidenceError::Mismatch {
                    what: "product".into(),
                    evidence: format!("{} (CPUID)", p.name()),
                    endorsement: format!("{} (certificate chain)", chain_product.name()),
                });
            }
            p
        }
        None => chain_product,
    };
    let (_, ark) = arks()
        .iter()
        .find(|(p, _)| *p == product)
        .expect("a pinned ARK for every product");
    intermediate.verify_signed_by(ark, cache).map_err(|e| {
        EvidenceError::Chain(crate::error::ChainError::NotSignedByRoot {
            cert: intermediate.subject_cn(),
            root: ark.subject_cn(),
            reason: e.to_string(),
        })
    })?;
    vek.verify_signed_by(intermediate, cache)?;
    let inter_role = if role == "VCEK" { "ASK" } else { "ASVK" };
    for (cert, r) in [(ark, "ARK"), (intermediate, inter_role), (vek, role)] {
        cert.check_validity(opts.at, r)?;
    }
    if let Some(revoked) = &opts.revoked_serials {
        for (cert, r) in [(intermediate, "ASK/ASVK"), (vek, role)] {
            if revoked
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&cert.serial_hex()))
            {
                return Err(EvidenceError::Revoked {
                    cert: format!("{r} ({})", cert.subject_cn()),
                    serial: cert.serial_hex(),
                });
            }
        }
    }

    if let Some(crl) = &opts.crl {
        check_crl(
            crl,
            ark,
            opts.at,
            &[(intermediate, inter_role), (vek, role)],
        )?;
    }

    // The endorsement key must be the one for this chip at the REPORTED_TCB.
    let ext = vek_extensions(vek, product)?;
    if let Some(name) = &ext.product_name
        && Product::from_name(name) != Some(product)
    {
        return Err(EvidenceError::Mismatch {
            what: "productName".into(),
            evidence: product.name().into(),
            endorsement: name.clone(),
        });
    }
    let reported = report.reported_tcb.decode(product);
    if reported != ext.tcb {
        return Err(EvidenceError::Mismatch {
            what: "REPORTED_TCB vs. the endorsement key's TCB extensions".into(),
            evidence: reported.to_string(),
            endorsement: ext.tcb.to_string(),
        });
    }
    if report.signing_key == SigningKey::Vcek && !report.mask_chip_key {
        let hw_id = ext
            .hw_id
            .as_deref()
            .ok_or_else(|| EvidenceError::Certificate {
                cert: "VCEK".into(),
                reason: "missing hwID extension".into(),
            })?;
        let significant = match product {
            Product::Turin => 8,
            _ => 64,
        };
        if hw_id.len() != significant
            || report.chip_id[..significant] != *hw_id
            || report.chip_id[significant..].iter().any(|&b| b != 0)
        {
            return Err(EvidenceError::Mismatch {
                what: "CHIP_ID vs. the VCEK's hwID".into(),
                evidence: hex::encode(report.chip_id),
                endorsement: hex::encode(hw_id),
            });
        }
    }

    // The report signature (ECDSA P-384 / SHA-384 over 0x000..0x2A0); the parser has turned
    // the report's little-endian r and s into big-endian.
    let mut sig = [0u8; 96];
    for (i, part) in [report.signature_r, report.signature_s].iter().enumerate() {
        sig[i * 48..(i + 1) * 48].copy_from_slice(part);
    }
    vek.verify_ecdsa_fixed(report.signed_bytes(), &sig, &format!("SNP report ({role})"))?;

    Ok(Verified::new(SnpEvidence {
        report,
        product,
        vek: vek.clone(),
        intermediate: intermediate.clone(),
        ark: ark.clone(),
        revocation_checked: opts.crl.is_some(),
    }))
}
