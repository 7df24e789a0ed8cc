//! The random-access reader.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};

use coco_core::Sha256Digest;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::chunk::{ChunkCipher, TAG};
use crate::error::{Result, SealError};
use crate::header::{FIXED_LEN, Header, Layout};
use crate::key::{Dek, ct_eq};

/// Positional reads from a source of known size. Implemented for files and byte buffers;
/// `&self` so that one source serves several threads.
pub trait ReadAt {
    /// Fills `buf` from `offset`; fails with `UnexpectedEof` if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// The source's size in bytes.
    fn size(&self) -> io::Result<u64>;
    /// The whole source as one slice, when it is in memory: readers then decrypt straight
    /// from it into the destination, with no intermediate copy.
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                let k = std::os::windows::fs::FileExt::seek_read(
                    self,
                    &mut buf[done..],
                    offset + done as u64,
                )?;
                if k == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                done += k;
            }
            Ok(())
        }
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn as_slice(&self) -> Option<&[u8]> {
        (**self).as_slice()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn as_slice(&self) -> Option<&[u8]> {
        (**self).as_slice()
    }
}

fn read_at_checked<R: ReadAt + ?Sized>(src: &R, buf: &mut [u8], offset: u64) -> Result<()> {
    src.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            // The size was checked on open: the file shrank underneath us.
            SealError::Truncated {
                expected: offset + buf.len() as u64,
                found: src.size().unwrap_or(0),
            }
        } else {
            SealError::Io(e)
        }
    })
}

/// What `inspect` learns without a key: the header and the layout (structure and size
/// checked, nothing authenticated).
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The parsed header.
    pub header: Header,
    /// Region offsets.
    pub layout: Layout,
    /// SHA-256 of the header bytes `[0, H)`.
    pub header_sha256: Sha256Digest,
}

impl Inspection {
    /// The JSON object of `coco inspect --json` (and `coco_inspect_json` in C): `format`,
    /// `version`, `suite`, `chunk_size`, `plaintext_len`, `n_chunks`, `header_len`,
    /// `tag_table_offset`, `data_offset`, `key_id`, `key_check`, `header_sha256`, `metadata`.
    pub fn to_json(&self) -> serde_json::Value {
        let h = &self.header;
        serde_json::json!({
            "format": "coco-seal",
            "version": h.version(),
            "suite": h.suite().name(),
            "chunk_size": h.chunk_size(),
            "plaintext_len": h.plaintext_len(),
            "n_chunks": h.n_chunks(),
            "header_len": self.layout.header_len,
            "tag_table_offset": self.layout.tag_table_offset,
            "data_offset": self.layout.data_offset,
            "key_id": h.key_id(),
            "key_check": hex::encode(h.key_check()),
            "header_sha256": self.header_sha256.to_string(),
            "metadata": h.metadata(),
        })
    }
}

/// Parses and bounds-checks a sealed file's header and size without a key.
pub fn inspect<R: ReadAt + ?Sized>(src: &R) -> Result<Inspection> {
    let (header, bytes, layout) = read_header(src)?;
    Ok(Inspection {
        header,
        layout,
        header_sha256: Sha256Digest::of(&bytes),
    })
}

fn read_header<R: ReadAt + ?Sized>(src: &R) -> Result<(Header, Vec<u8>, Layout)> {
    let size = src.size()?;
    let mut fixed = vec![0u8; size.min(FIXED_LEN as u64) as usize];
    read_at_checked(src, &mut fixed, 0)?;
    let header_len = Header::header_len_from_fixed(&fixed)?;
    if size < header_len {
        return Err(SealError::Truncated {
            expected: header_len,
            found: size,
        });
    }
    let mut bytes = vec![0u8; header_len as usize];
    read_at_checked(src, &mut bytes, 0)?;
    let header = Header::parse(&bytes)?;
    let layout = header.layout()?;
    if size < layout.file_len {
        return Err(SealError::Truncated {
            expected: layout.file_len,
            found: size,
        });
    }
    if size > layout.file_len {
        return Err(SealError::Extended {
            expected: layout.file_len,
            found: size,
        });
    }
    Ok((header, bytes, layout))
}

struct CachedChunk {
    index: u64,
    plaintext: Zeroizing<Vec<u8>>,
}

