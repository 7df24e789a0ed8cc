//! Random access to a sealed file: a reader over a file or the caller's positional-read
//! callback, shared by several threads.

use std::ffi::{c_char, c_void};
use std::fs::File;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use coco_seal::{Dek, SealError, SealedFile, UnsealOptions};

use crate::boundary::{clear_out, dek_from, path_from};
use crate::seal::coco_write_at_fn;
use crate::status::{FfiError, guard, status};

/// An open sealed file. Thread-safe: `coco_reader_read_at` may be called on the same reader
/// from several threads at once.
pub struct coco_reader {
    inner: SealedFile<Source>,
}

/// Fills exactly `len` bytes of `buf` from byte `offset` of the sealed input; returns 0 on
/// success or a negative value on error. Called from several threads at once when the reader
/// is used from several threads or unsealed in parallel: it must be thread-safe.
pub type coco_read_at_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> i32>;

/// The input behind a reader: a file, or a caller's positional-read callback.
enum Source {
    File(File),
    Callback {
        read_at: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize) -> i32,
        ctx: *mut c_void,
        size: u64,
    },
}

// SAFETY: a File is Send + Sync; for the callback variant the caller of
// coco_reader_open_callback promises a thread-safe callback and context (documented on
// `coco_read_at_fn`), which is what sharing the pointer across threads requires.
unsafe impl Send for Source {}
// SAFETY: as above.
unsafe impl Sync for Source {}

impl coco_seal::ReadAt for Source {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Source::File(f) => coco_seal::ReadAt::read_exact_at(f, buf, offset),
            Source::Callback { read_at, ctx, size } => {
                if offset
                    .checked_add(buf.len() as u64)
                    .is_none_or(|end| end > *size)
                {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                // SAFETY: the caller of coco_reader_open_callback guarantees the callback
                // fills exactly `len` bytes at `buf` and is thread-safe.
                let rc = unsafe { read_at(*ctx, offset, buf.as_mut_ptr(), buf.len()) };
                if rc < 0 {
                    return Err(io::Error::other(format!("read_at callback returned {rc}")));
                }
                Ok(())
            }
        }
    }
    fn size(&self) -> io::Result<u64> {
        match self {
            Source::File(f) => coco_seal::ReadAt::size(f),
            Source::Callback { size, .. } => Ok(*size),
        }
    }
}

fn open_reader(src: Source, dek: &Dek, out: *mut *mut coco_reader) -> Result<i64, FfiError> {
    let inner = SealedFile::open(src, dek)?;
    let boxed = Box::into_raw(Box::new(coco_reader { inner }));
    // SAFETY: `out` was checked non-NULL by the caller and points to writable storage for
    // one pointer.
    unsafe { *out = boxed };
    Ok(0)
}

/// Opens and authenticates the sealed file at `path` (header, key, commitment and final
/// chunk are checked here). On success `*out` holds a reader to free with
/// `coco_reader_free`; on failure `*out` is set to NULL.
///
/// # Safety
/// `path` must be a NUL-terminated string, `key` must point to `key_len` bytes and `out` to
/// writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_open(
    path: *const c_char,
    key: *const u8,
    key_len: usize,
    out: *mut *mut coco_reader,
) -> i32 {
    status(guard(|| {
        // SAFETY: `out` is NULL or writable storage for one pointer (caller).
        unsafe { clear_out(out, "out") }?;
        // SAFETY: forwarded caller guarantees.
        let path = unsafe { path_from(path, "path") }?;
        // SAFETY: forwarded caller guarantees.
        let dek = unsafe { dek_from(key, key_len) }?;
        open_reader(Source::File(File::open(path)?), &dek, out)
    }))
}

/// Like `coco_reader_open`, over a sealed input of `size` bytes served by a positional-read
/// callback (for engines that own their I/O). The callback must stay valid, and thread-safe,
/// until the reader is freed.
///
/// # Safety
/// `key` must point to `key_len` bytes, `out` to writable storage for one pointer, and the
/// callback must behave as documented on `coco_read_at_fn` while the reader lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_open_callback(
    read_at: coco_read_at_fn,
    ctx: *mut c_void,
    size: u64,
    key: *const u8,
    key_len: usize,
    out: *mut *mut coco_reader,
) -> i32 {
    status(guard(|| {
        // SAFETY: `out` is NULL or writable storage for one pointer (caller).
        unsafe { clear_out(out, "out") }?;
        let read_at = read_at.ok_or_else(|| FfiError::invalid("read_at callback is NULL"))?;
        // SAFETY: forwarded caller guarantees.
        let dek = unsafe { dek_from(key, key_len) }?;
        open_reader(Source::Callback { read_at, ctx, size }, &dek, out)
    }))
}

/// # Safety
/// `r` must be NULL or a reader from `coco_reader_open*` not yet freed.
unsafe fn reader_ref<'a>(r: *const coco_reader) -> Result<&'a coco_reader, FfiError> {
    // SAFETY: the caller guarantees `r` is NULL or a live reader.
    unsafe { r.as_ref() }.ok_or_else(|| FfiError::invalid("reader is NULL"))
}

