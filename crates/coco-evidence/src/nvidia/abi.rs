//! NVIDIA GPU attestation reports, bytes to [`Report`]: the 37-byte SPDM 1.1
//! GET_MEASUREMENTS request followed by the MEASUREMENTS response (measurement record of DMTF
//! blocks, responder nonce, NVIDIA's opaque-data TLVs, a 96-byte ECDSA P-384 `r‖s`
//! signature). All integers are little-endian. Bounds and encodings only: nothing here is
//! trusted. Offsets in errors are absolute offsets in the report.

use crate::codec::Reader;
use crate::error::{EvidenceError, Result};

const S: &str = "NVIDIA attestation report";

/// Length of the GET_MEASUREMENTS request (SPDM 1.1, no RequesterContext).
pub const REQUEST_LEN: usize = 37;
/// Length of the report signature: ECDSA P-384 `r‖s`.
pub const SIGNATURE_LEN: usize = 96;
/// Length of the SPDM nonces.
pub const NONCE_LEN: usize = 32;
/// SPDM 1.1.
pub const SPDM_VERSION: u8 = 0x11;
/// GET_MEASUREMENTS.
pub const GET_MEASUREMENTS: u8 = 0xE0;
/// MEASUREMENTS.
pub const MEASUREMENTS: u8 = 0x60;
/// The largest report NVML returns (`NVML_CC_GPU_ATTESTATION_REPORT_SIZE`).
pub const MAX_REPORT_LEN: usize = 0x2000;

/// A nonce given as hex (surrounding whitespace ignored): exactly 32 bytes, else `None`.
pub fn parse_nonce(hex: &str) -> Option<[u8; NONCE_LEN]> {
    hex::decode(hex.trim()).ok()?.try_into().ok()
}

/// Options of the parser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept bytes after the signature (they are never signed; a real Confidential
    /// Containers capture carries one `0x00`). Off by default, as in NVIDIA's C++ SDK.
    pub allow_trailing_data: bool,
}

/// The GET_MEASUREMENTS request (bytes 0..37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// SPDMVersion (0x11).
    pub spdm_version: u8,
    /// Param1 (bit 0: signature requested).
    pub param1: u8,
    /// Param2 (0xFF: all measurement blocks).
    pub param2: u8,
    /// The verifier's nonce: the field freshness is checked on.
    pub nonce: [u8; NONCE_LEN],
    /// SlotIDParam.
    pub slot_id: u8,
}

/// One DMTF measurement block of the measurement record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementBlock {
    /// The SPDM block index (1-based).
    pub index: u8,
    /// DMTFSpecMeasurementValueType (bit 7 clear: a digest).
    pub value_type: u8,
    /// The measurement value (a SHA-384 digest; all zero for unused indices).
    pub value: Vec<u8>,
}

/// The known opaque-data TLV ids (NVIDIA's `OPAQUE_DATA_TYPES`).
pub const OPAQUE_IDS: &[(u16, &str)] = &[
    (1, "CERT_ISSUER_NAME"),
    (2, "CERT_AUTHORITY_KEY_IDENTIFIER"),
    (3, "DRIVER_VERSION"),
    (4, "GPU_INFO"),
    (5, "SKU"),
    (6, "VBIOS_VERSION"),
    (7, "MANUFACTURER_ID"),
    (8, "TAMPER_DETECTION"),
    (9, "SMC"),
    (10, "VPR"),
    (11, "NVDEC0_STATUS"),
    (12, "MSRSCNT"),
    (13, "CPRINFO"),
    (14, "BOARD_ID"),
    (15, "CHIP_SKU"),
    (16, "CHIP_SKU_MOD"),
    (17, "PROJECT"),
    (18, "PROJECT_SKU"),
    (19, "PROJECT_SKU_MOD"),
    (20, "FWID"),
    (21, "PROTECTED_PCIE_STATUS"),
    (22, "SWITCH_PDI"),
    (23, "FLOORSWEPT_PORTS"),
    (24, "POSITION_ID"),
    (25, "LOCK_SWITCH_STATUS"),
    (32, "GPU_LINK_CONN"),
    (33, "SYS_ENABLE_STATUS"),
    (34, "OPAQUE_DATA_VERSION"),
    (35, "CHIP_INFO"),
    (36, "FEATURE_FLAG"),
];

