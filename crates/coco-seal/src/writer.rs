//! The writer: streaming ([`Sealer::seal`], [`Sealer::seal_slice`]) and into memory
//! ([`Sealer::seal_into`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Mutex, mpsc};

use coco_core::Sha256Digest;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::chunk::{ChunkCipher, TAG};
use crate::error::{Result, SealError};
use crate::header::{DEFAULT_CHUNK_LOG2, Header, Layout, Metadata};
use crate::key::Dek;
use crate::output::AtomicFile;
use crate::parallel::{Counter, Progress, Workers};

/// Least plaintext a worker encrypts at a time (when chunks are small).
const UNIT_BYTES: u64 = 1 << 20;
/// Most plaintext held in memory by the sealing pipeline (unless three chunks are larger).
const PIPELINE_BYTES: u64 = 256 << 20;

/// How to seal a file.
#[derive(Clone)]
pub struct SealOptions {
    /// `log2` of the chunk size, 16..=24 (default 20: 1 MiB).
    pub chunk_log2: u8,
    /// The key id written to the header (e.g. the key-release resource name); may be empty.
    pub key_id: String,
    /// Metadata written (and authenticated) in the header.
    pub metadata: Metadata,
    /// Encryption threads; `0` means all cores.
    pub threads: usize,
    /// Also compute the plaintext's SHA-256 in the same pass (for the manifest).
    pub hash_plaintext: bool,
    /// A fixed salt. Leave `None` (a fresh random salt per file): a fixed salt exists only
    /// for known-answer vectors.
    pub salt: Option<[u8; 32]>,
    /// Called with the plaintext bytes sealed so far.
    pub progress: Option<Progress>,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            chunk_log2: DEFAULT_CHUNK_LOG2,
            key_id: String::new(),
            metadata: Metadata::default(),
            threads: 0,
            hash_plaintext: false,
            salt: None,
            progress: None,
        }
    }
}

impl SealOptions {
    /// Sets the chunk size in bytes (a power of two from 64 KiB to 16 MiB).
    pub fn with_chunk_size(mut self, bytes: u64) -> Result<Self> {
        if !bytes.is_power_of_two() {
            return Err(SealError::InvalidArgument(format!(
                "chunk size {bytes} is not a power of two"
            )));
        }
        self.chunk_log2 = bytes.trailing_zeros() as u8;
        Ok(self)
    }
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct SealSummary {
    /// The header as written (commitment included).
    pub header: Header,
    /// SHA-256 of the header bytes `[0, H)`: what the manifest pins.
    pub header_sha256: Sha256Digest,
    /// SHA-256 of the plaintext, when [`SealOptions::hash_plaintext`] was set.
    pub plaintext_sha256: Option<Sha256Digest>,
    /// Size of the sealed file in bytes.
    pub sealed_len: u64,
}

/// The streaming writer: one pass over the plaintext into a seekable sink.
///
/// The header authenticates the plaintext length, so the length is given up front (for a
/// file, its size). The tag table is reserved after the header and written at the end.
///
/// ```
/// use coco_seal::{Dek, SealOptions, SealedFile, Sealer};
/// let dek = Dek::generate().unwrap();
/// let plaintext = b"weights".repeat(1000);
/// let mut sealed = std::io::Cursor::new(Vec::new());
/// Sealer::new(&dek, SealOptions::default())
///     .seal(&plaintext[..], plaintext.len() as u64, &mut sealed)
///     .unwrap();
/// let file = SealedFile::open(sealed.into_inner(), &dek).unwrap();
/// let mut buf = [0u8; 7];
/// file.read_at(7 * 500, &mut buf).unwrap();
/// assert_eq!(&buf, b"weights");
/// ```
pub struct Sealer<'k> {
    dek: &'k Dek,
    opts: SealOptions,
    /// The unit buffers of the last call that succeeded (they hold ciphertext only), reused
    /// by the next: sealing many files with one sealer allocates (and faults in) its buffers
    /// once.
    spare: Mutex<Vec<Unit>>,
}

