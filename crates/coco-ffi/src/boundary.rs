//! What crosses the boundary: arguments checked and converted (keys, paths, strings,
//! out-pointers), and the strings coco hands out.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use coco_seal::{Dek, SealOptions};

use crate::status::FfiError;

/// # Safety
/// `key` must be NULL or point to `key_len` readable bytes.
pub(crate) unsafe fn dek_from(key: *const u8, key_len: usize) -> Result<Dek, FfiError> {
    if key.is_null() {
        return Err(FfiError::invalid("key is NULL"));
    }
    if key_len != coco_seal::key::DEK_LEN {
        return Err(FfiError::invalid(format!(
            "key_len is {key_len}, a data key is {} bytes",
            coco_seal::key::DEK_LEN
        )));
    }
    // SAFETY: the caller guarantees `key` points to `key_len` readable bytes; non-NULL checked.
    let bytes = unsafe { std::slice::from_raw_parts(key, key_len) };
    Ok(Dek::from_slice(bytes)?)
}

/// # Safety
/// `p` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn path_from(p: *const c_char, what: &str) -> Result<PathBuf, FfiError> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees a NUL-terminated string; non-NULL checked.
    let s = unsafe { CStr::from_ptr(p) };
    let s = s
        .to_str()
        .map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))?;
    Ok(PathBuf::from(s))
}

pub(crate) fn seal_options(chunk_size: usize) -> Result<SealOptions, FfiError> {
    if chunk_size == 0 {
        Ok(SealOptions::default())
    } else {
        Ok(SealOptions::default().with_chunk_size(chunk_size as u64)?)
    }
}

/// Checks an out-pointer and clears what it points to, so that every failure leaves NULL.
///
/// # Safety
/// `out` must be NULL or point to writable storage for one pointer.
pub(crate) unsafe fn clear_out<T>(out: *mut *mut T, name: &str) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::invalid(format!("{name} is NULL")));
    }
    // SAFETY: `out` is non-NULL and writable (caller).
    unsafe { *out = std::ptr::null_mut() };
    Ok(())
}

/// # Safety
/// `s` must be NULL or a NUL-terminated string.
pub(crate) unsafe fn str_from<'a>(s: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if s.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, NUL-terminated (caller).
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))
}

/// Frees a string returned by coco (e.g. a JSON result). NULL is allowed.
///
/// # Safety
/// `s` must be NULL or a string returned by coco and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `s` came from CString::into_raw in this library and is freed once (caller).
        drop(unsafe { CString::from_raw(s) });
    }));
}
