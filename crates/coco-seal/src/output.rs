//! Outputs that appear only on success. Dropped without `commit`, they leave nothing behind;
//! killed (even with SIGKILL) before `commit`, they leave nothing behind either where the file
//! system allows it:
//!
//! - On Linux a file is written as an *unnamed* file in the target's directory (`O_TMPFILE`)
//!   and linked to its name only once complete and flushed: until then no path leads to the
//!   partial output, and when the process dies the kernel frees it. File systems without
//!   `O_TMPFILE` (some network file systems) fall back to a named temporary file.
//! - Elsewhere, and as that fallback, a file is written under a temporary name beside the
//!   target (`.coco-partial-*`, mode 0600) and renamed into place.
//! - A directory is built under a temporary name and renamed.

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

/// Where the bytes go until `commit`.
enum Pending {
    /// An unnamed file in the target's directory (Linux `O_TMPFILE`).
    #[cfg(target_os = "linux")]
    Unnamed(File),
    /// A named temporary file beside the target.
    Named(tempfile::NamedTempFile),
}

/// A file written where no one sees it until it is complete (mode 0600).
pub struct AtomicFile {
    pending: Pending,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the pending file in `target`'s directory. Errors name `target`.
    pub fn create(target: &Path) -> Result<Self> {
        Self::create_inner(target).map_err(|e| SealError::file(target, e))
    }

    fn create_inner(target: &Path) -> io::Result<Self> {
        let dir = parent_of(target);
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
            match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => {
                    return Ok(Self {
                        pending: Pending::Unnamed(File::from(fd)),
                        target: target.to_path_buf(),
                    });
                }
                // No O_TMPFILE on this file system (or kernel): a named temporary file.
                Err(e)
                    if e == rustix::io::Errno::OPNOTSUPP
                        || e == rustix::io::Errno::ISDIR
                        || e == rustix::io::Errno::INVAL => {}
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix(".coco-partial-")
            .tempfile_in(dir)?;
        Ok(Self {
            pending: Pending::Named(tmp),
            target: target.to_path_buf(),
        })
    }

    /// Writes `bytes` as `target`, whole or not at all (create, write, [`Self::commit`]).
    pub fn write(target: &Path, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let mut f = Self::create(target)?;
        f.file()
            .write_all(bytes)
            .map_err(|e| SealError::file(target, e))?;
        f.commit()
    }

    /// The open pending file.
    pub fn file(&mut self) -> &mut File {
        match &mut self.pending {
            #[cfg(target_os = "linux")]
            Pending::Unnamed(f) => f,
            Pending::Named(t) => t.as_file_mut(),
        }
    }

    /// Whether the pending file has no name (nothing to clean up if the process dies).
    pub fn is_unnamed(&self) -> bool {
        match self.pending {
            #[cfg(target_os = "linux")]
            Pending::Unnamed(_) => true,
            Pending::Named(_) => false,
        }
    }

    /// Flushes to disk and gives the file its name (replacing a file already there). Errors
    /// name the target.
    pub fn commit(self) -> Result<()> {
        let target = self.target.clone();
        self.commit_inner().map_err(|e| SealError::file(&target, e))
    }

    fn commit_inner(self) -> io::Result<()> {
        match self.pending {
            #[cfg(target_os = "linux")]
            Pending::Unnamed(file) => {
                file.sync_all()?;
                link_unnamed(&file, &self.target)?;
            }
            Pending::Named(tmp) => {
                tmp.as_file().sync_all()?;
                tmp.persist(&self.target).map_err(|e| e.error)?;
            }
        }
        // The new name itself survives a power loss once its directory is flushed.
        if let Ok(d) = File::open(parent_of(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Links the complete unnamed `file` as `target`: directly when `target` does not exist (no
/// moment with a partial or temporary name), else under a temporary name renamed over it.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, target: &Path) -> io::Result<()> {
    match link_fd(file, target) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        r => return r,
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = parent_of(target).join(format!(".coco-partial-{}", hex::encode(suffix)));
    link_fd(file, &tmp)?;
    fs::rename(&tmp, target).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// `linkat` of an `O_TMPFILE` descriptor: through `AT_EMPTY_PATH` where the process may, else
/// through its `/proc/self/fd` entry.
#[cfg(target_os = "linux")]
fn link_fd(file: &File, name: &Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    match rustix::fs::linkat(file, "", CWD, name, AtFlags::EMPTY_PATH) {
        Ok(()) => return Ok(()),
        Err(e) if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::PERM => {}
        Err(e) => return Err(e.into()),
    }
    link_via_proc(file, name)
}

/// `linkat` of the descriptor's `/proc/self/fd` entry (needs no capability).
#[cfg(target_os = "linux")]
fn link_via_proc(file: &File, name: &Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, proc_path.as_str(), CWD, name, AtFlags::SYMLINK_FOLLOW)
        .map_err(Into::into)
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
            .tempdir_in(parent_of(target))
            .map_err(|e| SealError::file(target, e))?;
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
            return Err(SealError::file(&self.target, e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// While a file is written no path leads to it (so a SIGKILL leaves nothing behind); it
    /// appears complete under its name at commit, and replaces an existing file.
    #[test]
    fn no_name_until_commit() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("plain.bin");
        let mut f = AtomicFile::create(&target).unwrap();
        #[cfg(target_os = "linux")]
        assert!(f.is_unnamed(), "the test directory supports O_TMPFILE");
        f.file().write_all(b"secret weights").unwrap();
        assert_eq!(names(d.path()), Vec::<String>::new());
        f.commit().unwrap();
        assert_eq!(names(d.path()), ["plain.bin"]);
        assert_eq!(fs::read(&target).unwrap(), b"secret weights");

        let mut g = AtomicFile::create(&target).unwrap();
        g.file().write_all(b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"secret weights");
        g.commit().unwrap();
        assert_eq!(names(d.path()), ["plain.bin"]);
        assert_eq!(fs::read(&target).unwrap(), b"second");

        let mut h = AtomicFile::create(&d.path().join("dropped")).unwrap();
        h.file().write_all(b"partial").unwrap();
        drop(h);
        assert_eq!(names(d.path()), ["plain.bin"]);
    }

    /// The path taken by processes without `CAP_DAC_READ_SEARCH`.
    #[cfg(target_os = "linux")]
    #[test]
    fn unnamed_file_linked_through_proc() {
        let d = tempfile::tempdir().unwrap();
        let mut f = AtomicFile::create(&d.path().join("x")).unwrap();
        f.file().write_all(b"abc").unwrap();
        let Pending::Unnamed(file) = &f.pending else {
            panic!("unnamed")
        };
        link_via_proc(file, &d.path().join("y")).unwrap();
        assert_eq!(fs::read(d.path().join("y")).unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out");
        let f = AtomicFile::create(&target).unwrap();
        f.commit().unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
