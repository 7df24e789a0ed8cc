//! The streaming writer.

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
use crate::header::{DEFAULT_CHUNK_LOG2, Header, Metadata};
use crate::key::Dek;
use crate::output::AtomicFile;
use crate::parallel::{Counter, Progress, Workers};

/// Most plaintext held in memory per batch while sealing.
const MAX_BATCH_BYTES: u64 = 64 << 20;
/// Least plaintext per batch (when chunks are small).
const MIN_BATCH_BYTES: u64 = 4 << 20;

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
    /// The batch buffers of the last call that succeeded (they hold ciphertext only), reused
    /// by the next: sealing many files with one sealer allocates (and faults in) its buffers
    /// once.
    spare: Mutex<Vec<Batch>>,
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
    /// Pipelined: while batch k is encrypted (on [`SealOptions::threads`] threads), the calling
    /// thread writes batch k-1 and reads (and hashes) batch k+1. `input` and `out` are only
    /// used on the calling thread.
    pub fn seal<R: Read, W: Write + Seek>(
        &self,
        input: R,
        plaintext_len: u64,
        out: W,
    ) -> Result<SealSummary> {
        self.seal_from(Input::Reader(input), plaintext_len, out)
    }

    /// Seals `plaintext`, already in memory, into `out` (empty and seekable). As
    /// [`Self::seal`] without the copy of the input into the batch: each chunk is encrypted
    /// straight from `plaintext` into the batch written next.
    pub fn seal_slice<W: Write + Seek>(&self, plaintext: &[u8], out: W) -> Result<SealSummary> {
        self.seal_from::<&[u8], W>(Input::Slice(plaintext), plaintext.len() as u64, out)
    }

    fn seal_from<R: Read, W: Write + Seek>(
        &self,
        mut input: Input<'_, R>,
        plaintext_len: u64,
        mut out: W,
    ) -> Result<SealSummary> {
        let salt = match self.opts.salt {
            Some(s) => s,
            None => {
                let mut s = [0u8; 32];
                getrandom::fill(&mut s).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
                s
            }
        };
        let mut header = Header::new(
            self.opts.chunk_log2,
            plaintext_len,
            salt,
            self.dek.key_check(),
            self.opts.key_id.clone(),
            self.opts.metadata.clone(),
        )?;
        let prefix = header.encode_prefix();
        let digest: [u8; 32] = Sha256::digest(&prefix).into();
        let (file_key, commitment) = self.dek.derive_file_keys(&salt, &digest);
        header.commitment = commitment;
        let header_bytes = header.encode();
        let layout = header.layout()?;
        let n = header.n_chunks();
        let chunk = header.chunk_size();

        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header_bytes)?;
        write_zeros(&mut out, layout.data_offset - layout.header_len)?;

        let cipher = ChunkCipher::new(&file_key, n);
        let mut tags = vec![[0u8; TAG]; n as usize];
        let mut hasher = self.opts.hash_plaintext.then(Sha256::new);
        let counter = Counter::new(self.opts.progress.as_ref());
        let threads = crate::parallel::resolve_threads(self.opts.threads);
        // Batches of at least MIN_BATCH_BYTES amortise the hand-off to the pool; at most
        // MAX_BATCH_BYTES bounds memory (two batches are held: one encrypting, one in I/O).
        let batch_chunks = ((threads as u64) * 2)
            .max(MIN_BATCH_BYTES / chunk)
            .clamp(1, (MAX_BATCH_BYTES / chunk).max(1));
        let batch_bytes = batch_chunks * chunk;
        let workers = Workers::new(self.opts.threads)?;
        // In memory: encrypted straight from there (no copy into the batch).
        let slice = match &input {
            Input::Slice(s) => Some(*s),
            Input::Reader(_) => None,
        };
        let encrypt = |b: &mut Batch| {
            let first = b.first;
            let c = chunk as usize;
            // Chunk j of the batch: in place, or from memory straight into the batch.
            let seal_one = |(j, out): (usize, &mut [u8])| {
                let index = first + j as u64;
                match slice {
                    None => cipher.seal(index, out),
                    Some(all) => {
                        let at = (index * chunk) as usize;
                        cipher.seal_from(index, &all[at..at + out.len()], out)
                    }
                }
            };
            let data = &mut b.buf[..b.len];
            b.tags.clear();
            if threads == 1 {
                b.tags.extend(data.chunks_mut(c).enumerate().map(seal_one));
            } else {
                workers.install(|| {
                    data.par_chunks_mut(c)
                        .enumerate()
                        .map(seal_one)
                        .collect_into_vec(&mut b.tags)
                });
            }
        };
        // Reads the next batch (and hashes it) on the calling thread.
        let mut fill = |b: &mut Batch, first: u64| -> Result<u64> {
            let start = first * chunk;
            b.first = first;
            b.len = batch_bytes.min(plaintext_len - start) as usize;
            let plain = match &mut input {
                Input::Reader(r) => {
                    read_exact_or(r, &mut b.buf[..b.len], start, plaintext_len)?;
                    &b.buf[..b.len]
                }
                Input::Slice(s) => &s[start as usize..start as usize + b.len],
            };
            if let Some(h) = hasher.as_mut() {
                h.update(plain);
            }
            Ok(first + (b.len as u64).div_ceil(chunk))
        };
        // Writes an encrypted batch and keeps its tags, on the calling thread.
        let mut drain = |b: &Batch| -> Result<()> {
            out.write_all(&b.buf[..b.len])?;
            let first = b.first as usize;
            tags[first..first + b.tags.len()].copy_from_slice(&b.tags);
            counter.add(b.len as u64);
            Ok(())
        };

        let cap = batch_bytes.min(plaintext_len) as usize;
        if plaintext_len == 0 {
            // One empty chunk, so that the tag table authenticates the empty file.
            tags[0] = cipher.seal(0, &mut []);
        } else if plaintext_len <= batch_bytes {
            let mut only = self.batch(cap);
            fill(&mut only, 0)?;
            encrypt(&mut only);
            drain(&only)?;
            self.keep(vec![only]);
        } else {
            // The pipeline: while one thread encrypts batch k (on the pool when there are
            // several encryption threads), the calling thread writes batch k-1 and reads batch
            // k+1. Input and output are only ever touched by the calling thread, so neither
            // needs to be `Send` (a C caller's callbacks run on the caller's thread).
            let free = std::thread::scope(|scope| -> Result<Vec<Batch>> {
                let (to_encrypt, encrypt_rx) = mpsc::sync_channel::<Batch>(1);
                let (encrypted_tx, encrypted) = mpsc::sync_channel::<Batch>(1);
                let encrypt = &encrypt;
                scope.spawn(move || {
                    for mut b in encrypt_rx {
                        encrypt(&mut b);
                        if encrypted_tx.send(b).is_err() {
                            return;
                        }
                    }
                });
                let lost = || SealError::Io(io::Error::other("the encryption thread stopped"));
                let mut free = vec![self.batch(cap), self.batch(cap)];
                let (mut in_flight, mut next) = (false, 0u64);
                loop {
                    let mut read = None;
                    if next < n
                        && let Some(mut b) = free.pop()
                    {
                        next = fill(&mut b, next)?;
                        read = Some(b);
                    }
                    if !in_flight {
                        let Some(b) = read else { break };
                        to_encrypt.send(b).map_err(|_| lost())?;
                        in_flight = true;
                        continue;
                    }
                    let done = encrypted.recv().map_err(|_| lost())?;
                    in_flight = false;
                    if let Some(b) = read {
                        to_encrypt.send(b).map_err(|_| lost())?;
                        in_flight = true;
                    }
                    drain(&done)?;
                    free.push(done);
                }
                Ok(free)
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

    /// A batch buffer of at least `cap` bytes: a spare one, or a new one.
    fn batch(&self, cap: usize) -> Batch {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        match spare.iter().position(|b| b.buf.len() >= cap) {
            Some(i) => spare.swap_remove(i),
            None => Batch::new(cap),
        }
    }

    /// Keeps the buffers of a call that succeeded (ciphertext only) for the next call.
    fn keep(&self, batches: Vec<Batch>) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        *spare = batches;
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

/// Where the plaintext comes from.
enum Input<'a, R> {
    /// Read into each batch.
    Reader(R),
    /// In memory: encrypted from here into each batch.
    Slice(&'a [u8]),
}

/// One batch of chunks on its way through the pipeline: plaintext after reading, ciphertext
/// after encryption. Zeroed when dropped (it held plaintext).
struct Batch {
    /// Index of its first chunk.
    first: u64,
    buf: Zeroizing<Vec<u8>>,
    /// Bytes of `buf` in use.
    len: usize,
    tags: Vec<[u8; TAG]>,
}

impl Batch {
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
