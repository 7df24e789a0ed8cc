//! Sealing and unsealing: whole files, and streams through the caller's callbacks.

use std::ffi::{CString, c_char, c_void};
use std::fs::File;
use std::io;

use coco_seal::{Dek, Sealer, UnsealOptions, unseal_file};

use crate::boundary::{clear_out, dek_from, path_from, seal_options};
use crate::status::{FfiError, guard, status};

/// Reads up to `len` bytes into `buf`; returns the bytes read, 0 at end of input, or a
/// negative value on error.
pub type coco_read_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut u8, len: usize) -> i64>;

/// Writes exactly `len` bytes from `buf` at byte `offset` of the output; returns 0 on success
/// or a negative value on error.
pub type coco_write_at_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, offset: u64, buf: *const u8, len: usize) -> i32>;

/// Fills `out` (`out_len` must be 32) with a fresh random data key.
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_generate_key(out: *mut u8, out_len: usize) -> i32 {
    status(guard(|| {
        if out.is_null() || out_len != coco_seal::key::DEK_LEN {
            return Err(FfiError::invalid("out must be a 32-byte buffer"));
        }
        let dek = Dek::generate()?;
        // SAFETY: `out` is non-NULL and points to `out_len` (= 32) writable bytes (caller).
        let dst = unsafe { std::slice::from_raw_parts_mut(out, out_len) };
        dst.copy_from_slice(dek.as_bytes());
        Ok(0)
    }))
}

/// Seals the file `in_path` into `out_path` (written under a temporary name and renamed on
/// success). `chunk_size` 0 means the default (1 MiB); otherwise a power of two from 64 KiB
/// to 16 MiB.
///
/// # Safety
/// `key` must point to `key_len` bytes; the paths must be NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_seal_file(
    key: *const u8,
    key_len: usize,
    in_path: *const c_char,
    out_path: *const c_char,
    chunk_size: usize,
) -> i32 {
    status(guard(|| {
        // SAFETY: forwarded caller guarantees (see the function's contract).
        let dek = unsafe { dek_from(key, key_len) }?;
        // SAFETY: as above.
        let input = unsafe { path_from(in_path, "in_path") }?;
        // SAFETY: as above.
        let output = unsafe { path_from(out_path, "out_path") }?;
        Sealer::new(&dek, seal_options(chunk_size)?).seal_file(&input, &output)?;
        Ok(0)
    }))
}

/// Unseals `in_path` into `out_path` on all cores. On any failure nothing is left at
/// `out_path`.
///
/// # Safety
/// `key` must point to `key_len` bytes; the paths must be NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_unseal_file(
    key: *const u8,
    key_len: usize,
    in_path: *const c_char,
    out_path: *const c_char,
) -> i32 {
    status(guard(|| {
        // SAFETY: forwarded caller guarantees.
        let dek = unsafe { dek_from(key, key_len) }?;
        // SAFETY: forwarded caller guarantees.
        let input = unsafe { path_from(in_path, "in_path") }?;
        // SAFETY: forwarded caller guarantees.
        let output = unsafe { path_from(out_path, "out_path") }?;
        unseal_file(&dek, &input, &output, &UnsealOptions::default())?;
        Ok(0)
    }))
}

/// A `Write + Seek` sink over a positional-write callback.
struct CallbackSink {
    write_at: unsafe extern "C" fn(*mut c_void, u64, *const u8, usize) -> i32,
    ctx: *mut c_void,
    pos: u64,
}

impl io::Write for CallbackSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the callback and its context come from the caller of coco_seal_stream, who
        // guarantees they accept `len` readable bytes at `buf` for the duration of the call.
        let rc = unsafe { (self.write_at)(self.ctx, self.pos, buf.as_ptr(), buf.len()) };
        if rc < 0 {
            return Err(io::Error::other(format!("write callback returned {rc}")));
        }
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for CallbackSink {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match to {
            io::SeekFrom::Start(p) => self.pos = p,
            io::SeekFrom::Current(d) => {
                self.pos = self
                    .pos
                    .checked_add_signed(d)
                    .ok_or_else(|| io::Error::other("seek out of range"))?
            }
            io::SeekFrom::End(_) => return Err(io::Error::other("seek from end is not supported")),
        }
        Ok(self.pos)
    }
}

/// A `Read` source over a read callback.
struct CallbackSource {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> i64,
    ctx: *mut c_void,
}

impl io::Read for CallbackSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the callback and its context come from the caller of coco_seal_stream, who
        // guarantees they fill at most `len` bytes at `buf`.
        let n = unsafe { (self.read)(self.ctx, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(io::Error::other(format!("read callback returned {n}")));
        }
        Ok((n as usize).min(buf.len()))
    }
}

/// Seals exactly `plaintext_len` bytes pulled from `read` into a sealed stream pushed through
/// `write_at` (positional writes: the tag table is written last, after the data). For engines
/// that own their I/O. `chunk_size` 0 means the default.
///
/// # Safety
/// `key` must point to `key_len` bytes; the callbacks must behave as documented on their
/// types for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_seal_stream(
    key: *const u8,
    key_len: usize,
    plaintext_len: u64,
    chunk_size: usize,
    read: coco_read_fn,
    read_ctx: *mut c_void,
    write_at: coco_write_at_fn,
    write_ctx: *mut c_void,
) -> i32 {
    status(guard(|| {
        // SAFETY: forwarded caller guarantees.
        let dek = unsafe { dek_from(key, key_len) }?;
        let read = read.ok_or_else(|| FfiError::invalid("read callback is NULL"))?;
        let write_at = write_at.ok_or_else(|| FfiError::invalid("write_at callback is NULL"))?;
        let src = CallbackSource {
            read,
            ctx: read_ctx,
        };
        let sink = CallbackSink {
            write_at,
            ctx: write_ctx,
            pos: 0,
        };
        Sealer::new(&dek, seal_options(chunk_size)?).seal(src, plaintext_len, sink)?;
        Ok(0)
    }))
}

/// Returns a JSON description of a sealed file's header (no key needed): the object that
/// `coco inspect --json` prints. Free `*out_json` with `coco_string_free`.
///
/// # Safety
/// `path` must be a NUL-terminated string and `out_json` writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn coco_inspect_json(path: *const c_char, out_json: *mut *mut c_char) -> i32 {
    status(guard(|| {
        // SAFETY: `out_json` is NULL or writable storage for one pointer (caller).
        unsafe { clear_out(out_json, "out_json") }?;
        // SAFETY: forwarded caller guarantees.
        let path = unsafe { path_from(path, "path") }?;
        let i = coco_seal::inspect(&File::open(path)?)?;
        let json = i.to_json().to_string();
        let c = CString::new(json).map_err(|_| FfiError::invalid("NUL in JSON"))?;
        // SAFETY: `out_json` is non-NULL and writable (caller).
        unsafe { *out_json = c.into_raw() };
        Ok(0)
    }))
}
