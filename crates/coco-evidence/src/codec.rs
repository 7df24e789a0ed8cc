//! The byte reader every `abi` module parses with: bounds-checked reads of little-endian
//! integers, fixed-size arrays and slices, either in sequence (a position that moves, as
//! rustls' `codec::Reader`) or at the fixed offsets of a layout table (SNP reports, Azure
//! HCL reports). Nothing here indexes the input directly, so no input can make a parser
//! panic; every failure is an [`EvidenceError::Malformed`] naming the structure, the field
//! (as the vendor's specification names it) and the offset. A [`Reader::sub`] reader over a
//! length-prefixed part (an SPDM measurement record, an opaque-data block) reports offsets in
//! the whole structure, so nested parsers need no offset arithmetic.
//!
//! ```
//! use coco_evidence::codec::Reader;
//! use coco_evidence::EvidenceError;
//! let mut r = Reader::new("example", &[4, 0, 2, 0, 0xAA]);
//! assert_eq!(r.u16("version").unwrap(), 4);
//! assert_eq!(r.u16("key type").unwrap(), 2);
//! let e = r.u32("reserved").unwrap_err();
//! assert!(matches!(e, EvidenceError::Malformed { structure: "example", field: "reserved", offset: 4, .. }));
//! ```

use std::ops::Range;

use crate::error::{EvidenceError, Result};