/// Opaque-data TLV ids with a meaning in this crate.
pub mod opaque_id {
    /// DRIVER_VERSION: ASCII, NUL-terminated.
    pub const DRIVER_VERSION: u16 = 3;
    /// VBIOS_VERSION: 8 bytes.
    pub const VBIOS_VERSION: u16 = 6;
    /// NVDEC0_STATUS: 0xAA enabled, 0x55 disabled.
    pub const NVDEC0_STATUS: u16 = 11;
    /// MSRSCNT: 64 × u32.
    pub const MSRSCNT: u16 = 12;
    /// BOARD_ID: u32.
    pub const BOARD_ID: u16 = 14;
    /// CHIP_SKU: ASCII.
    pub const CHIP_SKU: u16 = 15;
    /// CHIP_SKU_MOD: ASCII.
    pub const CHIP_SKU_MOD: u16 = 16;
    /// PROJECT: ASCII.
    pub const PROJECT: u16 = 17;
    /// PROJECT_SKU: ASCII.
    pub const PROJECT_SKU: u16 = 18;
    /// PROJECT_SKU_MOD: ASCII.
    pub const PROJECT_SKU_MOD: u16 = 19;
    /// FWID: SHA-384 of the firmware, equal to the leaf certificate's FWID.
    pub const FWID: u16 = 20;
    /// PROTECTED_PCIE_STATUS: 0xAA on, 0x55 off.
    pub const PROTECTED_PCIE_STATUS: u16 = 21;
    /// SWITCH_PDI: n × 8-byte NVSwitch PDIs.
    pub const SWITCH_PDI: u16 = 22;
    /// OPAQUE_DATA_VERSION: u16.
    pub const OPAQUE_DATA_VERSION: u16 = 34;
    /// CHIP_INFO: ASCII chip name.
    pub const CHIP_INFO: u16 = 35;
    /// FEATURE_FLAG: the GPU mode (2 = Protected PCIe).
    pub const FEATURE_FLAG: u16 = 36;
}

/// The name of opaque-data TLV `id`, if it is known.
pub fn opaque_name(id: u16) -> Option<&'static str> {
    OPAQUE_IDS.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

/// One opaque-data TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueField {
    /// DataType.
    pub id: u16,
    /// Absolute offset of the data in the report.
    pub offset: usize,
    /// Data.
    pub data: Vec<u8>,
}

/// An enabled/disabled status byte (0xAA / 0x55).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0xAA.
    Enabled,
    /// 0x55.
    Disabled,
}

impl Status {
    /// `"enabled"` or `"disabled"`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Disabled => "disabled",
        }
    }
}

/// The opaque data: NVIDIA's TLVs in report order, unique ids, each known and well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueData {
    /// The TLVs, in the order of the report.
    pub fields: Vec<OpaqueField>,
}

