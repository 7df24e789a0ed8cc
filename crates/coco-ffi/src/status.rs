//! Status codes, the last error of the calling thread, and the guard that keeps panics from
//! crossing the boundary.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use coco_seal::SealError;

/// Status codes. `COCO_OK` is 0; every error is negative.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum coco_status {
    /// Success.
    COCO_OK = 0,
    /// A NULL pointer, a bad length or an invalid option.
    COCO_ERR_INVALID_ARGUMENT = -1,
    /// An I/O error (including a callback reporting failure).
    COCO_ERR_IO = -2,
    /// The key is not the one the file was sealed with.
    COCO_ERR_WRONG_KEY = -3,
    /// Authentication failed: the header or a chunk was modified.
    COCO_ERR_TAMPERED = -4,
    /// The sealed file is shorter than its header says.
    COCO_ERR_TRUNCATED = -5,
    /// The sealed file is longer than its header says.
    COCO_ERR_EXTENDED = -6,
    /// Unsupported version or cipher suite.
    COCO_ERR_UNSUPPORTED = -7,
    /// A header field is malformed.
    COCO_ERR_MALFORMED = -8,
    /// A model manifest check failed.
    COCO_ERR_MANIFEST = -9,
    /// Attestation evidence did not verify (the JSON result says why).
    COCO_ERR_VERIFICATION = -10,
    /// Evidence verified, but its appraisal is not affirming (the JSON result has the
    /// findings).
    COCO_ERR_APPRAISAL = -11,
    /// Reference values, trusted keys, the policy or an option are unusable (the JSON result
    /// says which).
    COCO_ERR_CONFIG = -12,
    /// A panic was caught at the boundary (a bug in coco: please report it).
    COCO_ERR_PANIC = -99,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) struct FfiError {
    pub(crate) status: coco_status,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: coco_status::COCO_ERR_INVALID_ARGUMENT,
            message: message.into(),
        }
    }
}

impl From<SealError> for FfiError {
    fn from(e: SealError) -> Self {
        use coco_status::*;
        let status = match &e {
            SealError::WrongKey => COCO_ERR_WRONG_KEY,
            SealError::Tampered { .. } => COCO_ERR_TAMPERED,
            SealError::Truncated { .. } => COCO_ERR_TRUNCATED,
            SealError::Extended { .. } => COCO_ERR_EXTENDED,
            SealError::UnsupportedVersion(_) | SealError::UnsupportedSuite(_) => {
                COCO_ERR_UNSUPPORTED
            }
            SealError::Malformed { .. } => COCO_ERR_MALFORMED,
            SealError::Manifest(_) => COCO_ERR_MANIFEST,
            SealError::InvalidArgument(_) => COCO_ERR_INVALID_ARGUMENT,
            _ => COCO_ERR_IO,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl From<io::Error> for FfiError {
    fn from(e: io::Error) -> Self {
        FfiError::from(SealError::Io(e))
    }
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(c));
}

/// Runs `body` with panics caught; returns its value, or a negative status with the message
/// stored for `coco_last_error`.
pub(crate) fn guard(body: impl FnOnce() -> Result<i64, FfiError>) -> i64 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status as i64
        }
        Err(_) => {
            set_last_error("internal error: a panic was caught at the C boundary");
            coco_status::COCO_ERR_PANIC as i64
        }
    }
}

pub(crate) fn status(v: i64) -> i32 {
    v as i32
}

/// The library version, a static NUL-terminated string (never free it).
#[unsafe(no_mangle)]
pub extern "C" fn coco_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The message of the last failure on the calling thread, or NULL if none. Valid until the
/// next coco call on this thread; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn coco_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}
