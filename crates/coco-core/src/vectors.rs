//! Where the real test vectors live, for tests and benches across the workspace: the
//! `COCO_VECTORS` environment variable, or `../shared/vectors` beside the repository. A missing
//! folder is an error, never a silent skip.

use std::path::PathBuf;

/// The vectors folder: `$COCO_VECTORS`, else `<repository>/../shared/vectors`.
///
/// # Panics
/// If the folder does not exist (tests must fail, not skip, without their data).
pub fn dir() -> PathBuf {
    let dir = std::env::var_os("COCO_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        });
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (set COCO_VECTORS)",
        dir.display()
    );
    dir
}