impl OpaqueData {
    /// The data of TLV `id`, if present.
    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.data.as_slice())
    }

    fn ascii(&self, id: u16) -> Option<String> {
        self.get(id).map(|d| {
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            String::from_utf8_lossy(&d[..end]).into_owned()
        })
    }

    /// DRIVER_VERSION (e.g. `550.90.07`).
    pub fn driver_version(&self) -> Option<String> {
        self.ascii(opaque_id::DRIVER_VERSION)
    }

    /// VBIOS_VERSION as NVIDIA prints it: `96.00.9F.00.01` from bytes `00 9f 00 96 01 ..`.
    pub fn vbios_version(&self) -> Option<String> {
        match self.get(opaque_id::VBIOS_VERSION)? {
            [b0, b1, b2, b3, b4, ..] => {
                Some(format!("{b3:02X}.{b2:02X}.{b1:02X}.{b0:02X}.{b4:02X}"))
            }
            _ => None,
        }
    }

    /// PROJECT (e.g. `1010`, `G520`).
    pub fn project(&self) -> Option<String> {
        self.ascii(opaque_id::PROJECT)
    }

    /// PROJECT_SKU (e.g. `0200`).
    pub fn project_sku(&self) -> Option<String> {
        self.ascii(opaque_id::PROJECT_SKU)
    }

    /// PROJECT_SKU_MOD.
    pub fn project_sku_mod(&self) -> Option<String> {
        self.ascii(opaque_id::PROJECT_SKU_MOD)
    }

    /// CHIP_SKU (e.g. `882`).
    pub fn chip_sku(&self) -> Option<String> {
        self.ascii(opaque_id::CHIP_SKU)
    }

    /// CHIP_SKU_MOD.
    pub fn chip_sku_mod(&self) -> Option<String> {
        self.ascii(opaque_id::CHIP_SKU_MOD)
    }

    /// CHIP_INFO (Blackwell's chip name, e.g. `GB100`), when the firmware reports it.
    pub fn chip_info(&self) -> Option<String> {
        self.ascii(opaque_id::CHIP_INFO)
    }

    /// NVDEC0_STATUS.
    pub fn nvdec0_status(&self) -> Option<Status> {
        self.get(opaque_id::NVDEC0_STATUS).and_then(status)
    }

    /// PROTECTED_PCIE_STATUS.
    pub fn protected_pcie_status(&self) -> Option<Status> {
        self.get(opaque_id::PROTECTED_PCIE_STATUS).and_then(status)
    }

    /// FWID (48 bytes).
    pub fn fwid(&self) -> Option<&[u8]> {
        self.get(opaque_id::FWID)
    }

    /// MSRSCNT: the per-index measurement counts.
    pub fn msrscnt(&self) -> Option<Vec<u32>> {
        self.get(opaque_id::MSRSCNT).map(|d| {
            d.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// BOARD_ID.
    pub fn board_id(&self) -> Option<u32> {
        self.get(opaque_id::BOARD_ID)
            .and_then(|d| <[u8; 4]>::try_from(d).ok())
            .map(u32::from_le_bytes)
    }

    /// OPAQUE_DATA_VERSION (absent on older firmware).
    pub fn opaque_data_version(&self) -> Option<u64> {
        self.get(opaque_id::OPAQUE_DATA_VERSION).map(le_u64)
    }

    /// FEATURE_FLAG: 2 is Protected PCIe; NVIDIA's own verifiers disagree on 0 and 1 (single
    /// GPU vs multi-GPU passthrough), so only the raw value is given for those.
    pub fn feature_flag(&self) -> Option<u64> {
        self.get(opaque_id::FEATURE_FLAG).map(le_u64)
    }

    /// SWITCH_PDI as NVIDIA's claim writes it: each 8-byte PDI byte-reversed, upper-case hex,
    /// deduplicated and sorted.
    pub fn switch_pdis(&self) -> Option<Vec<String>> {
        self.get(opaque_id::SWITCH_PDI).map(|d| {
            let mut v: Vec<String> = d
                .chunks_exact(8)
                .map(|c| {
                    let mut r = c.to_vec();
                    r.reverse();
                    hex::encode_upper(r)
                })
                .collect();
            v.sort();
            v.dedup();
            v
        })
    }
}

fn status(d: &[u8]) -> Option<Status> {
    match d {
        [0xAA] => Some(Status::Enabled),
        [0x55] => Some(Status::Disabled),
        _ => None,
    }
}

/// A little-endian integer of up to 8 bytes (longer input keeps its first 8 bytes).
fn le_u64(d: &[u8]) -> u64 {
    d.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &b| acc << 8 | b as u64)
}

/// A parsed report. `raw` keeps the exact bytes: the signature covers `raw[..signed_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The request.
    pub request: Request,
    /// The response's SPDMVersion.
    pub spdm_version: u8,
    /// The response's Param1.
    pub param1: u8,
    /// The response's Param2 (slot id in bits 3:0).
    pub param2: u8,
    /// The measurement blocks, in record order.
    pub blocks: Vec<MeasurementBlock>,
    /// The responder's (GPU's) nonce: signed, not compared to anything.
    pub responder_nonce: [u8; NONCE_LEN],
    /// The opaque data.
    pub opaque: OpaqueData,
    /// The signature `r‖s`.
    pub signature: [u8; SIGNATURE_LEN],
    /// Length of the signed region (request ‖ response up to the signature).
    pub signed_len: usize,
    /// Bytes after the signature (only with [`ParseOptions::allow_trailing_data`]).
    pub trailing: usize,
    raw: Vec<u8>,
}