/// A bounds-checked reader over the bytes of one structure.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    /// The offset of `bytes` in the whole structure (non-zero for [`Reader::sub`] readers).
    base: usize,
    pos: usize,
    structure: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, which hold a `structure` (named in errors, e.g.
    /// "TDX quote").
    pub fn new(structure: &'static str, bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            base: 0,
            pos: 0,
            structure,
        }
    }

    /// The offset of the next sequential read, in the whole structure.
    pub fn position(&self) -> usize {
        self.base + self.pos
    }

    /// The bytes read so far (from this reader's start to the position).
    pub fn consumed(&self) -> &'a [u8] {
        self.bytes.get(..self.pos).unwrap_or_default()
    }

    /// Whether every byte has been read.
    pub fn is_done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// How many bytes are left after the position.
    pub fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The bytes after the position (the position does not move).
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// An [`EvidenceError::Malformed`] for `field` at `offset` of this structure.
    pub fn malformed(
        &self,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> EvidenceError {
        EvidenceError::malformed(self.structure, field, offset, reason)
    }

    /// The next `n` bytes, as the `field`.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let s = self.slice_at(self.position(), n, field)?;
        self.pos += n;
        Ok(s)
    }

    /// A reader over the next `n` bytes (a length-prefixed part named `field`), whose
    /// positions and errors are offsets in the whole structure.
    pub fn sub(&mut self, n: usize, field: &'static str) -> Result<Reader<'a>> {
        let base = self.position();
        let bytes = self.take(n, field)?;
        Ok(Reader {
            bytes,
            base,
            pos: 0,
            structure: self.structure,
        })
    }

    /// Skips `n` bytes of `field`.
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<()> {
        self.take(n, field).map(|_| ())
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let a = self.array_at(self.position(), field)?;
        self.pos += N;
        Ok(a)
    }

    /// The next byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8> {
        self.array::<1>(field).map(|[b]| b)
    }

    /// The next byte, which must be `want`.
    pub fn expect_u8(&mut self, field: &'static str, want: u8) -> Result<u8> {
        let at = self.position();
        let v = self.u8(field)?;
        if v != want {
            return Err(self.malformed(field, at, format!("is {v:#04x}, expected {want:#04x}")));
        }
        Ok(v)
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self, field: &'static str) -> Result<u16> {
        self.array(field).map(u16::from_le_bytes)
    }

    /// The next three bytes, little-endian (SPDM lengths).
    pub fn u24(&mut self, field: &'static str) -> Result<usize> {
        self.array::<3>(field)
            .map(|[a, b, c]| usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16)
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self, field: &'static str) -> Result<u32> {
        self.array(field).map(u32::from_le_bytes)
    }

    /// The next eight bytes, little-endian.
    pub fn u64(&mut self, field: &'static str) -> Result<u64> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// `n` bytes of `field` at `offset` of the whole structure (the position does not move).
    pub fn slice_at(&self, offset: usize, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let local = offset.checked_sub(self.base);
        local
            .and_then(|l| Some(l..l.checked_add(n)?))
            .and_then(|r| self.bytes.get(r))
            .ok_or_else(|| {
                let left = local.map_or(0, |l| self.bytes.len().saturating_sub(l));
                let reason = if self.base == 0 {
                    format!(
                        "needs {n} bytes, {left} left in the {}-byte {}",
                        self.bytes.len(),
                        self.structure
                    )
                } else {
                    format!(
                        "needs {n} bytes, {left} left in the {}-byte part at {:#x}",
                        self.bytes.len(),
                        self.base
                    )
                };
                self.malformed(field, offset, reason)
            })
    }

    /// `N` bytes of `field` at `offset` as an array.
    pub fn array_at<const N: usize>(&self, offset: usize, field: &'static str) -> Result<[u8; N]> {
        let s = self.slice_at(offset, N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// The byte of `field` at `offset`.
    pub fn u8_at(&self, offset: usize, field: &'static str) -> Result<u8> {
        self.array_at::<1>(offset, field).map(|[b]| b)
    }

    /// The little-endian `u32` of `field` at `offset`.
    pub fn u32_at(&self, offset: usize, field: &'static str) -> Result<u32> {
        self.array_at(offset, field).map(u32::from_le_bytes)
    }

    /// The little-endian `u64` of `field` at `offset`.
    pub fn u64_at(&self, offset: usize, field: &'static str) -> Result<u64> {
        self.array_at(offset, field).map(u64::from_le_bytes)
    }

    /// Checks that the reserved bytes `range` are zero; the error names the first that is
    /// not.
    pub fn zeros(&self, range: Range<usize>, field: &'static str) -> Result<()> {
        let start = range.start;
        let s = self.slice_at(start, range.len(), field)?;
        match s.iter().position(|&b| b != 0) {
            Some(p) => Err(self.malformed(field, start + p, "reserved byte is not zero")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_of(e: &EvidenceError) -> (&'static str, usize) {
        match e {
            EvidenceError::Malformed { field, offset, .. } => (*field, *offset),
            other => panic!("not Malformed: {other:?}"),
        }
    }

    #[test]
    fn sequential_reads_move_and_stop_at_the_end() {
        let b = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        ];
        let mut r = Reader::new("t", &b);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 0x0302);
        assert_eq!(r.u24("c").unwrap(), 0x060504);
        assert_eq!(r.u32("d").unwrap(), 0x0A090807);
        assert_eq!(r.u64("e").unwrap(), 0x1211100F0E0D0C0B);
        assert_eq!(r.left(), 0);
        assert_eq!(offset_of(&r.u8("f").unwrap_err()), ("f", 18));
        // A failed read does not move the position.
        assert_eq!(r.position(), 18);
    }

    #[test]
    fn every_read_past_the_end_is_an_error_naming_field_and_offset() {
        let b = [0u8; 7];
        let r = Reader::new("t", &b);
        assert_eq!(offset_of(&r.u64_at(0, "x").unwrap_err()), ("x", 0));
        assert_eq!(offset_of(&r.u32_at(4, "y").unwrap_err()), ("y", 4));
        assert_eq!(offset_of(&r.u8_at(7, "z").unwrap_err()), ("z", 7));
        assert_eq!(
            offset_of(&r.slice_at(usize::MAX, 2, "w").unwrap_err()),
            ("w", usize::MAX)
        );
        assert_eq!(offset_of(&r.zeros(5..9, "v").unwrap_err()), ("v", 5));
        let mut r = Reader::new("t", &b);
        assert_eq!(
            offset_of(&r.take(usize::MAX, "huge").unwrap_err()),
            ("huge", 0)
        );
        r.skip(6, "s").unwrap();
        assert_eq!(offset_of(&r.array::<2>("a").unwrap_err()), ("a", 6));
    }

    #[test]
    fn sub_readers_report_offsets_in_the_whole_structure() {
        let b = [3, 0xA, 0xB, 0xC, 0xD];
        let mut r = Reader::new("t", &b);
        let n = r.u8("length").unwrap();
        let mut part = r.sub(usize::from(n), "part").unwrap();
        assert_eq!(part.position(), 1);
        assert_eq!(part.u16("x").unwrap(), 0x0B0A);
        assert_eq!(part.u8_at(3, "y").unwrap(), 0x0C);
        assert_eq!(offset_of(&part.u16("z").unwrap_err()), ("z", 3));
        assert_eq!(
            offset_of(&part.u8_at(4, "outside").unwrap_err()),
            ("outside", 4)
        );
        assert_eq!(
            offset_of(&part.u8_at(0, "before").unwrap_err()),
            ("before", 0)
        );
        assert_eq!(part.consumed(), &[0xA, 0xB]);
        assert_eq!(r.position(), 4);
        assert_eq!(r.rest(), &[0xD]);
        assert!(!r.is_done());
    }

    #[test]
    fn reserved_bytes_and_expected_values() {
        let b = [0, 0, 9, 0, 0x11];
        let r = Reader::new("t", &b);
        r.zeros(0..2, "reserved").unwrap();
        assert_eq!(
            offset_of(&r.zeros(0..4, "reserved").unwrap_err()),
            ("reserved", 2)
        );
        let mut r = Reader::new("t", &b);
        r.skip(4, "s").unwrap();
        assert_eq!(
            offset_of(&r.clone().expect_u8("code", 0x12).unwrap_err()),
            ("code", 4)
        );
        assert_eq!(r.expect_u8("code", 0x11).unwrap(), 0x11);
    }
}
