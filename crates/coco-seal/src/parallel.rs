//! Thread pools and progress reporting shared by the sealing and unsealing paths.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Result, SealError};

/// A progress callback: called with the number of plaintext bytes done so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// The thread count to use: `0` means every available core.
pub fn resolve_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// Where parallel work runs: `0` threads (all cores) uses rayon's global pool; any other
/// count uses a pool of exactly that size, built on first use and kept for the process (loaders
/// unseal many shards with the same setting; building threads per call costs more than a
/// small chunk's decryption).
pub(crate) struct Workers(Option<Arc<rayon::ThreadPool>>);

impl Workers {
    pub(crate) fn new(threads: usize) -> Result<Self> {
        static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
        if threads == 0 {
            return Ok(Self(None));
        }
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = pools.iter().find(|(n, _)| *n == threads) {
            return Ok(Self(Some(p.clone())));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("coco-seal-{threads}-{i}"))
            .build()
            .map_err(|e| SealError::Io(std::io::Error::other(format!("thread pool: {e}"))))?;
        let pool = Arc::new(pool);
        pools.push((threads, pool.clone()));
        Ok(Self(Some(pool)))
    }

    /// Runs `f` on the calling thread with a scope whose spawned tasks run on these workers.
    pub(crate) fn in_place_scope<'s, T>(&self, f: impl FnOnce(&rayon::Scope<'s>) -> T) -> T {
        match &self.0 {
            Some(pool) => pool.in_place_scope(f),
            None => rayon::in_place_scope(f),
        }
    }

    pub(crate) fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// Counts bytes done across threads and forwards the total to a [`Progress`] callback.
pub(crate) struct Counter<'a> {
    done: AtomicU64,
    progress: Option<&'a Progress>,
}

impl<'a> Counter<'a> {
    pub(crate) fn new(progress: Option<&'a Progress>) -> Self {
        Self {
            done: AtomicU64::new(0),
            progress,
        }
    }

    pub(crate) fn add(&self, n: u64) {
        let total = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(p) = self.progress {
            p(total);
        }
    }
}