impl Report {
    /// Parses a report with default options (no trailing bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_with(bytes, ParseOptions::default())
    }

    /// Parses a report.
    pub fn parse_with(bytes: &[u8], opts: ParseOptions) -> Result<Self> {
        if bytes.len() > MAX_REPORT_LEN {
            return Err(EvidenceError::malformed(
                S,
                "length",
                0,
                format!(
                    "{} bytes, more than NVML's {MAX_REPORT_LEN}-byte buffer",
                    bytes.len()
                ),
            ));
        }
        let mut c = Reader::new(S, bytes);
        // Request.
        let spdm_version = c.expect_u8("request SPDMVersion", SPDM_VERSION)?;
        c.expect_u8("request RequestResponseCode", GET_MEASUREMENTS)?;
        let param1 = c.u8("request Param1")?;
        let param2 = c.u8("request Param2")?;
        let nonce: [u8; NONCE_LEN] = c.array("request Nonce")?;
        let slot_id = c.u8("request SlotIDParam")?;
        let request = Request {
            spdm_version,
            param1,
            param2,
            nonce,
            slot_id,
        };
        // Response header.
        let version = c.expect_u8("response SPDMVersion", SPDM_VERSION)?;
        c.expect_u8("response RequestResponseCode", MEASUREMENTS)?;
        let rparam1 = c.u8("response Param1")?;
        let rparam2 = c.u8("response Param2")?;
        let nblocks_at = c.position();
        let nblocks = c.u8("NumberOfBlocks")?;
        if nblocks == 0 {
            return Err(EvidenceError::malformed(
                S,
                "NumberOfBlocks",
                nblocks_at,
                "is 0: the report measures nothing",
            ));
        }
        let l1 = c.u24("MeasurementRecordLength")?;
        let blocks = parse_record(c.sub(l1, "MeasurementRecord")?, nblocks)?;
        let responder_nonce: [u8; NONCE_LEN] = c.array("Nonce")?;
        let l2_at = c.position();
        let l2 = c.u16("OpaqueLength")? as usize;
        if l2 == 0 {
            return Err(EvidenceError::malformed(
                S,
                "OpaqueLength",
                l2_at,
                "is 0: NVIDIA reports always carry opaque data",
            ));
        }
        let opaque = parse_opaque(c.sub(l2, "OpaqueData")?)?;
        let signed_len = c.position();
        let signature: [u8; SIGNATURE_LEN] = c.array("Signature")?;
        let trailing = c.left();
        if trailing > 0 && !opts.allow_trailing_data {
            return Err(EvidenceError::malformed(
                S,
                "length",
                c.position(),
                format!(
                    "{trailing} byte(s) after the signature (unsigned data; accepted only with the \
                     trailing-data option)"
                ),
            ));
        }
        Ok(Report {
            request,
            spdm_version: version,
            param1: rparam1,
            param2: rparam2,
            blocks,
            responder_nonce,
            opaque,
            signature,
            signed_len,
            trailing,
            raw: c.consumed().to_vec(),
        })
    }

    /// The signed bytes: request ‖ response up to and including the opaque data.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.raw[..self.signed_len]
    }

    /// The report as parsed, without trailing bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The measurement of SPDM block `index` (1-based), if the record has it.
    pub fn measurement(&self, index: u8) -> Option<&[u8]> {
        self.blocks
            .iter()
            .find(|b| b.index == index)
            .map(|b| b.value.as_slice())
    }
}

