//! The sealed header: byte layout, encoding and bounds-checked parsing.
//!
//! All integers are little-endian. Offsets (see `docs/FORMAT.md` for the full write-up):
//!
//! ```text
//! 0     8   magic          "COCOSEAL"
//! 8     2   version        1
//! 10    2   suite          0x0001 = AES-256-GCM-SIV, HKDF-SHA-256, 256-bit commitment
//! 12    1   chunk_log2     16..=24 (chunk size 64 KiB .. 16 MiB, default 20 = 1 MiB)
//! 13    1   flags          0 (reserved, non-zero rejected)
//! 14    2   reserved       0
//! 16    8   plaintext_len  exact plaintext size
//! 24    8   n_chunks       max(1, ceil(plaintext_len / chunk_size))
//! 32    32  salt           random, per file
//! 64    16  key_check      HKDF(DEK, "", "coco-seal/v1 key check")[0..16]
//! 80    2   key_id_len     <= 256
//! 82    2   metadata_len   1 ..= 16384
//! 84    k   key_id         UTF-8
//! 84+k  m   metadata       one CBOR map (model_id, shard_name, shard_index, content_type)
//! ..        zero padding up to a multiple of 32
//! H-32  32  commitment
//! H     16n tag table      tag of chunk i at H + 16 i
//! ..        zero gap up to D = round_up(H + 16 n, 4096)
//! D     len chunk data     ciphertext of plaintext byte p at D + p
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, SealError};

/// The 8 magic bytes at offset 0.
pub const MAGIC: &[u8; 8] = b"COCOSEAL";
/// The format version this library writes and reads.
pub const VERSION: u16 = 1;
/// Length of the fixed part of the header (before `key_id`).
pub const FIXED_LEN: usize = 84;
/// Largest `key_id` in bytes.
pub const MAX_KEY_ID_LEN: usize = 256;
/// Largest metadata map in bytes.
pub const MAX_METADATA_LEN: usize = 16 * 1024;
/// Smallest allowed `chunk_log2` (64 KiB chunks).
pub const MIN_CHUNK_LOG2: u8 = 16;
/// Largest allowed `chunk_log2` (16 MiB chunks).
pub const MAX_CHUNK_LOG2: u8 = 24;
/// Default `chunk_log2` (1 MiB chunks).
pub const DEFAULT_CHUNK_LOG2: u8 = 20;
/// Length of one tag in the tag table.
pub const TAG_LEN: u64 = 16;
/// Alignment of the chunk data.
pub const DATA_ALIGN: u64 = 4096;
/// Length of the commitment.
pub const COMMITMENT_LEN: usize = 32;

/// The cipher suite of a sealed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Suite {
    /// `0x0001`: AES-256-GCM-SIV (RFC 8452) chunks, HKDF-SHA-256 derivation, 256-bit commitment.
    Aes256GcmSivHkdfSha256,
}

impl Suite {
    /// The suite's code in the header.
    pub fn code(self) -> u16 {
        match self {
            Suite::Aes256GcmSivHkdfSha256 => 1,
        }
    }

    /// The suite's name as the manifest and `inspect` print it.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Aes256GcmSivHkdfSha256 => "AES-256-GCM-SIV+HKDF-SHA256+commit256",
        }
    }

    fn from_code(code: u16) -> Result<Self> {
        match code {
            1 => Ok(Suite::Aes256GcmSivHkdfSha256),
            other => Err(SealError::UnsupportedSuite(other)),
        }
    }
}

/// Descriptive metadata carried (and authenticated) in the header as a CBOR map.
///
/// Unknown keys are ignored on read, so later versions of this library can add fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The model this shard belongs to, e.g. `vendor/llama-3-70b@v3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The shard's path relative to the model directory, `/`-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_name: Option<String>,
    /// The shard's position in the model's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_index: Option<u32>,
    /// The plaintext's content type, e.g. `safetensors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl Metadata {
    pub(crate) fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    fn from_cbor(bytes: &[u8], offset: u64) -> Result<Self> {
        let mut rest = bytes;
        let meta: Metadata = ciborium::from_reader(&mut rest)
            .map_err(|e| SealError::malformed("metadata", offset, format!("invalid CBOR: {e}")))?;
        if !rest.is_empty() {
            return Err(SealError::malformed(
                "metadata",
                offset + (bytes.len() - rest.len()) as u64,
                format!("{} bytes after the CBOR map", rest.len()),
            ));
        }
        Ok(meta)
    }
}