/// An opened, authenticated sealed file with random access to its plaintext.
///
/// `open` checks every header bound, the version, suite, flags, chunk count and exact file
/// size, the key check and the commitment, and verifies the final chunk. Reads decrypt only
/// the chunks they touch and never hand out plaintext of a chunk whose tag did not verify.
/// `SealedFile` is `Sync`: concurrent [`read_at`](Self::read_at) calls from several threads
/// are safe.
pub struct SealedFile<R = File> {
    src: R,
    header: Header,
    header_sha256: Sha256Digest,
    layout: Layout,
    pub(crate) cipher: ChunkCipher,
    tags: Vec<[u8; TAG]>,
    cache: Mutex<Option<CachedChunk>>,
}

impl<R> std::fmt::Debug for SealedFile<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedFile")
            .field("header", &self.header)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl SealedFile<File> {
    /// Opens a sealed file on disk.
    pub fn open_path(path: &Path, dek: &Dek) -> Result<Self> {
        Self::open(File::open(path).map_err(|e| SealError::file(path, e))?, dek)
    }
}

impl<R: ReadAt> SealedFile<R> {
    /// Opens and authenticates a sealed file (see the type's documentation for the checks).
    pub fn open(src: R, dek: &Dek) -> Result<Self> {
        let (header, bytes, layout) = read_header(&src)?;
        if !ct_eq(&dek.key_check(), header.key_check()) {
            return Err(SealError::WrongKey);
        }
        let prefix = &bytes[..bytes.len() - 32];
        let digest: [u8; 32] = Sha256::digest(prefix).into();
        let (file_key, commitment) = dek.derive_file_keys(header.salt(), &digest);
        if !ct_eq(&commitment, header.commitment()) {
            return Err(SealError::Tampered { chunk: None });
        }
        let mut table = vec![0u8; (layout.data_offset - layout.tag_table_offset) as usize];
        read_at_checked(&src, &mut table, layout.tag_table_offset)?;
        let tags_len = (header.n_chunks() * TAG as u64) as usize;
        if let Some(pos) = table[tags_len..].iter().position(|&b| b != 0) {
            return Err(SealError::malformed(
                "gap",
                layout.tag_table_offset + (tags_len + pos) as u64,
                "the bytes between the tag table and the data must be zero",
            ));
        }
        let tags = table[..tags_len]
            .chunks_exact(TAG)
            .map(|t| t.try_into().expect("16 bytes"))
            .collect();
        let file = SealedFile {
            cipher: ChunkCipher::new(&file_key, header.n_chunks()),
            src,
            header_sha256: Sha256Digest::of(&bytes),
            header,
            layout,
            tags,
            cache: Mutex::new(None),
        };
        // Verify the final chunk now (truncation and extension are caught before any read),
        // and keep its plaintext as the first cache entry.
        let last = file.header.n_chunks() - 1;
        let mut plaintext = Zeroizing::new(vec![0u8; file.chunk_len(last)]);
        file.decrypt_chunk(last, &mut plaintext)?;
        *file.lock_cache() = Some(CachedChunk {
            index: last,
            plaintext,
        });
        Ok(file)
    }

    /// The (now authenticated) header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// Region offsets.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// SHA-256 of the header bytes `[0, H)`, as the manifest records it.
    pub fn header_sha256(&self) -> &Sha256Digest {
        &self.header_sha256
    }
    /// Plaintext length in bytes.
    pub fn plaintext_len(&self) -> u64 {
        self.header.plaintext_len()
    }
    /// The underlying source.
    pub fn get_ref(&self) -> &R {
        &self.src
    }

    /// Length of chunk `index` (the last one may be short; 0 for an empty file).
    pub fn chunk_len(&self, index: u64) -> usize {
        let c = self.header.chunk_size();
        (self.plaintext_len() - index * c).min(c) as usize
    }

