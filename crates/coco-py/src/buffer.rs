//! Keys and byte buffers borrowed from Python (the buffer protocol) for one call.

use coco_seal::Dek;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::*;

pub(crate) fn dek(key: &[u8]) -> PyResult<Dek> {
    Dek::from_slice(key).map_err(py_err)
}

/// A writable, C-contiguous byte buffer borrowed from Python for the duration of a call.
pub(crate) struct WritableBuffer {
    buf: PyUntypedBuffer,
}

impl WritableBuffer {
    pub(crate) fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buf = PyUntypedBuffer::get(obj)?;
        if buf.readonly() {
            return Err(PyValueError::new_err("the buffer is read-only"));
        }
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("the buffer must be C-contiguous"));
        }
        Ok(Self { buf })
    }

    /// The buffer's bytes as a mutable slice.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.buf.len_bytes();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: the exporter guarantees `buf_ptr` points to `len_bytes` bytes that stay
        // valid while the Py_buffer view is held (it is, by `self`); the view is writable and
        // C-contiguous (checked in `get`), so the bytes form one mutable region. Python code
        // racing on the same buffer from another thread is the caller's responsibility, as
        // with any `readinto`.
        unsafe { std::slice::from_raw_parts_mut(self.buf.buf_ptr().cast::<u8>(), len) }
    }
}

/// A read-only byte buffer borrowed from Python for the duration of a call.
pub(crate) struct ReadableBuffer {
    buf: PyUntypedBuffer,
}

impl ReadableBuffer {
    pub(crate) fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buf = PyUntypedBuffer::get(obj)?;
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("the buffer must be C-contiguous"));
        }
        Ok(Self { buf })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        let len = self.buf.len_bytes();
        if len == 0 {
            return &[];
        }
        // SAFETY: the exporter guarantees `buf_ptr` points to `len_bytes` readable,
        // C-contiguous bytes (checked in `get`) that stay valid while the view is held.
        unsafe { std::slice::from_raw_parts(self.buf.buf_ptr().cast::<u8>(), len) }
    }
}
