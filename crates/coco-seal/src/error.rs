//! Errors of the sealed format.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while sealing, opening or unsealing.
///
/// Each failure of authentication has its own variant, so a caller (and the CLI's exit
/// message) can tell a wrong key from a tampered, truncated or extended file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The key is not the one the file was sealed with (its key check value differs).
    #[error("wrong key: the file was sealed under a different data key")]
    WrongKey,
    /// Authentication failed: `chunk: None` is the header (its commitment does not match), `Some(i)`
    /// is chunk `i` (its tag does not verify: data, tag, position or file changed).
    #[error("{}", match chunk {
        None => "tampered: the header does not match its key commitment".to_string(),
        Some(i) => format!("tampered: chunk {i} failed authentication"),
    })]
    Tampered {
        /// The chunk that failed, or `None` for the header.
        chunk: Option<u64>,
    },
    /// The file is shorter than its header says.
    #[error("truncated: the header requires {expected} bytes, the file has {found}")]
    Truncated {
        /// File size the header requires.
        expected: u64,
        /// File size found.
        found: u64,
    },
    /// The file is longer than its header says (bytes were appended).
    #[error("extended: the header requires {expected} bytes, the file has {found}")]
    Extended {
        /// File size the header requires.
        expected: u64,
        /// File size found.
        found: u64,
    },
    /// The header's version is not one this library reads.
    #[error("unsupported sealed-format version {0} (this library reads version 1)")]
    UnsupportedVersion(u16),
    /// The header's cipher suite is not one this library implements.
    #[error("unsupported cipher suite {0:#06x} (this library implements 0x0001)")]
    UnsupportedSuite(u16),
    /// A header field is out of bounds or inconsistent.
    #[error("malformed sealed file: field `{field}` at offset {offset}: {reason}")]
    Malformed {
        /// The field's name as `docs/FORMAT.md` gives it.
        field: &'static str,
        /// Byte offset of the field in the file.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A model manifest or directory check failed.
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// A caller-supplied argument is invalid (chunk size, buffer length, input length).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An I/O error on a file the caller named (input, output, key): the path is the
    /// caller's, never a temporary one.
    #[error("{}: {source}", .path.display())]
    File {
        /// The caller's path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// An I/O error.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl SealError {
    /// `e` about the caller's `path`.
    pub fn file(path: &std::path::Path, source: io::Error) -> Self {
        SealError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Failures of a model directory's manifest and of the shards it lists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest is not valid JSON of the expected shape.
    #[error("coco-manifest.json is not a valid manifest: {0}")]
    Syntax(String),
    /// The manifest is valid JSON but says something this library does not accept.
    #[error("coco-manifest.json: {0}")]
    Invalid(String),
    /// A vendor key was required but the manifest is not signed.
    #[error("the manifest is not signed, but a vendor key was given")]
    Unsigned,
    /// The DSSE signature does not verify under the vendor key.
    #[error("the manifest signature does not verify under the vendor key")]
    BadSignature,
    /// A key file could not be read as an ECDSA P-384 key.
    #[error("bad vendor key {path}: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// A path in the manifest is absolute, escapes the directory or is not normalised.
    #[error("unsafe path in the manifest: {0:?}")]
    UnsafePath(String),
    /// A shard listed in the manifest is not in the directory.
    #[error("missing shard {0:?}")]
    MissingShard(String),
    /// The directory holds a file that the manifest does not list.
    #[error("extra file not in the manifest: {0:?}")]
    ExtraFile(String),
    /// A shard differs from its manifest entry (it was swapped, renamed or replaced).
    #[error("shard {path:?} does not match the manifest: {field} differs")]
    ShardMismatch {
        /// The shard's sealed path.
        path: String,
        /// The manifest field that differs.
        field: &'static str,
    },
    /// The input holds something that cannot be sealed (a symbolic link, a device, ...).
    #[error("cannot seal {0:?}: only regular files and directories are sealed")]
    NotRegular(PathBuf),
}

/// Result type of this crate.
pub type Result<T, E = SealError> = std::result::Result<T, E>;

impl SealError {
    pub(crate) fn malformed(field: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        SealError::Malformed {
            field,
            offset,
            reason: reason.into(),
        }
    }
}