    /// Reads chunk `index`'s ciphertext into `buf` (exactly the chunk's length) and decrypts
    /// it in place. On failure `buf` is zeroed.
    pub fn decrypt_chunk(&self, index: u64, buf: &mut [u8]) -> Result<()> {
        if index >= self.header.n_chunks() || buf.len() != self.chunk_len(index) {
            return Err(SealError::InvalidArgument(format!(
                "chunk {index} with a {}-byte buffer (the file has {} chunks)",
                buf.len(),
                self.header.n_chunks()
            )));
        }
        let offset = self.layout.data_offset + index * self.header.chunk_size();
        let tag = &self.tags[index as usize];
        if let Some(all) = self.src.as_slice() {
            let ciphertext = usize::try_from(offset)
                .ok()
                .and_then(|o| all.get(o..o.checked_add(buf.len())?))
                .ok_or(SealError::Truncated {
                    expected: offset + buf.len() as u64,
                    found: all.len() as u64,
                })?;
            return self.cipher.open_from(index, ciphertext, buf, tag);
        }
        if let Err(e) = read_at_checked(&self.src, buf, offset) {
            buf.fill(0);
            return Err(e);
        }
        self.cipher.open(index, buf, tag)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<CachedChunk>> {
        // A panic while holding the lock cannot leave a half-written entry visible: entries
        // are replaced whole. So a poisoned lock is still safe to use.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies `dst.len()` bytes of chunk `index` starting at `within` through the one-chunk
    /// cache.
    fn read_via_cache(&self, index: u64, within: usize, dst: &mut [u8]) -> Result<()> {
        {
            let cache = self.lock_cache();
            if let Some(c) = cache.as_ref().filter(|c| c.index == index) {
                dst.copy_from_slice(&c.plaintext[within..within + dst.len()]);
                return Ok(());
            }
        }
        let mut plaintext = Zeroizing::new(vec![0u8; self.chunk_len(index)]);
        self.decrypt_chunk(index, &mut plaintext)?;
        dst.copy_from_slice(&plaintext[within..within + dst.len()]);
        *self.lock_cache() = Some(CachedChunk { index, plaintext });
        Ok(())
    }

    /// Reads plaintext at `offset` into `buf`; returns the bytes read (fewer than `buf.len()`
    /// only at the end, 0 at or past the end). Decrypts only the chunks the range touches:
    /// whole chunks straight into `buf`, partial ones through a one-chunk cache.
    ///
    /// On error nothing in `buf` is to be used (it is zeroed).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let len = self.plaintext_len();
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(len - offset) as usize;
        let out = &mut buf[..n];
        let chunk = self.header.chunk_size();
        let end = offset + n as u64;
        let mut pos = offset;
        while pos < end {
            let index = pos / chunk;
            let chunk_start = index * chunk;
            let chunk_end = chunk_start + self.chunk_len(index) as u64;
            let stop = end.min(chunk_end);
            let dst = &mut out[(pos - offset) as usize..(stop - offset) as usize];
            let r = if pos == chunk_start && stop == chunk_end {
                self.decrypt_chunk(index, dst)
            } else {
                self.read_via_cache(index, (pos - chunk_start) as usize, dst)
            };
            if let Err(e) = r {
                out.fill(0);
                return Err(e);
            }
            pos = stop;
        }
        Ok(n)
    }

    /// A `Read + Seek` view of the plaintext starting at offset 0.
    pub fn reader(&self) -> SealedReader<&Self> {
        SealedReader::new(self)
    }
}

/// A `Read + Seek` adapter over a [`SealedFile`] (borrowed, in an `Arc`, or any pointer to
/// one). Seeking from the end is safe: the final chunk was verified on open.
pub struct SealedReader<F> {
    file: F,
    pos: u64,
}

impl<F> SealedReader<F> {
    /// A reader positioned at offset 0.
    pub fn new(file: F) -> Self {
        Self { file, pos: 0 }
    }
    /// The current position.
    pub fn position(&self) -> u64 {
        self.pos
    }
    /// The wrapped file.
    pub fn get_ref(&self) -> &F {
        &self.file
    }
}

impl<F, R> Read for SealedReader<F>
where
    F: Deref<Target = SealedFile<R>>,
    R: ReadAt,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(self.pos, buf).map_err(into_io)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F, R> Seek for SealedReader<F>
where
    F: Deref<Target = SealedFile<R>>,
    R: ReadAt,
{
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.file.plaintext_len();
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )),
        }
    }
}

/// Turns a [`SealError`] into an `io::Error` that keeps it as the source (for `Read` users).
pub fn into_io(e: SealError) -> io::Error {
    match e {
        SealError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}
