//! Reading a collateral set from a directory laid out as DESIGN §4 says (`coco collateral
//! fetch` writes it, `coco evidence verify --collateral` reads it).

use std::path::Path;

use super::pcs::RawCollateral;
use crate::error::{CollateralError, EvidenceError, Result};

impl RawCollateral {
    /// Reads `tcb_info.json`, `qe_identity.json`, `tcb_signing_chain.pem` and, when present,
    /// `pck_crl.der` and `root_ca_crl.der` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                EvidenceError::Collateral(CollateralError::Unreadable {
                    path: dir.join(name).display().to_string(),
                    reason: e.to_string(),
                })
            })
        };
        let optional = |name: &str| -> Result<Option<Vec<u8>>> {
            let p = dir.join(name);
            if p.exists() {
                read(name).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Self {
            tcb_info: read("tcb_info.json")?,
            qe_identity: read("qe_identity.json")?,
            tcb_signing_chain: read("tcb_signing_chain.pem")?,
            pck_crl: optional("pck_crl.der")?,
            root_ca_crl: optional("root_ca_crl.der")?,
        })
    }
}
