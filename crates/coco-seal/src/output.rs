//! Outputs that appear only on success: written under a temporary name beside the target and
//! renamed into place by `commit`. Dropped without `commit`, they leave nothing behind.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Result, SealError};

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A file written under a temporary name in the target's directory (mode 0600).
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file next to `target`.
    pub fn create(target: &Path) -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(".coco-partial-")
            .tempfile_in(parent_of(target))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Flushes to disk and renames onto the target (replacing a file already there).
    pub fn commit(self) -> Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp
            .persist(&self.target)
            .map_err(|e| SealError::Io(e.error))?;
        Ok(())
    }
}

/// A directory built under a temporary name beside the target and renamed on success.
pub struct AtomicDir {
    tmp: Option<tempfile::TempDir>,
    target: PathBuf,
}

impl AtomicDir {
    /// Creates the temporary directory; fails if `target` exists and is not an empty directory.
    pub fn create(target: &Path) -> Result<Self> {
        if let Ok(mut entries) = fs::read_dir(target) {
            if entries.next().is_some() {
                return Err(SealError::Io(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not empty", target.display()),
                )));
            }
        } else if target.exists() {
            return Err(SealError::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a directory", target.display()),
            )));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".coco-partial-")
            .tempdir_in(parent_of(target))?;
        Ok(Self {
            tmp: Some(tmp),
            target: target.to_path_buf(),
        })
    }

    /// The temporary directory to fill.
    pub fn path(&self) -> &Path {
        self.tmp.as_ref().expect("present until commit").path()
    }

    /// Renames the directory onto the target.
    pub fn commit(mut self) -> Result<()> {
        let tmp = self.tmp.take().expect("present until commit");
        let path = tmp.keep();
        if let Err(e) = fs::rename(&path, &self.target) {
            let _ = fs::remove_dir_all(&path);
            return Err(e.into());
        }
        Ok(())
    }
}
