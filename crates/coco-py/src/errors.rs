//! The exception classes and how coco errors map onto them.

use coco_seal::SealError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _coco,
    CocoError,
    PyException,
    "Base class of every coco error."
);
create_exception!(
    _coco,
    WrongKeyError,
    CocoError,
    "The key is not the one the data was sealed with."
);
create_exception!(
    _coco,
    TamperedError,
    CocoError,
    "Authentication failed: the data was modified, truncated or extended."
);
create_exception!(
    _coco,
    VerificationError,
    CocoError,
    "Attestation evidence or a signature did not verify."
);

create_exception!(
    _coco,
    ReleaseError,
    CocoError,
    "The key was not released for a reason other than failed verification (transport, unknown key id, a malformed exchange)."
);

pub(crate) fn py_err(e: SealError) -> PyErr {
    let msg = e.to_string();
    match e {
        SealError::WrongKey => WrongKeyError::new_err(msg),
        SealError::Tampered { .. } | SealError::Truncated { .. } | SealError::Extended { .. } => {
            TamperedError::new_err(msg)
        }
        SealError::Manifest(coco_seal::ManifestError::BadSignature)
        | SealError::Manifest(coco_seal::ManifestError::Unsigned) => {
            VerificationError::new_err(msg)
        }
        SealError::InvalidArgument(_) => PyValueError::new_err(msg),
        SealError::Io(io) => PyErr::from(io),
        // OSError(errno, strerror, filename) is the subclass of its errno
        // (FileNotFoundError, ...) with `filename` set.
        SealError::File { path, source } => match source.raw_os_error() {
            Some(errno) => pyo3::exceptions::PyOSError::new_err((
                errno,
                source.to_string(),
                path.display().to_string(),
            )),
            None => pyo3::exceptions::PyOSError::new_err(msg),
        },
        _ => CocoError::new_err(msg),
    }
}
