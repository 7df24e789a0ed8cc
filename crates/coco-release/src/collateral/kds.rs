//! AMD SEV-SNP collateral from the Key Distribution Service (KDS, `kdsintf.amd.com`): the VCEK
//! for the report's chip and reported TCB (`/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&
//! snpSPL=..&ucodeSPL=..`, with `fmcSPL` and the 8-byte hardware id on Turin), the product's
//! ASK + ARK (`/vcek/v1/{product}/cert_chain`) and its CRL (`/vcek/v1/{product}/crl`); for a
//! VLEK-signed report the VLEK chain and CRL (`/vlek/v1/...`; the VLEK itself comes from the
//! cloud provider). Everything is verified with the report before it is returned: the chain to
//! the pinned ARK, the report's signature, the CRL (signed by the ARK, current, nothing of the
//! chain revoked).

use std::time::SystemTime;

use coco_evidence::EvidenceError;
use coco_evidence::snp::{self, Product, Report, SigningKey};
use coco_evidence::x509::{Cert, Crl, parse_certs};
use sha2::{Digest, Sha256};

use super::pcs::FetchError;
use crate::tls::ClientTls;

/// AMD's KDS.
pub const AMD_KDS: &str = "https://kdsintf.amd.com";

/// What was fetched for a report, verified with it.
#[derive(Debug, Clone)]
pub struct SnpCollateral {
    /// The VCEK (DER); `None` for a VLEK-signed report.
    pub vcek: Option<Vec<u8>>,
    /// ASK (or ASVK) and ARK, PEM, as KDS serves them.
    pub cert_chain: Vec<u8>,
    /// The product's CRL (DER), signed by the ARK.
    pub crl: Vec<u8>,
    /// The product.
    pub product: Product,
}

/// A client of AMD's KDS (or a cache serving its paths).
#[derive(Debug, Clone)]
pub struct Kds {
    base: String,
    http: super::Fetcher,
}

impl Kds {
    /// A client of the KDS at `base` (e.g. [`AMD_KDS`]).
    pub fn new(base: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http: super::Fetcher::new(base, tls)?,
        })
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        Ok(self.http.get(url, None)?.body)
    }

    /// The VCEK URL of `report` for `product`: the chip's hardware id (all 64 bytes, or the
    /// first 8 on Turin) and the reported TCB's SPLs.
    pub fn vcek_url(&self, report: &Report, product: Product) -> String {
        let tcb = report.reported_tcb.decode(product);
        let hwid = match product {
            Product::Turin => hex::encode(&report.chip_id[..8]),
            _ => hex::encode(report.chip_id),
        };
        let mut url = format!(
            "{}/vcek/v1/{}/{hwid}?blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            self.base,
            product.name(),
            tcb.bootloader,
            tcb.tee,
            tcb.snp,
            tcb.microcode
        );
        if let Some(fmc) = tcb.fmc {
            url.push_str(&format!("&fmcSPL={fmc:02}"));
        }
        url
    }

    /// Fetches what `report` (the 1184 bytes) needs and verifies it with the report at `at`.
    /// `product` names the generation for version 2 reports (version 3 and later name it).
    pub fn snp(
        &self,
        report: &[u8],
        product: Option<Product>,
        at: SystemTime,
    ) -> Result<SnpCollateral, FetchError> {
        let r = Report::parse(report).map_err(FetchError::Quote)?;
        let product = r.cpuid_product().or(product).ok_or_else(|| {
            FetchError::Quote(EvidenceError::Usage {
                option: "product",
                reason:
                    "a version 2 report does not name its product: give it (milan, genoa, turin)"
                        .into(),
            })
        })?;
        if r.mask_chip_key && r.signing_key == SigningKey::Vcek {
            return Err(FetchError::Quote(EvidenceError::Usage {
                option: "report",
                reason: "the chip id is masked (MASK_CHIP_KEY): KDS cannot name its VCEK".into(),
            }));
        }
        let kind = match r.signing_key {
            SigningKey::Vcek => "vcek",
            SigningKey::Vlek => "vlek",
        };
        let vcek = match r.signing_key {
            SigningKey::Vcek => Some(self.get(&self.vcek_url(&r, product))?),
            SigningKey::Vlek => None,
        };
        let chain_url = format!("{}/{kind}/v1/{}/cert_chain", self.base, product.name());
        let cert_chain = self.get(&chain_url)?;
        let crl = self.get(&format!("{}/{kind}/v1/{}/crl", self.base, product.name()))?;
        // Verified together with the report before anything is returned.
        let mut certs: Vec<Cert> = Vec::new();
        if let Some(v) = &vcek {
            certs.push(Cert::from_der(v).map_err(FetchError::Verify)?);
        }
        certs.extend(parse_certs(&cert_chain).map_err(FetchError::Verify)?);
        let crl_parsed = Crl::from_der(&crl).map_err(FetchError::Verify)?;
        if vcek.is_some() {
            let opts = snp::VerifyOptions::at(at)
                .with_certs(&certs)
                .with_crl(crl_parsed);
            snp::verify(r, &opts).map_err(FetchError::Verify)?;
        } else {
            // No VLEK to verify the report with: the CRL and the ASVK against the pinned ARK.
            let ark = snp::roots::arks()
                .iter()
                .find(|(p, _)| *p == product)
                .map(|(_, c)| c)
                .ok_or_else(|| {
                    FetchError::Verify(EvidenceError::Platform(format!(
                        "no pinned ARK for {}",
                        product.name()
                    )))
                })?;
            snp::verify::check_crl(&crl_parsed, ark, at, &[]).map_err(FetchError::Verify)?;
            for c in certs.iter().filter(|c| c.subject_cn() != ark.subject_cn()) {
                c.verify_signed_by(ark, None).map_err(FetchError::Verify)?;
            }
        }
        Ok(SnpCollateral {
            vcek,
            cert_chain,
            crl,
            product,
        })
    }
}

