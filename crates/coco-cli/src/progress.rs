//! Progress bars on stderr, only when it is a terminal and the input is large.

use std::io::IsTerminal;
use std::sync::Arc;

use coco_seal::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Inputs smaller than this get no bar.
const MIN_BYTES: u64 = 64 << 20;

/// A bar for `total` bytes, or `None` when stderr is not a terminal or the input is small.
pub fn bar(total: u64, what: &str) -> Option<(ProgressBar, Progress)> {
    if total < MIN_BYTES || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    let handle = pb.clone();
    let progress: Progress = Arc::new(move |n| handle.set_position(n));
    Some((pb, progress))
}
