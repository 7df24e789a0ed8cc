//! Parallel unseal into a caller's buffer or a file (positional writes).

use std::fs::File;
use std::io;
use std::path::Path;

use rayon::prelude::*;
use zeroize::Zeroizing;

use crate::error::{Result, SealError};
use crate::key::Dek;
use crate::output::AtomicFile;
use crate::parallel::{Counter, Progress, Workers};
use crate::reader::{ReadAt, SealedFile};

/// How to unseal.
#[derive(Clone, Default)]
pub struct UnsealOptions {
    /// Decryption threads; `0` means all cores.
    pub threads: usize,
    /// Called with the plaintext bytes done so far.
    pub progress: Option<Progress>,
}

fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let k = std::os::windows::fs::FileExt::seek_write(
                file,
                &buf[done..],
                offset + done as u64,
            )?;
            if k == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += k;
        }
        Ok(())
    }
}

impl<R: ReadAt + Sync> SealedFile<R> {
    /// Decrypts the whole file into `dst` (exactly [`plaintext_len`](Self::plaintext_len)
    /// bytes) on `opts.threads` threads, each chunk straight into its place. On failure `dst`
    /// is zeroed: no partial plaintext survives.
    pub fn unseal_into(&self, dst: &mut [u8], opts: &UnsealOptions) -> Result<()> {
        if dst.len() as u64 != self.plaintext_len() {
            return Err(SealError::InvalidArgument(format!(
                "destination is {} bytes, the plaintext is {}",
                dst.len(),
                self.plaintext_len()
            )));
        }
        let chunk = self.header().chunk_size() as usize;
        let counter = Counter::new(opts.progress.as_ref());
        let r = Workers::new(opts.threads)?.install(|| {
            dst.par_chunks_mut(chunk)
                .enumerate()
                .try_for_each(|(i, c)| {
                    self.decrypt_chunk(i as u64, c)?;
                    counter.add(c.len() as u64);
                    Ok(())
                })
        });
        if r.is_err() {
            dst.fill(0);
        }
        r
    }

    /// Reads `dst.len()` plaintext bytes at `offset` on `opts.threads` threads: the range is
    /// split at chunk boundaries and whole chunks decrypt straight into `dst`. Returns the bytes
    /// read (fewer only at the end of the file). On failure `dst` is zeroed.
    ///
    /// This is how a loader fills one tensor (or all of a shard's tensor data) in one call.
    pub fn read_at_parallel(
        &self,
        offset: u64,
        dst: &mut [u8],
        opts: &UnsealOptions,
    ) -> Result<usize> {
        let len = self.plaintext_len();
        if offset >= len || dst.is_empty() {
            return Ok(0);
        }
        let n = (dst.len() as u64).min(len - offset) as usize;
        let dst = &mut dst[..n];
        let chunk = self.header().chunk_size();
        // Split into a head up to the first chunk boundary, then chunk-sized pieces.
        let head = ((chunk - offset % chunk) % chunk).min(n as u64) as usize;
        let (first, rest) = dst.split_at_mut(head);
        let counter = Counter::new(opts.progress.as_ref());
        let body_start = offset + head as u64;
        let r = Workers::new(opts.threads)?.install(|| {
            let head_job = || -> Result<()> {
                if !first.is_empty() {
                    self.read_at(offset, first)?;
                    counter.add(first.len() as u64);
                }
                Ok(())
            };
            let body_job = || -> Result<()> {
                rest.par_chunks_mut(chunk as usize)
                    .enumerate()
                    .try_for_each(|(i, piece)| {
                        self.read_at(body_start + i as u64 * chunk, piece)?;
                        counter.add(piece.len() as u64);
                        Ok(())
                    })
            };
            let (a, b) = rayon::join(head_job, body_job);
            a.and(b)
        });
        if let Err(e) = r {
            dst.fill(0);
            return Err(e);
        }
        Ok(n)
    }

    /// Decrypts every chunk on `opts.threads` threads and hands each verified chunk to
    /// `sink(offset, plaintext)`, from several threads at once, holding at most one chunk per
    /// thread in memory. Only verified plaintext ever reaches `sink`; on failure whatever the
    /// sink received must be discarded.
    pub fn unseal_each(
        &self,
        opts: &UnsealOptions,
        sink: impl Fn(u64, &[u8]) -> Result<()> + Sync,
    ) -> Result<()> {
        let chunk = self.header().chunk_size();
        let counter = Counter::new(opts.progress.as_ref());
        Workers::new(opts.threads)?.install(|| {
            (0..self.header().n_chunks())
                .into_par_iter()
                .try_for_each_init(
                    || Zeroizing::new(vec![0u8; chunk as usize]),
                    |buf, i| {
                        let part = &mut buf[..self.chunk_len(i)];
                        self.decrypt_chunk(i, part)?;
                        sink(i * chunk, part)?;
                        counter.add(part.len() as u64);
                        Ok(())
                    },
                )
        })
    }

    /// Decrypts the whole file into `out` with positional writes on `opts.threads` threads,
    /// holding at most one chunk per thread in memory. `out` is resized to the plaintext
    /// length. On failure the caller must discard `out` (see [`unseal_file`]).
    pub fn unseal_to_file(&self, out: &File, opts: &UnsealOptions) -> Result<()> {
        out.set_len(self.plaintext_len())?;
        self.unseal_each(opts, |offset, part| Ok(write_all_at(out, part, offset)?))
    }
}

/// Unseals the file at `input` into `output`. The output appears only if every chunk
/// verified; on any failure nothing is left at `output`.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use coco_seal::{Dek, SealOptions, Sealer, UnsealOptions, unseal_file};
/// let dek = Dek::generate().unwrap();
/// let (plain, sealed, back) = (dir.path().join("p"), dir.path().join("s"), dir.path().join("b"));
/// std::fs::write(&plain, b"tensor bytes").unwrap();
/// Sealer::new(&dek, SealOptions::default()).seal_file(&plain, &sealed).unwrap();
/// unseal_file(&dek, &sealed, &back, &UnsealOptions::default()).unwrap();
/// assert_eq!(std::fs::read(&back).unwrap(), b"tensor bytes");
/// ```
pub fn unseal_file(dek: &Dek, input: &Path, output: &Path, opts: &UnsealOptions) -> Result<()> {
    let sealed = SealedFile::open_path(input, dek)?;
    let mut out = AtomicFile::create(output)?;
    sealed.unseal_to_file(out.file(), opts)?;
    out.commit()
}