/// What a service fetches from KDS for SNP evidence that arrives without its endorsements:
/// the VCEK by chip and TCB, the product's ASK + ARK, and its CRL (so that revocation is
/// checked). Bounded, in memory. Nothing fetched is trusted: the evidence is verified against
/// the pinned ARK as always, and the CRL must be signed by it and current.
#[derive(Debug)]
pub struct SnpEndorsements {
    kds: Kds,
    chains: std::sync::Mutex<std::collections::HashMap<&'static str, Vec<Cert>>>,
    vceks: std::sync::Mutex<std::collections::HashMap<String, Cert>>,
    crls: std::sync::Mutex<std::collections::HashMap<&'static str, (Crl, u64)>>,
    /// Where fetched endorsements are kept across restarts (AMD's KDS limits request rates).
    dir: Option<std::path::PathBuf>,
}

/// The cache slot of a product's chain or CRL of `kind` (`vcek` or `vlek`).
fn slot(product: Product, kind: &str) -> &'static str {
    match (product, kind == "vcek") {
        (Product::Milan, true) => "Milan/vcek",
        (Product::Genoa, true) => "Genoa/vcek",
        (Product::Turin, true) => "Turin/vcek",
        (Product::Milan, false) => "Milan/vlek",
        (Product::Genoa, false) => "Genoa/vlek",
        (Product::Turin, false) => "Turin/vlek",
    }
}

/// The most VCEKs remembered (one per chip and TCB).
pub const MAX_VCEKS: usize = 4096;

impl SnpEndorsements {
    /// Endorsements fetched from `kds`.
    pub fn new(kds: Kds) -> Self {
        Self {
            kds,
            chains: Default::default(),
            vceks: Default::default(),
            crls: Default::default(),
            dir: None,
        }
    }