/// A parsed sealed header. Parsing checks structure and bounds only: nothing in it is
/// authenticated until [`crate::SealedFile::open`] has checked the commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) suite: Suite,
    pub(crate) chunk_log2: u8,
    pub(crate) plaintext_len: u64,
    pub(crate) n_chunks: u64,
    pub(crate) salt: [u8; 32],
    pub(crate) key_check: [u8; 16],
    pub(crate) key_id: String,
    pub(crate) metadata: Metadata,
    pub(crate) metadata_raw: Vec<u8>,
    pub(crate) commitment: [u8; 32],
}

/// Offsets of a sealed file's regions, derived from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Header length `H`, commitment included; the tag table starts here.
    pub header_len: u64,
    /// Offset of the tag table (= `header_len`).
    pub tag_table_offset: u64,
    /// Offset `D` of chunk data (4096-aligned).
    pub data_offset: u64,
    /// Exact file size: `D + plaintext_len`.
    pub file_len: u64,
}

fn round_up(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|v| v / align * align)
}

/// Number of chunks for a plaintext length: `max(1, ceil(len / chunk))`.
pub fn n_chunks_for(plaintext_len: u64, chunk_log2: u8) -> u64 {
    let chunk = 1u64 << chunk_log2;
    plaintext_len.div_ceil(chunk).max(1)
}

