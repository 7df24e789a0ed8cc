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

use super::pcs::FetchError;
use crate::tls::ClientTls;

/// AMD's KDS.
pub const AMD_KDS: &str = "https://kdsintf.amd.com";
const MAX_BODY: u64 = 1 << 20;

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
    agent: ureq::Agent,
}

impl Kds {
    /// A client of the KDS at `base` (e.g. [`AMD_KDS`]).
    pub fn new(base: &str, tls: &ClientTls) -> Result<Self, FetchError> {
        let agent = crate::http::agent(base, tls).map_err(|e| match e {
            crate::ReleaseError::Tls(t) => FetchError::Client(t),
            other => FetchError::Transport {
                url: base.into(),
                reason: other.to_string(),
            },
        })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        })
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let transport = |e: &dyn std::fmt::Display| FetchError::Transport {
            url: url.into(),
            reason: e.to_string(),
        };
        let mut r = self.agent.get(url).call().map_err(|e| transport(&e))?;
        let status = r.status().as_u16();
        if status != 200 {
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            return Err(FetchError::Status {
                url: url.into(),
                status,
                retry_after,
            });
        }
        r.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| transport(&e))
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
            let opts = snp::VerifyOptions::at(at).with_crl(crl_parsed);
            snp::verify(r, &certs, &opts).map_err(FetchError::Verify)?;
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
                c.verify_signed_by(ark).map_err(FetchError::Verify)?;
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
