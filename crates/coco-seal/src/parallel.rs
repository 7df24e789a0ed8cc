//! Thread pools and progress reporting shared by the sealing and unsealing paths.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(resolve_threads(threads))
        .thread_name(|i| format!("coco-seal-{i}"))
        .build()
        .map_err(|e| SealError::Io(std::io::Error::other(format!("thread pool: {e}"))))
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