fn parse_record(mut c: Reader<'_>, nblocks: u8) -> Result<Vec<MeasurementBlock>> {
    let mut blocks: Vec<MeasurementBlock> = Vec::with_capacity(nblocks as usize);
    for _ in 0..nblocks {
        let at = c.position();
        let index = c.u8("measurement block Index").map_err(|_| {
            c.malformed(
                "MeasurementRecord",
                at,
                format!("ends after {} of {nblocks} blocks", blocks.len()),
            )
        })?;
        if index == 0 || blocks.last().is_some_and(|b| b.index >= index) {
            return Err(c.malformed(
                "measurement block Index",
                at,
                format!("{index} is 0 or not ascending"),
            ));
        }
        let spec_at = c.position();
        let spec = c.u8("MeasurementSpecification")?;
        if spec != 0x01 {
            return Err(c.malformed(
                "MeasurementSpecification",
                spec_at,
                format!("is {spec:#04x}, only DMTF (0x01) is defined"),
            ));
        }
        let size_at = c.position();
        let size = c.u16("MeasurementSize")? as usize;
        let mut m = c.sub(size, "Measurement")?;
        if size < 3 {
            return Err(c.malformed(
                "MeasurementSize",
                size_at,
                format!("{size} is too small for a DMTF measurement"),
            ));
        }
        let value_type = m.u8("DMTFSpecMeasurementValueType")?;
        let v = m.u16("DMTFSpecMeasurementValueSize")? as usize;
        if v + 3 != size {
            return Err(c.malformed(
                "DMTFSpecMeasurementValueSize",
                size_at + 3,
                format!("{v} does not fill the {size}-byte measurement"),
            ));
        }
        blocks.push(MeasurementBlock {
            index,
            value_type,
            value: m.rest().to_vec(),
        });
    }
    if !c.is_done() {
        return Err(c.malformed(
            "MeasurementRecordLength",
            c.position(),
            format!("{} bytes left after {nblocks} blocks", c.left()),
        ));
    }
    Ok(blocks)
}

/// The size rule of each TLV with a decoded meaning: exact size, or a multiple.
fn check_tlv(id: u16, data: &[u8]) -> std::result::Result<(), String> {
    let exact = |n: usize| {
        if data.len() == n {
            Ok(())
        } else {
            Err(format!("{} bytes, expected {n}", data.len()))
        }
    };
    let ascii = || {
        let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
        if data[..end].iter().all(|b| b.is_ascii_graphic()) && data[end..].iter().all(|&b| b == 0) {
            Ok(())
        } else {
            Err("not NUL-terminated printable ASCII".to_string())
        }
    };
    match id {
        opaque_id::DRIVER_VERSION
        | opaque_id::CHIP_SKU
        | opaque_id::CHIP_SKU_MOD
        | opaque_id::PROJECT
        | opaque_id::PROJECT_SKU
        | opaque_id::PROJECT_SKU_MOD
        | opaque_id::CHIP_INFO => ascii(),
        opaque_id::VBIOS_VERSION => exact(8),
        opaque_id::FWID => exact(48),
        opaque_id::MSRSCNT => exact(256),
        opaque_id::BOARD_ID => exact(4),
        opaque_id::NVDEC0_STATUS | opaque_id::PROTECTED_PCIE_STATUS => match data {
            [0xAA | 0x55] => Ok(()),
            [v] => Err(format!(
                "{v:#04x} is neither 0xAA (enabled) nor 0x55 (disabled)"
            )),
            _ => exact(1),
        },
        opaque_id::SWITCH_PDI => {
            if data.len().is_multiple_of(8) {
                Ok(())
            } else {
                Err(format!(
                    "{} bytes is not a whole number of 8-byte PDIs",
                    data.len()
                ))
            }
        }
        opaque_id::OPAQUE_DATA_VERSION | opaque_id::FEATURE_FLAG => {
            if (1..=8).contains(&data.len()) {
                Ok(())
            } else {
                Err(format!("{} bytes, expected 1 to 8", data.len()))
            }
        }
        _ => Ok(()),
    }
}