/// The plaintext length of the reader's file, or a negative status.
///
/// # Safety
/// `reader` must be NULL or a live reader.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_len(reader: *const coco_reader) -> i64 {
    guard(|| {
        // SAFETY: forwarded caller guarantees.
        let r = unsafe { reader_ref(reader) }?;
        i64::try_from(r.inner.plaintext_len()).map_err(|_| FfiError::invalid("length > 2^63"))
    })
}

/// Reads up to `len` plaintext bytes at `offset` into `buf`. Returns the bytes read (fewer
/// than `len` only at the end), 0 at or past the end, or a negative status. Only the chunks
/// the range touches are decrypted; a tampered chunk fails only the reads that touch it, and
/// on failure `buf` holds no plaintext. Safe to call on one reader from several threads at
/// once.
///
/// # Safety
/// `reader` must be NULL or a live reader; `buf` must point to `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_read_at(
    reader: *const coco_reader,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded caller guarantees.
        let r = unsafe { reader_ref(reader) }?;
        if len == 0 {
            return Ok(0);
        }
        if buf.is_null() {
            return Err(FfiError::invalid("buf is NULL"));
        }
        if len > isize::MAX as usize {
            return Err(FfiError::invalid("len is too large"));
        }
        // SAFETY: `buf` is non-NULL and points to `len` writable bytes (caller).
        let dst = unsafe { std::slice::from_raw_parts_mut(buf, len) };
        Ok(r.inner.read_at(offset, dst)? as i64)
    })
}

/// Decrypts the whole file into `buf` (`len` must equal the plaintext length) on `threads`
/// threads (0 = all cores), each chunk straight into place, e.g. into pinned staging memory.
/// On failure `buf` is zeroed.
///
/// # Safety
/// `reader` must be NULL or a live reader; `buf` must point to `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_unseal_into(
    reader: *const coco_reader,
    buf: *mut u8,
    len: usize,
    threads: usize,
) -> i32 {
    status(guard(|| {
        // SAFETY: forwarded caller guarantees.
        let r = unsafe { reader_ref(reader) }?;
        let dst: &mut [u8] = if len == 0 {
            &mut []
        } else {
            if buf.is_null() {
                return Err(FfiError::invalid("buf is NULL"));
            }
            // SAFETY: `buf` is non-NULL and points to `len` writable bytes (caller).
            unsafe { std::slice::from_raw_parts_mut(buf, len) }
        };
        let opts = UnsealOptions {
            threads,
            progress: None,
        };
        r.inner.unseal_into(dst, &opts)?;
        Ok(0)
    }))
}

/// Decrypts the whole file and hands the plaintext to `write_at` (positional writes, one call
/// per chunk, from up to `threads` threads at once: 0 = all cores; the callback must be
/// thread-safe when `threads` is not 1). For engines that own their output I/O. Only verified
/// plaintext is ever passed to the callback; on failure the caller must discard what was
/// written.
///
/// # Safety
/// `reader` must be NULL or a live reader; the callback must behave as documented on
/// `coco_write_at_fn` for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_unseal_write(
    reader: *const coco_reader,
    write_at: coco_write_at_fn,
    ctx: *mut c_void,
    threads: usize,
) -> i32 {
    status(guard(|| {
        // SAFETY: forwarded caller guarantees.
        let r = unsafe { reader_ref(reader) }?;
        let write_at = write_at.ok_or_else(|| FfiError::invalid("write_at callback is NULL"))?;
        let sink = SharedSink { write_at, ctx };
        let opts = UnsealOptions {
            threads,
            progress: None,
        };
        r.inner
            .unseal_each(&opts, |offset, part| sink.write(offset, part))?;
        Ok(0)
    }))
}

/// A positional-write callback shared by worker threads.
struct SharedSink {
    write_at: unsafe extern "C" fn(*mut c_void, u64, *const u8, usize) -> i32,
    ctx: *mut c_void,
}

// SAFETY: the caller of coco_reader_unseal_write promises a thread-safe callback and context
// whenever more than one thread is used (documented on the function).
unsafe impl Sync for SharedSink {}

impl SharedSink {
    fn write(&self, offset: u64, buf: &[u8]) -> coco_seal::Result<()> {
        // SAFETY: the callback accepts `len` readable bytes at `buf` (caller's contract).
        let rc = unsafe { (self.write_at)(self.ctx, offset, buf.as_ptr(), buf.len()) };
        if rc < 0 {
            return Err(SealError::Io(io::Error::other(format!(
                "write_at callback returned {rc}"
            ))));
        }
        Ok(())
    }
}

/// Frees a reader. NULL is allowed (no-op).
///
/// # Safety
/// `reader` must be NULL or a reader from `coco_reader_open*` not yet freed, and no other
/// thread may be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_reader_free(reader: *mut coco_reader) {
    if reader.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `reader` came from Box::into_raw in open_reader and is freed once (caller).
        drop(unsafe { Box::from_raw(reader) });
    }));
}