impl<'k> Sealer<'k> {
    /// A sealer for one DEK.
    pub fn new(dek: &'k Dek, opts: SealOptions) -> Self {
        Self {
            dek,
            opts,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &SealOptions {
        &self.opts
    }

    /// Seals exactly `plaintext_len` bytes from `input` into `out`, which must be empty and
    /// seekable. Fails if `input` holds fewer or more bytes.
    ///
    /// Pipelined: the calling thread reads the input in units of at least 1 MiB and hands each
    /// to one of [`SealOptions::threads`] workers as soon as it is read (with
    /// [`SealOptions::hash_plaintext`], through a thread that hashes the units in order first);
    /// while the workers encrypt, it writes the units they finished, in order. `input` and
    /// `out` are only used on the calling thread.
    pub fn seal<R: Read, W: Write + Seek>(
        &self,
        input: R,
        plaintext_len: u64,
        out: W,
    ) -> Result<SealSummary> {
        self.seal_from(Input::Reader(input), plaintext_len, out)
    }

    /// Seals `plaintext`, already in memory, into `out` (empty and seekable). As
    /// [`Self::seal`] without the copy of the input into a unit: each chunk is encrypted
    /// straight from `plaintext` into the unit written next. To seal into memory without the
    /// copy into `out` either, see [`Self::seal_into`].
    pub fn seal_slice<W: Write + Seek>(&self, plaintext: &[u8], out: W) -> Result<SealSummary> {
        self.seal_from::<&[u8], W>(Input::Slice(plaintext), plaintext.len() as u64, out)
    }

    fn seal_from<R: Read, W: Write + Seek>(
        &self,
        mut input: Input<'_, R>,
        plaintext_len: u64,
        mut out: W,
    ) -> Result<SealSummary> {
        let Start {
            header,
            header_bytes,
            layout,
            cipher,
        } = self.start(plaintext_len)?;
        let n = header.n_chunks();
        let chunk = header.chunk_size();

        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header_bytes)?;
        write_zeros(&mut out, layout.data_offset - layout.header_len)?;

        let mut tags = vec![[0u8; TAG]; n as usize];
        let mut hasher = self.opts.hash_plaintext.then(Sha256::new);
        let counter = Counter::new(self.opts.progress.as_ref());
        let threads = crate::parallel::resolve_threads(self.opts.threads);
        // A unit is what one worker encrypts at a time: whole chunks, at least UNIT_BYTES to
        // amortise the hand-off. `depth` units are held at once: one encrypting per thread
        // and as many again read ahead or waiting to be written, at most PIPELINE_BYTES.
        let unit_chunks = (UNIT_BYTES / chunk).max(1);
        let unit_bytes = unit_chunks * chunk;
        let depth = (2 * threads + 2).clamp(3, (PIPELINE_BYTES / unit_bytes).max(3) as usize);
        let workers = Workers::new(self.opts.threads)?;
        // In memory: encrypted straight from there (no copy into the unit).
        let slice = match &input {
            Input::Slice(s) => Some(*s),
            Input::Reader(_) => None,
        };
        // Encrypts a unit chunk by chunk: in place, or from memory straight into the unit.
        let encrypt = |b: &mut Unit| {
            b.tags.clear();
            for (j, out) in b.buf[..b.len].chunks_mut(chunk as usize).enumerate() {
                let index = b.first + j as u64;
                b.tags.push(match slice {
                    None => cipher.seal(index, out),
                    Some(all) => {
                        let at = (index * chunk) as usize;
                        cipher.seal_from(index, &all[at..at + out.len()], out)
                    }
                });
            }
        };
        // Reads the next unit on the calling thread (from memory there is nothing to read).
        let mut fill = |b: &mut Unit, first: u64| -> Result<u64> {
            let start = first * chunk;
            b.first = first;
            b.len = unit_bytes.min(plaintext_len - start) as usize;
            if let Input::Reader(r) = &mut input {
                read_exact_or(r, &mut b.buf[..b.len], start, plaintext_len)?;
            }
            Ok(first + (b.len as u64).div_ceil(chunk))
        };

        // Writes an encrypted unit and keeps its tags, on the calling thread.
        let mut drain = |b: &Unit| -> Result<()> {
            out.write_all(&b.buf[..b.len])?;
            let first = b.first as usize;
            tags[first..first + b.tags.len()].copy_from_slice(&b.tags);
            counter.add(b.len as u64);
            Ok(())
        };

        let cap = unit_bytes.min(plaintext_len) as usize;
        if plaintext_len == 0 {
            // One empty chunk, so that the tag table authenticates the empty file.
            tags[0] = cipher.seal(0, &mut []);
        } else if plaintext_len <= unit_bytes {
            let mut only = self.unit(cap);
            fill(&mut only, 0)?;
            if let Some(h) = hasher.as_mut() {
                h.update(only.plaintext(slice, chunk));
            }
            encrypt(&mut only);
            drain(&only)?;
            self.keep(vec![only]);
        } else {
            // The pipeline: the calling thread reads units in order and hands each to a
            // worker as soon as it is read (with a digest, through a thread of its own that
            // hashes the units in order first, so that the calling thread only reads and
            // writes); workers encrypt units independently (no barrier between them: a worker
            // that finishes takes the next unit read); the calling thread writes finished
            // units in order. Input and output are only ever touched by the calling thread, so
            // neither needs to be `Send` (a C caller's callbacks run on the caller's thread).
            let encrypt = &encrypt;
            let lost = || SealError::Io(io::Error::other("an encryption worker stopped"));
            let free = workers.in_place_scope(|scope| -> Result<Vec<Unit>> {
                let (done_tx, done) = mpsc::channel::<Option<Unit>>();
                // Hands a read (and hashed) unit to a worker.
                let start = |mut b: Unit| {
                    let done_tx = done_tx.clone();
                    scope.spawn(move |_| {
                        // A worker that panicked sends nothing usable: the calling thread
                        // stops with an error instead of waiting for it forever.
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            encrypt(&mut b);
                            b
                        }));
                        let _ = done_tx.send(r.ok());
                    });
                };
                std::thread::scope(|threads| -> Result<Vec<Unit>> {
                    let (to_hash, hashing) = match hasher.take() {
                        Some(mut h) => {
                            let (tx, rx) = mpsc::channel::<Unit>();
                            let start = &start;
                            let handle = threads.spawn(move || {
                                for b in rx {
                                    h.update(b.plaintext(slice, chunk));
                                    start(b);
                                }
                                h
                            });
                            (Some(tx), Some(handle))
                        }
                        None => (None, None),
                    };
                    let mut free: Vec<Unit> = (0..depth).map(|_| self.unit(cap)).collect();
                    // Finished units waiting for the ones before them, by their place in the
                    // file's sequence of units (`first / unit_chunks`) modulo `depth`.
                    let mut ready: Vec<Option<Unit>> = (0..depth).map(|_| None).collect();
                    let slot = |unit: u64| (unit % depth as u64) as usize;
                    let (mut next, mut read, mut written) = (0u64, 0u64, 0u64);
                    while written < read || next < n {
                        while next < n
                            && let Some(mut b) = free.pop()
                        {
                            read += 1;
                            next = fill(&mut b, next)?;
                            match &to_hash {
                                Some(tx) => tx.send(b).map_err(|_| lost())?,
                                None => start(b),
                            }
                        }
                        let b = done.recv().map_err(|_| lost())?.ok_or_else(lost)?;
                        let at = slot(b.first / unit_chunks);
                        ready[at] = Some(b);
                        while let Some(b) = ready[slot(written)].take() {
                            drain(&b)?;
                            free.push(b);
                            written += 1;
                        }
                    }
                    drop(to_hash);
                    if let Some(handle) = hashing {
                        hasher = Some(handle.join().map_err(|_| lost())?);
                    }
                    Ok(free)
                })
            })?;
            self.keep(free);
        }
        let mut probe = [0u8; 1];
        if let Input::Reader(r) = &mut input
            && read_some(r, &mut probe)? != 0
        {
            return Err(SealError::InvalidArgument(format!(
                "input is longer than the declared {plaintext_len} bytes"
            )));
        }
        out.seek(SeekFrom::Start(layout.tag_table_offset))?;
        out.write_all(tags.as_flattened())?;
        out.seek(SeekFrom::Start(layout.file_len))?;
        out.flush()?;
        Ok(SealSummary {
            header,
            header_sha256: Sha256Digest::of(&header_bytes),
            plaintext_sha256: hasher.map(|h| Sha256Digest(h.finalize().into())),
            sealed_len: layout.file_len,
        })
    }

    /// The length of the sealed file for `plaintext_len` bytes of plaintext with these
    /// options: how large the output of [`Self::seal_into`] must be.
    pub fn sealed_len(&self, plaintext_len: u64) -> Result<u64> {
        Ok(self.header(plaintext_len, [0; 32])?.layout()?.file_len)
    }

    /// Seals `plaintext` into `out`, which must be exactly [`Self::sealed_len`] bytes long:
    /// the whole sealed file, in memory. Each chunk is encrypted from `plaintext` straight to
    /// its place in `out` on [`SealOptions::threads`] threads, nothing is copied: the speed of
    /// the bare primitive. On error `out` holds no plaintext.
    ///
    /// ```
    /// use coco_seal::{Dek, SealOptions, SealedFile, Sealer};
    /// let dek = Dek::generate().unwrap();
    /// let weights = b"weights".repeat(1000);
    /// let sealer = Sealer::new(&dek, SealOptions::default());
    /// let mut sealed = vec![0u8; sealer.sealed_len(weights.len() as u64).unwrap() as usize];
    /// sealer.seal_into(&weights, &mut sealed).unwrap();
    /// let file = SealedFile::open(sealed, &dek).unwrap();
    /// assert_eq!(file.plaintext_len(), weights.len() as u64);
    /// ```
    pub fn seal_into(&self, plaintext: &[u8], out: &mut [u8]) -> Result<SealSummary> {
        let Start {
            header,
            header_bytes,
            layout,
            cipher,
        } = self.start(plaintext.len() as u64)?;
        if out.len() as u64 != layout.file_len {
            return Err(SealError::InvalidArgument(format!(
                "the output is {} bytes, the sealed file of {} plaintext bytes is {}",
                out.len(),
                plaintext.len(),
                layout.file_len
            )));
        }
        let (head, data) = out.split_at_mut(layout.data_offset as usize);
        let (header_out, rest) = head.split_at_mut(layout.header_len as usize);
        header_out.copy_from_slice(&header_bytes);
        rest.fill(0);
        let chunk = header.chunk_size() as usize;
        let counter = Counter::new(self.opts.progress.as_ref());
        let seal_one = |(i, (plain, sealed)): (usize, (&[u8], &mut [u8]))| {
            let tag = cipher.seal_from(i as u64, plain, sealed);
            counter.add(plain.len() as u64);
            tag
        };
        let mut tags: Vec<[u8; TAG]> = Vec::with_capacity(header.n_chunks() as usize);
        let threads = crate::parallel::resolve_threads(self.opts.threads);
        let workers = Workers::new(self.opts.threads)?;
        let hash = self.opts.hash_plaintext;
        std::thread::scope(|scope| {
            // The plaintext digest on a thread of its own, while the workers encrypt.
            let digest =
                hash.then(|| scope.spawn(|| Sha256Digest(Sha256::digest(plaintext).into())));
            if plaintext.is_empty() {
                // One empty chunk, so that the tag table authenticates the empty file.
                tags.push(cipher.seal(0, &mut []));
            } else if threads == 1 {
                tags.extend(
                    plaintext
                        .chunks(chunk)
                        .zip(data.chunks_mut(chunk))
                        .enumerate()
                        .map(seal_one),
                );
            } else {
                workers.install(|| {
                    plaintext
                        .par_chunks(chunk)
                        .zip(data.par_chunks_mut(chunk))
                        .enumerate()
                        .map(seal_one)
                        .collect_into_vec(&mut tags)
                });
            }
            let plaintext_sha256 =
                digest.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            // The tag table starts right after the header.
            rest[..tags.len() * TAG].copy_from_slice(tags.as_flattened());
            Ok(SealSummary {
                header_sha256: Sha256Digest::of(&header_bytes),
                header,
                plaintext_sha256,
                sealed_len: layout.file_len,
            })
        })
    }

    /// A header for `plaintext_len` bytes under `salt` with these options (no commitment).
    fn header(&self, plaintext_len: u64, salt: [u8; 32]) -> Result<Header> {
        Header::new(
            self.opts.chunk_log2,
            plaintext_len,
            salt,
            self.dek.key_check(),
            self.opts.key_id.clone(),
            self.opts.metadata.clone(),
        )
    }

    /// What every way of sealing begins with: a fresh salt (or the fixed one), the header
    /// with its commitment, and the file's chunk cipher.
    fn start(&self, plaintext_len: u64) -> Result<Start> {
        let salt = match self.opts.salt {
            Some(s) => s,
            None => {
                let mut s = [0u8; 32];
                getrandom::fill(&mut s).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
                s
            }
        };
        let mut header = self.header(plaintext_len, salt)?;
        let digest: [u8; 32] = Sha256::digest(header.encode_prefix()).into();
        let (file_key, commitment) = self.dek.derive_file_keys(&salt, &digest);
        header.commitment = commitment;
        let header_bytes = header.encode();
        let layout = header.layout()?;
        let cipher = ChunkCipher::new(&file_key, header.n_chunks());
        Ok(Start {
            header,
            header_bytes,
            layout,
            cipher,
        })
    }

    /// A unit buffer of at least `cap` bytes: a spare one, or a new one.
    fn unit(&self, cap: usize) -> Unit {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        match spare.iter().position(|b| b.buf.len() >= cap) {
            Some(i) => spare.swap_remove(i),
            None => Unit::new(cap),
        }
    }

    /// Keeps the buffers of a call that succeeded (ciphertext only) for the next call.
    fn keep(&self, units: Vec<Unit>) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        *spare = units;
    }

    /// Seals the file at `input` into `output`. The output appears only when sealing
    /// succeeded (it is written under a temporary name in the same directory and renamed).
    pub fn seal_file(&self, input: &Path, output: &Path) -> Result<SealSummary> {
        let src = File::open(input).map_err(|e| SealError::file(input, e))?;
        let len = src.metadata().map_err(|e| SealError::file(input, e))?.len();
        let mut out = AtomicFile::create(output)?;
        let summary = self.seal(io::BufReader::with_capacity(1 << 20, src), len, out.file())?;
        out.commit()?;
        Ok(summary)
    }
}

