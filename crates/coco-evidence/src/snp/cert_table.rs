//! The SNP certificate table a host hands the guest with its report (GHCB specification,
//! "SNP Extended Guest Request"; configfs-tsm's `auxblob`): entries of GUID ‖ offset u32 ‖
//! length u32, ended by an all-zero entry, followed by the DER certificates they point to.

use crate::codec::Reader;
use crate::error::Result;

/// The GUIDs of the certificates an SNP host puts in the table (GHCB specification, "SNP
/// Extended Guest Request"): VCEK, VLEK, ASK, ARK.
pub const CERT_GUIDS: [(&str, [u8; 16]); 4] = [
    (
        "VCEK",
        guid(
            0x63da758d,
            0xe664,
            0x4564,
            [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
        ),
    ),
    (
        "VLEK",
        guid(
            0xa8074bc2,
            0xa25a,
            0x483e,
            [0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1],
        ),
    ),
    (
        "ASK",
        guid(
            0x4ab7b379,
            0xbbac,
            0x4fe4,
            [0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82],
        ),
    ),
    (
        "ARK",
        guid(
            0xc0b406a4,
            0xa803,
            0x4952,
            [0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae],
        ),
    ),
];

/// A GUID in its on-disk byte order (first three fields little-endian).
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// Parses an SNP certificate table (entries of GUID ‖ offset u32 ‖ length u32, ended by an
/// all-zero entry) into a PEM bundle of the known certificates (unknown GUIDs are skipped).
pub fn to_pem(table: &[u8]) -> Result<String> {
    let mut r = Reader::new("SNP certificate table", table);
    let mut pem = String::new();
    loop {
        let at = r.position();
        let id: [u8; 16] = r.array("GUID")?;
        let offset = r.u32("offset")? as usize;
        let len = r.u32("length")? as usize;
        if id == [0; 16] && offset == 0 && len == 0 {
            break;
        }
        let der = r.slice_at(offset, len, "certificate").map_err(|_| {
            r.malformed(
                "offset",
                at + 16,
                format!("{len} bytes at {offset:#x} are outside the table"),
            )
        })?;
        if CERT_GUIDS.iter().any(|(_, g)| *g == id) {
            pem.push_str(&crate::x509::der_to_pem(der));
        }
    }
    Ok(pem)
}