impl Header {
    /// Builds a header for writing.
    pub(crate) fn new(
        chunk_log2: u8,
        plaintext_len: u64,
        salt: [u8; 32],
        key_check: [u8; 16],
        key_id: String,
        metadata: Metadata,
    ) -> Result<Self> {
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            let size = |log2: u8| match log2 {
                0..=19 => format!("{} KiB", (1u64 << log2) >> 10),
                20..=63 => format!("{} MiB", (1u64 << log2) >> 20),
                _ => format!("2^{log2} bytes"),
            };
            return Err(SealError::InvalidArgument(format!(
                "chunk size {}: a power of two from {} to {}",
                size(chunk_log2),
                size(MIN_CHUNK_LOG2),
                size(MAX_CHUNK_LOG2)
            )));
        }
        if key_id.len() > MAX_KEY_ID_LEN {
            return Err(SealError::InvalidArgument(format!(
                "key id is {} bytes, at most {MAX_KEY_ID_LEN} allowed",
                key_id.len()
            )));
        }
        let metadata_raw = metadata.to_cbor();
        if metadata_raw.len() > MAX_METADATA_LEN {
            return Err(SealError::InvalidArgument(format!(
                "metadata is {} bytes of CBOR, at most {MAX_METADATA_LEN} allowed",
                metadata_raw.len()
            )));
        }
        let h = Header {
            suite: Suite::Aes256GcmSivHkdfSha256,
            chunk_log2,
            plaintext_len,
            n_chunks: n_chunks_for(plaintext_len, chunk_log2),
            salt,
            key_check,
            key_id,
            metadata,
            metadata_raw,
            commitment: [0; 32],
        };
        h.layout()?;
        Ok(h)
    }

    /// The format version (always [`VERSION`] for a parsed header).
    pub fn version(&self) -> u16 {
        VERSION
    }
    /// The cipher suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// Chunk size in bytes.
    pub fn chunk_size(&self) -> u64 {
        1u64 << self.chunk_log2
    }
    /// `log2` of the chunk size.
    pub fn chunk_log2(&self) -> u8 {
        self.chunk_log2
    }
    /// Exact plaintext length.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }
    /// Number of chunks.
    pub fn n_chunks(&self) -> u64 {
        self.n_chunks
    }
    /// The per-file salt.
    pub fn salt(&self) -> &[u8; 32] {
        &self.salt
    }
    /// The key check value of the DEK the file was sealed under.
    pub fn key_check(&self) -> &[u8; 16] {
        &self.key_check
    }
    /// The key id (e.g. a key-release resource name).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The decoded metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    /// The stored commitment.
    pub fn commitment(&self) -> &[u8; 32] {
        &self.commitment
    }

    fn prefix_len(&self) -> u64 {
        (FIXED_LEN + self.key_id.len() + self.metadata_raw.len()) as u64
    }

    /// The region offsets; fails if they overflow `u64`.
    pub fn layout(&self) -> Result<Layout> {
        let overflow = |field| SealError::malformed(field, 16, "file layout overflows 64 bits");
        let header_len = round_up(self.prefix_len(), 32)
            .ok_or_else(|| overflow("plaintext_len"))?
            + COMMITMENT_LEN as u64;
        let tags_end = self
            .n_chunks
            .checked_mul(TAG_LEN)
            .and_then(|t| t.checked_add(header_len))
            .ok_or_else(|| overflow("n_chunks"))?;
        let data_offset = round_up(tags_end, DATA_ALIGN).ok_or_else(|| overflow("n_chunks"))?;
        let file_len = data_offset
            .checked_add(self.plaintext_len)
            .ok_or_else(|| overflow("plaintext_len"))?;
        Ok(Layout {
            header_len,
            tag_table_offset: header_len,
            data_offset,
            file_len,
        })
    }

    /// Encodes the header bytes before the commitment (`[0, H-32)`, padding included): the
    /// input of the header digest.
    pub(crate) fn encode_prefix(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED_LEN + 512);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.suite.code().to_le_bytes());
        b.push(self.chunk_log2);
        b.push(0); // flags
        b.extend_from_slice(&0u16.to_le_bytes()); // reserved
        b.extend_from_slice(&self.plaintext_len.to_le_bytes());
        b.extend_from_slice(&self.n_chunks.to_le_bytes());
        b.extend_from_slice(&self.salt);
        b.extend_from_slice(&self.key_check);
        b.extend_from_slice(&(self.key_id.len() as u16).to_le_bytes());
        b.extend_from_slice(&(self.metadata_raw.len() as u16).to_le_bytes());
        b.extend_from_slice(self.key_id.as_bytes());
        b.extend_from_slice(&self.metadata_raw);
        let padded = b.len().div_ceil(32) * 32;
        b.resize(padded, 0);
        b
    }

    /// Encodes the whole header, commitment included (`[0, H)`).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.encode_prefix();
        b.extend_from_slice(&self.commitment);
        b
    }

    /// Given the first [`FIXED_LEN`] bytes of a file, returns the full header length `H`
    /// after checking magic, version, suite and the two length fields.
    pub fn header_len_from_fixed(fixed: &[u8]) -> Result<u64> {
        let n = fixed.len().min(MAGIC.len());
        if fixed[..n] != MAGIC[..n] {
            return Err(SealError::malformed(
                "magic",
                0,
                "not a coco sealed file (magic is not \"COCOSEAL\")",
            ));
        }
        let fixed: &[u8; FIXED_LEN] = fixed
            .get(..FIXED_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(SealError::Truncated {
                expected: FIXED_LEN as u64,
                found: fixed.len() as u64,
            })?;
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(SealError::UnsupportedVersion(version));
        }
        Suite::from_code(u16::from_le_bytes([fixed[10], fixed[11]]))?;
        let k = u16::from_le_bytes([fixed[80], fixed[81]]) as usize;
        let m = u16::from_le_bytes([fixed[82], fixed[83]]) as usize;
        if k > MAX_KEY_ID_LEN {
            return Err(SealError::malformed(
                "key_id_len",
                80,
                format!("{k} exceeds the maximum of {MAX_KEY_ID_LEN}"),
            ));
        }
        if m == 0 || m > MAX_METADATA_LEN {
            return Err(SealError::malformed(
                "metadata_len",
                82,
                format!("{m} is outside 1..={MAX_METADATA_LEN}"),
            ));
        }
        Ok((FIXED_LEN + k + m).div_ceil(32) as u64 * 32 + COMMITMENT_LEN as u64)
    }

    /// Parses a complete header (`bytes` must hold at least `H` bytes; more is ignored).
    ///
    /// Checks every field's bounds; does not check the commitment (that needs the key).
    ///
    /// ```
    /// use coco_seal::{Header, SealError};
    /// let err = Header::parse(&[0u8; 200]).unwrap_err();
    /// assert!(matches!(err, SealError::Malformed { field: "magic", offset: 0, .. }));
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let header_len = Self::header_len_from_fixed(bytes)? as usize;
        if bytes.len() < header_len {
            return Err(SealError::Truncated {
                expected: header_len as u64,
                found: bytes.len() as u64,
            });
        }
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let suite = Suite::from_code(u16::from_le_bytes([bytes[10], bytes[11]]))?;
        let chunk_log2 = bytes[12];
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            return Err(SealError::malformed(
                "chunk_log2",
                12,
                format!("{chunk_log2} is outside {MIN_CHUNK_LOG2}..={MAX_CHUNK_LOG2}"),
            ));
        }
        if bytes[13] != 0 {
            return Err(SealError::malformed(
                "flags",
                13,
                format!("{:#04x}: no flags are defined in version 1", bytes[13]),
            ));
        }
        if bytes[14] != 0 || bytes[15] != 0 {
            return Err(SealError::malformed("reserved", 14, "must be zero"));
        }
        let plaintext_len = u64_at(16);
        let n_chunks = u64_at(24);
        let expected_chunks = n_chunks_for(plaintext_len, chunk_log2);
        if n_chunks != expected_chunks {
            return Err(SealError::malformed(
                "n_chunks",
                24,
                format!(
                    "{n_chunks} does not match plaintext_len {plaintext_len} in chunks of 2^{chunk_log2} ({expected_chunks})"
                ),
            ));
        }
        let salt: [u8; 32] = bytes[32..64].try_into().expect("32 bytes");
        let key_check: [u8; 16] = bytes[64..80].try_into().expect("16 bytes");
        let k = u16::from_le_bytes([bytes[80], bytes[81]]) as usize;
        let m = u16::from_le_bytes([bytes[82], bytes[83]]) as usize;
        let key_id = std::str::from_utf8(&bytes[FIXED_LEN..FIXED_LEN + k])
            .map_err(|e| {
                SealError::malformed("key_id", FIXED_LEN as u64, format!("not UTF-8: {e}"))
            })?
            .to_owned();
        let meta_off = FIXED_LEN + k;
        let metadata_raw = bytes[meta_off..meta_off + m].to_vec();
        let metadata = Metadata::from_cbor(&metadata_raw, meta_off as u64)?;
        let pad_start = meta_off + m;
        let commit_off = header_len - COMMITMENT_LEN;
        if let Some(pos) = bytes[pad_start..commit_off].iter().position(|&b| b != 0) {
            return Err(SealError::malformed(
                "padding",
                (pad_start + pos) as u64,
                "header padding must be zero",
            ));
        }
        let commitment: [u8; 32] = bytes[commit_off..header_len].try_into().expect("32 bytes");
        let h = Header {
            suite,
            chunk_log2,
            plaintext_len,
            n_chunks,
            salt,
            key_check,
            key_id,
            metadata,
            metadata_raw,
            commitment,
        };
        h.layout()?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header::new(
            16,
            100_000,
            [9; 32],
            [8; 16],
            "kbs:///v/m/dek".into(),
            Metadata {
                model_id: Some("v/m@1".into()),
                shard_name: Some("a.safetensors".into()),
                shard_index: Some(3),
                content_type: Some("safetensors".into()),
            },
        )
        .unwrap()
    }

    #[test]
    fn encode_parse_round_trip() {
        let mut h = sample();
        h.commitment = [5; 32];
        let bytes = h.encode();
        assert_eq!(bytes.len() as u64, h.layout().unwrap().header_len);
        assert_eq!(bytes.len() % 32, 0);
        assert_eq!(Header::parse(&bytes).unwrap(), h);
        assert_eq!(h.n_chunks(), 2);
        let l = h.layout().unwrap();
        assert_eq!(l.data_offset % DATA_ALIGN, 0);
        assert_eq!(l.file_len, l.data_offset + 100_000);
    }

    proptest::proptest! {
        /// parse(encode(h)) == h for any valid header.
        #[test]
        fn parse_inverts_encode(
            chunk_log2 in MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2,
            plaintext_len in 0u64..(1 << 40),
            salt in proptest::array::uniform32(proptest::num::u8::ANY),
            key_id in "[ -~]{0,64}",
            model_id in proptest::option::of("[a-z0-9/@.-]{0,40}"),
            shard_name in proptest::option::of("[a-z0-9/._-]{1,40}"),
            shard_index in proptest::option::of(proptest::num::u32::ANY),
            commitment in proptest::array::uniform32(proptest::num::u8::ANY),
        ) {
            let meta = Metadata { model_id, shard_name, shard_index, content_type: None };
            let mut h = Header::new(chunk_log2, plaintext_len, salt, [7; 16], key_id, meta).unwrap();
            h.commitment = commitment;
            let bytes = h.encode();
            proptest::prop_assert_eq!(bytes.len() as u64, h.layout().unwrap().header_len);
            proptest::prop_assert_eq!(Header::parse(&bytes).unwrap(), h);
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(n_chunks_for(0, 16), 1);
        assert_eq!(n_chunks_for(65536, 16), 1);
        assert_eq!(n_chunks_for(65537, 16), 2);
        assert!(Header::new(15, 0, [0; 32], [0; 16], String::new(), Metadata::default()).is_err());
        assert!(Header::new(25, 0, [0; 32], [0; 16], String::new(), Metadata::default()).is_err());
        assert!(
            Header::new(
                16,
                0,
                [0; 32],
                [0; 16],
                "x".repeat(257),
                Metadata::default()
            )
            .is_err()
        );
        let mut h = sample();
        h.plaintext_len = u64::MAX;
        h.n_chunks = n_chunks_for(u64::MAX, 16);
        assert!(matches!(
            Header::parse(&h.encode()),
            Err(SealError::Malformed { .. })
        ));
    }
}