/// A sealed file's header, its layout and its chunk cipher.
struct Start {
    header: Header,
    header_bytes: Vec<u8>,
    layout: Layout,
    cipher: ChunkCipher,
}

/// Where the plaintext comes from.
enum Input<'a, R> {
    /// Read into each unit.
    Reader(R),
    /// In memory: encrypted from here into each unit.
    Slice(&'a [u8]),
}

/// One unit of chunks on its way through the pipeline: plaintext after reading, ciphertext
/// after encryption. Zeroed when dropped (it held plaintext).
struct Unit {
    /// Index of its first chunk.
    first: u64,
    buf: Zeroizing<Vec<u8>>,
    /// Bytes of `buf` in use.
    len: usize,
    tags: Vec<[u8; TAG]>,
}

impl Unit {
    /// Its plaintext until it is encrypted: in the unit, or in `slice` when sealing from
    /// memory.
    fn plaintext<'a>(&'a self, slice: Option<&'a [u8]>, chunk: u64) -> &'a [u8] {
        match slice {
            Some(all) => {
                let at = (self.first * chunk) as usize;
                &all[at..at + self.len]
            }
            None => &self.buf[..self.len],
        }
    }

    fn new(cap: usize) -> Self {
        Self {
            first: 0,
            buf: Zeroizing::new(vec![0u8; cap]),
            len: 0,
            tags: Vec::new(),
        }
    }
}

fn write_zeros<W: Write>(out: &mut W, mut n: u64) -> io::Result<()> {
    let zeros = [0u8; 4096];
    while n > 0 {
        let k = n.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..k])?;
        n -= k as u64;
    }
    Ok(())
}

fn read_some<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

fn read_exact_or<R: Read>(input: &mut R, buf: &mut [u8], at: u64, declared: u64) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let k = read_some(input, &mut buf[filled..])?;
        if k == 0 {
            return Err(SealError::InvalidArgument(format!(
                "input ended after {} bytes, {declared} were declared",
                at + filled as u64
            )));
        }
        filled += k;
    }
    Ok(())
}
