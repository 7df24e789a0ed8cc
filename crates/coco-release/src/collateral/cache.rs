//! A bounded cache of verified TDX collateral, by FMSPC and PCK CA, kept in memory and (when
//! given a directory) on disk in the layout of `coco evidence verify --collateral`
//! (`DIR/tdx/<FMSPC>-<ca>/`). An entry is refreshed from the PCS once it is within the refresh
//! margin of its `nextUpdate`; when the refresh fails, the entry is still used while it is
//! valid, and never after. Everything loaded from disk or fetched is verified first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use coco_core::time::unix;
use coco_evidence::tdx::RawCollateral;

use super::pcs::{FetchError, PckCa, Pcs, QuoteIds, TdxCollateral};

/// How long before `nextUpdate` an entry is refreshed.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(24 * 3600);
/// The most platforms (FMSPC, CA) remembered.
pub const MAX_ENTRIES: usize = 1024;

/// The cache. `Sync`: one instance serves concurrent decisions (fetches are serialised).
#[derive(Debug)]
pub struct TdxCache {
    pcs: Pcs,
    dir: Option<PathBuf>,
    entries: Mutex<HashMap<([u8; 6], PckCa), TdxCollateral>>,
}

const FILES: [&str; 5] = [
    "tcb_info.json",
    "qe_identity.json",
    "tcb_signing_chain.pem",
    "pck_crl.der",
    "root_ca_crl.der",
];

fn entry_dir(root: &Path, ids: &QuoteIds) -> PathBuf {
    root.join("tdx").join(format!(
        "{}-{}",
        hex::encode_upper(ids.fmspc),
        ids.ca.name()
    ))
}

/// Writes `c` into `dir` file by file, each through a temporary file renamed into place (a set
/// torn by a crash fails verification when read back and is fetched again).
fn store(dir: &Path, c: &RawCollateral) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bodies: [&[u8]; 5] = [
        &c.tcb_info,
        &c.qe_identity,
        &c.tcb_signing_chain,
        c.pck_crl.as_deref().unwrap_or_default(),
        c.root_ca_crl.as_deref().unwrap_or_default(),
    ];
    for (name, body) in FILES.iter().zip(bodies) {
        let tmp = dir.join(format!(".{name}.partial"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}

impl TdxCache {
    /// A cache fetching from `pcs`, persisting under `dir` when given.
    pub fn new(pcs: Pcs, dir: Option<PathBuf>) -> Self {
        Self {
            pcs,
            dir,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The number of platforms in memory.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The collateral of the platform `ids` for a decision at `now`: the cached entry while it
    /// is fresh; else fetched (and verified) from the PCS; else, when the PCS fails, the cached
    /// entry if it is still valid at `now`. Never collateral past its validity.
    pub fn get(&self, ids: &QuoteIds, now: SystemTime) -> Result<RawCollateral, FetchError> {
        let t = unix(now);
        let key = (ids.fmspc, ids.ca);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(&key)
            && let Some(root) = &self.dir
            && let Ok(raw) = RawCollateral::from_dir(&entry_dir(root, ids))
            && let Ok(c) = TdxCollateral::verified(raw, ids, now)
        {
            entries.insert(key, c);
        }
        let cached = entries.get(&key).filter(|c| t <= c.valid_until).cloned();
        if let Some(c) = &cached
            && t.saturating_add(REFRESH_MARGIN.as_secs()) < c.valid_until
        {
            return Ok(c.raw.clone());
        }
        match self.pcs.tdx(ids, now) {
            Ok(fresh) => {
                if let Some(root) = &self.dir {
                    // The cache on disk is an optimisation: a write failure costs a refetch
                    // after a restart, never a decision.
                    let _ = store(&entry_dir(root, ids), &fresh.raw);
                }
                if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
                    // Bounded: the entry closest to expiry goes.
                    if let Some(k) = entries
                        .iter()
                        .min_by_key(|(_, c)| c.valid_until)
                        .map(|(k, _)| *k)
                    {
                        entries.remove(&k);
                    }
                }
                let raw = fresh.raw.clone();
                entries.insert(key, fresh);
                Ok(raw)
            }
            Err(e) => match cached {
                Some(c) => Ok(c.raw),
                None => {
                    entries.remove(&key);
                    Err(e)
                }
            },
        }
    }
}
