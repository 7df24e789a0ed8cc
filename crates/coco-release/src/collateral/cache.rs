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

/// A document fetched on its own (a PCK CRL, the QE Identity): its bytes, its issuer chain
/// (PEM), valid until (Unix seconds).
type CachedDoc = (Vec<u8>, Vec<u8>, u64);

/// The time source of a cache.
pub type Clock = std::sync::Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The cache. `Sync`: one instance serves concurrent decisions (fetches are serialised).
pub struct TdxCache {
    pcs: Pcs,
    dir: Option<PathBuf>,
    entries: Mutex<HashMap<([u8; 6], PckCa), TdxCollateral>>,
    /// CRLs fetched on their own (PCCS requests that come before any platform's): DER, issuer
    /// chain, valid until.
    crls: Mutex<HashMap<PckCa, CachedDoc>>,
    root_crl: Mutex<Option<(Vec<u8>, u64)>>,
    /// The QE Identity fetched on its own (asked before any platform's TCB Info): body,
    /// issuer chain, valid until.
    qe_identity: Mutex<Option<CachedDoc>>,
    clock: Clock,
}

impl std::fmt::Debug for TdxCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TdxCache({:?}, {} platforms)", self.dir, self.len())
    }
}

const FILES: [&str; 6] = [
    "tcb_info.json",
    "qe_identity.json",
    "tcb_signing_chain.pem",
    "pck_crl.der",
    "root_ca_crl.der",
    "pck_crl_issuer_chain.pem",
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
fn store(dir: &Path, t: &TdxCollateral) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let c = &t.raw;
    let bodies: [&[u8]; 6] = [
        &c.tcb_info,
        &c.qe_identity,
        &c.tcb_signing_chain,
        c.pck_crl.as_deref().unwrap_or_default(),
        c.root_ca_crl.as_deref().unwrap_or_default(),
        &t.pck_crl_issuer_chain,
    ];
    for (name, body) in FILES.iter().zip(bodies) {
        coco_seal::output::AtomicFile::write(&dir.join(name), body)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
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
            crls: Mutex::new(HashMap::new()),
            root_crl: Mutex::new(None),
            qe_identity: Mutex::new(None),
            clock: std::sync::Arc::new(SystemTime::now),
        }
    }

    /// The same cache reading the time from `clock` where no time is given (the caching
    /// endpoints; decisions pass their own time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the cache's clock.
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// The number of platforms in memory.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A cached set valid at `now` that satisfies `pick` (for the PCCS-compatible endpoints,
    /// which serve what the cache holds).
    pub fn find(
        &self,
        now: SystemTime,
        pick: impl Fn(&TdxCollateral) -> bool,
    ) -> Option<TdxCollateral> {
        let t = unix(now);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| t <= c.valid_until && pick(c))
            .max_by_key(|c| c.valid_until)
            .cloned()
    }

    /// The CRL of PCK CA `ca` valid at `now` (DER) and its issuer chain: from a cached
    /// platform, else fetched and verified on its own.
    pub fn pck_crl(&self, ca: PckCa, now: SystemTime) -> Result<(Vec<u8>, Vec<u8>), FetchError> {
        if let Some(e) = self.find(now, |e| e.ca == ca) {
            return Ok((e.raw.pck_crl.unwrap_or_default(), e.pck_crl_issuer_chain));
        }
        let t = unix(now);
        let mut crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((der, chain, until)) = crls.get(&ca)
            && t.saturating_add(REFRESH_MARGIN.as_secs()) < *until
        {
            return Ok((der.clone(), chain.clone()));
        }
        let (der, chain, until) = self.pcs.pck_crl(ca, now)?;
        crls.insert(ca, (der.clone(), chain.clone(), until));
        Ok((der, chain))
    }

    /// The TD QE Identity valid at `now` (the body as the PCS sent it) and its issuer chain:
    /// from a cached platform, else fetched and verified on its own (a DCAP client may ask for
    /// it before any TCB Info).
    pub fn qe_identity(&self, now: SystemTime) -> Result<(Vec<u8>, Vec<u8>), FetchError> {
        if let Some(e) = self.find(now, |_| true) {
            return Ok((e.raw.qe_identity, e.raw.tcb_signing_chain));
        }
        let t = unix(now);
        let mut qe = self.qe_identity.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((body, chain, until)) = &*qe
            && t.saturating_add(REFRESH_MARGIN.as_secs()) < *until
        {
            return Ok((body.clone(), chain.clone()));
        }
        let (body, chain, until) = self.pcs.qe_identity(now)?;
        *qe = Some((body.clone(), chain.clone(), until));
        Ok((body, chain))
    }

    /// The Root CA CRL valid at `now` (DER): from a cached platform, else fetched and verified.
    pub fn root_ca_crl(&self, now: SystemTime) -> Result<Vec<u8>, FetchError> {
        if let Some(e) = self.find(now, |_| true) {
            return Ok(e.raw.root_ca_crl.unwrap_or_default());
        }
        let t = unix(now);
        let mut root = self.root_crl.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((der, until)) = &*root
            && t.saturating_add(REFRESH_MARGIN.as_secs()) < *until
        {
            return Ok(der.clone());
        }
        let (der, until) = self.pcs.root_ca_crl(now)?;
        *root = Some((der.clone(), until));
        Ok(der)
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
        {
            let dir = entry_dir(root, ids);
            if let (Ok(raw), Ok(chain)) = (
                RawCollateral::from_dir(&dir),
                std::fs::read(dir.join("pck_crl_issuer_chain.pem")),
            ) && let Ok(c) = TdxCollateral::verified(raw, chain, ids, now)
            {
                entries.insert(key, c);
            }
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
                    let _ = store(&entry_dir(root, ids), &fresh);
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