fn parse_opaque(mut c: Reader<'_>) -> Result<OpaqueData> {
    let mut fields: Vec<OpaqueField> = Vec::new();
    while !c.is_done() {
        let at = c.position();
        let id = c.u16("opaque DataType")?;
        let size = c.u16("opaque DataSize")? as usize;
        let Some(name) = opaque_name(id) else {
            return Err(EvidenceError::malformed(
                S,
                "opaque DataType",
                at,
                format!("unknown opaque-data id {id}"),
            ));
        };
        if fields.iter().any(|f| f.id == id) {
            return Err(EvidenceError::malformed(
                S,
                "opaque DataType",
                at,
                format!("{name} ({id}) appears twice"),
            ));
        }
        let d = c.take(size, "opaque Data")?;
        if let Err(reason) = check_tlv(id, d) {
            return Err(EvidenceError::malformed(
                S,
                "opaque Data",
                at + 4,
                format!("{name}: {reason}"),
            ));
        }
        if id == opaque_id::OPAQUE_DATA_VERSION && le_u64(d) > 1 {
            return Err(EvidenceError::UnsupportedVersion {
                structure: "NVIDIA opaque data",
                version: le_u64(d).min(u32::MAX as u64) as u32,
            });
        }
        fields.push(OpaqueField {
            id,
            offset: at + 4,
            data: d.to_vec(),
        });
    }
    Ok(OpaqueData { fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formed report: 2 blocks, the given TLVs, a zero signature.
    pub(crate) fn synthetic(tlvs: &[(u16, &[u8])], trailing: usize) -> Vec<u8> {
        let mut b = vec![0x11, 0xE0, 0x01, 0xFF];
        b.extend([7u8; 32]);
        b.push(0);
        b.extend([0x11, 0x60, 0, 0, 2]);
        let l1 = 2 * 55u32;
        b.extend(&l1.to_le_bytes()[..3]);
        for i in 1..=2u8 {
            b.extend([i, 1, 51, 0, 1, 48, 0]);
            b.extend([i; 48]);
        }
        b.extend([9u8; 32]);
        let mut opaque = Vec::new();
        for (id, d) in tlvs {
            opaque.extend(id.to_le_bytes());
            opaque.extend((d.len() as u16).to_le_bytes());
            opaque.extend(*d);
        }
        b.extend((opaque.len() as u16).to_le_bytes());
        b.extend(opaque);
        b.extend([0u8; 96]);
        b.extend(vec![0u8; trailing]);
        b
    }

    #[test]
    fn parses_a_synthetic_report_and_rejects_its_edits() {
        let ok = synthetic(
            &[(3, b"550.90.07\0"), (6, &[0, 0x9f, 0, 0x96, 1, 0, 0, 0])],
            0,
        );
        let r = Report::parse(&ok).unwrap();
        assert_eq!(r.blocks.len(), 2);
        assert_eq!(r.opaque.driver_version().unwrap(), "550.90.07");
        assert_eq!(r.opaque.vbios_version().unwrap(), "96.00.9F.00.01");
        assert_eq!(r.signed_len, ok.len() - 96);
        assert_eq!(r.measurement(2).unwrap(), &[2u8; 48][..]);

        // Each edit is refused at its field and offset.
        let at = |b: &[u8]| match Report::parse(b).unwrap_err() {
            EvidenceError::Malformed { field, offset, .. } => (field, offset),
            e => panic!("{e}"),
        };
        // Trailing byte: rejected unless allowed.
        let t = synthetic(&[(3, b"1\0")], 1);
        assert_eq!(at(&t), ("length", t.len() - 1));
        let lenient = Report::parse_with(
            &t,
            ParseOptions {
                allow_trailing_data: true,
            },
        )
        .unwrap();
        assert_eq!(lenient.trailing, 1);
        // Unknown and duplicate TLVs, a short FWID, a status byte neither 0xAA nor 0x55.
        assert_eq!(at(&synthetic(&[(99, b"x")], 0)), ("opaque DataType", 189));
        assert_eq!(
            at(&synthetic(&[(3, b"1\0"), (3, b"2\0")], 0)),
            ("opaque DataType", 195)
        );
        assert_eq!(at(&synthetic(&[(20, &[0u8; 47])], 0)), ("opaque Data", 193));
        assert_eq!(at(&synthetic(&[(11, &[0x12])], 0)), ("opaque Data", 193));
        assert!(
            Report::parse(&synthetic(&[(34, &[2, 0])], 0))
                .unwrap_err()
                .kind()
                == "unsupported_version"
        );
        // Wrong version, wrong code, block index 0, truncation at every length.
        let mut v = ok.clone();
        v[37] = 0x12;
        assert_eq!(at(&v), ("response SPDMVersion", 0x25));
        let mut v = ok.clone();
        v[45] = 0;
        assert_eq!(at(&v), ("measurement block Index", 45));
        for n in 0..ok.len() {
            assert!(Report::parse(&ok[..n]).is_err(), "prefix {n}");
        }
    }
}