    /// The same, keeping what it fetches in `dir` and reading it back after a restart (still
    /// untrusted there: the evidence is verified against the pinned ARK as always, and a CRL
    /// is refetched when it nears its nextUpdate).
    pub fn with_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    fn disk(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.as_ref()?.join(name)).ok()
    }

    /// Keeps `bytes` as `name`, whole or not at all; a failure only costs a refetch after a
    /// restart.
    fn keep(&self, name: &str, bytes: &[u8]) {
        if let Some(dir) = &self.dir
            && std::fs::create_dir_all(dir).is_ok()
        {
            let _ = coco_seal::output::AtomicFile::write(&dir.join(name), bytes);
        }
    }

    fn chain(&self, product: Product, kind: &str) -> Result<Vec<Cert>, FetchError> {
        let key = slot(product, kind);
        let mut chains = self.chains.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = chains.get(key) {
            return Ok(c.clone());
        }
        let name = format!("{}-cert_chain.pem", key.replace('/', "-"));
        if let Some(certs) = self.disk(&name).and_then(|b| parse_certs(&b).ok()) {
            chains.insert(key, certs.clone());
            return Ok(certs);
        }
        let url = format!("{}/{kind}/v1/{}/cert_chain", self.kds.base, product.name());
        let pem = self.kds.get(&url)?;
        let certs = parse_certs(&pem).map_err(FetchError::Verify)?;
        self.keep(&name, &pem);
        chains.insert(key, certs.clone());
        Ok(certs)
    }

    fn crl(&self, product: Product, kind: &str, at: u64) -> Result<Crl, FetchError> {
        let key = slot(product, kind);
        let mut crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, until)) = crls.get(key)
            && at.saturating_add(super::cache::REFRESH_MARGIN.as_secs()) < *until
        {
            return Ok(c.clone());
        }
        let fresh = |c: &Crl| {
            at.saturating_add(super::cache::REFRESH_MARGIN.as_secs())
                < c.window().1.unwrap_or(u64::MAX)
        };
        let name = format!("{}.crl", key.replace('/', "-"));
        let crl = match self.disk(&name).and_then(|b| Crl::from_der(&b).ok()) {
            Some(c) if fresh(&c) => c,
            _ => {
                let url = format!("{}/{kind}/v1/{}/crl", self.kds.base, product.name());
                let der = self.kds.get(&url)?;
                let c = Crl::from_der(&der).map_err(FetchError::Verify)?;
                self.keep(&name, &der);
                c
            }
        };
        let until = crl.window().1.unwrap_or(u64::MAX);
        crls.insert(key, (crl.clone(), until));
        Ok(crl)
    }

    /// Completes SNP `evidence` (a raw report) at `at`: the VCEK when no VCEK/VLEK was sent
    /// (VCEK-signed reports), the ASK + ARK when the sent ones do not include the issuer, and
    /// the CRL when none was sent. Evidence that is not a parseable raw report is left as it
    /// is (the verifier says what is wrong with it).
    pub fn complete(
        &self,
        evidence: &mut coco_evidence::api::Evidence,
        at: SystemTime,
    ) -> Result<(), FetchError> {
        let Ok(r) = Report::parse(
            evidence
                .bytes
                .get(..coco_evidence::snp::abi::REPORT_LEN)
                .unwrap_or(&evidence.bytes),
        ) else {
            return Ok(());
        };
        let Some(product) = r.cpuid_product() else {
            return Ok(());
        };
        let (kind, vek_cn) = match r.signing_key {
            SigningKey::Vcek => ("vcek", "SEV-VCEK"),
            SigningKey::Vlek => ("vlek", "SEV-VLEK"),
        };
        let has_vek = evidence.certs.iter().any(|c| c.subject_cn() == vek_cn);
        if !has_vek && r.signing_key == SigningKey::Vcek && !r.mask_chip_key {
            let url = self.kds.vcek_url(&r, product);
            let vcek = {
                let mut vceks = self.vceks.lock().unwrap_or_else(|e| e.into_inner());
                // Named by what it is (product, chip, TCB), not by the KDS that served it.
                let what = url.strip_prefix(&self.kds.base).unwrap_or(&url);
                let name = format!("vcek-{}.der", hex::encode(Sha256::digest(what.as_bytes())));
                match vceks.get(&url) {
                    Some(c) => c.clone(),
                    None => {
                        let c = match self.disk(&name).and_then(|b| Cert::from_der(&b).ok()) {
                            Some(c) => c,
                            None => {
                                let der = self.kds.get(&url)?;
                                let c = Cert::from_der(&der).map_err(FetchError::Verify)?;
                                self.keep(&name, &der);
                                c
                            }
                        };
                        if vceks.len() >= MAX_VCEKS {
                            vceks.clear();
                        }
                        vceks.insert(url, c.clone());
                        c
                    }
                }
            };
            evidence.certs.insert(0, vcek);
        }
        let issuer = evidence
            .certs
            .iter()
            .find(|c| c.subject_cn() == vek_cn)
            .map(Cert::issuer_cn);
        let has_issuer = issuer
            .as_ref()
            .is_some_and(|i| evidence.certs.iter().any(|c| &c.subject_cn() == i));
        if !has_issuer {
            evidence.certs.extend(self.chain(product, kind)?);
        }
        if evidence.crl.is_none() {
            evidence.crl = Some(self.crl(product, kind, coco_core::time::unix(at))?);
        }
        Ok(())
    }
}
