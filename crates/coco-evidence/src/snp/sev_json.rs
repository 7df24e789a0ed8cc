//! The `sev` crate's serde JSON form of an ATTESTATION_REPORT, as Confidential Containers' KBS
//! clients send it (`tee-evidence.attestation_report`): byte arrays as JSON integer arrays,
//! TCB versions as `{fmc, bootloader, tee, snp, microcode}`, firmware versions as
//! `{major, minor, build}`, the signature as `{r, s}` (72 little-endian bytes each).
//!
//! Nothing in the JSON is trusted: [`to_report_bytes`] rebuilds the exact 1184 bytes the
//! firmware signed (reserved fields zero), and the signature check of
//! [`verify`](super::verify()) then proves every value; a changed value fails there, an
//! unknown, missing or out-of-range one fails here with the field named. [`to_sev_json`] is the
//! inverse (what a client sends for a raw report).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use coco_evidence::snp::{Report, sev_json};
//! # let mut raw = vec![0u8; 1184];
//! # raw[0] = 3; raw[0x34] = 1; raw[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
//! # raw[0x188] = 0x19; raw[0x189] = 0xA0;
//! let report = Report::parse(&raw)?;
//! let json = sev_json::to_sev_json(&report);
//! assert_eq!(sev_json::to_report_bytes(&json)?, raw);
//! # Ok(()) }
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use super::abi::{Product, REPORT_LEN, Report};
use crate::error::{EvidenceError, Result};

const S: &str = "SNP report (sev JSON)";

fn bad(field: &'static str, offset: usize, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::malformed(S, field, offset, reason)
}

/// A TCB_VERSION as the sev crate writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonTcb {
    #[serde(default)]
    fmc: Option<u8>,
    bootloader: u8,
    tee: u8,
    snp: u8,
    microcode: u8,
}

/// A firmware version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonVersion {
    major: u8,
    minor: u8,
    build: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonSignature {
    r: Vec<u8>,
    s: Vec<u8>,
}

/// The report as the sev crate (6.x) serialises it; every field required unless optional there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonReport {
    version: u32,
    guest_svn: u32,
    policy: u64,
    family_id: Vec<u8>,
    image_id: Vec<u8>,
    vmpl: u32,
    sig_algo: u32,
    current_tcb: JsonTcb,
    plat_info: u64,
    key_info: u32,
    report_data: Vec<u8>,
    measurement: Vec<u8>,
    host_data: Vec<u8>,
    id_key_digest: Vec<u8>,
    author_key_digest: Vec<u8>,
    report_id: Vec<u8>,
    report_id_ma: Vec<u8>,
    reported_tcb: JsonTcb,
    #[serde(default)]
    cpuid_fam_id: Option<u8>,
    #[serde(default)]
    cpuid_mod_id: Option<u8>,
    #[serde(default)]
    cpuid_step: Option<u8>,
    chip_id: Vec<u8>,
    committed_tcb: JsonTcb,
    current: JsonVersion,
    committed: JsonVersion,
    launch_tcb: JsonTcb,
    #[serde(default)]
    launch_mit_vector: Option<u64>,
    #[serde(default)]
    current_mit_vector: Option<u64>,
    signature: JsonSignature,
}

/// Puts `src` at `off`, requiring exactly `len` bytes.
fn put(out: &mut [u8], off: usize, len: usize, src: &[u8], field: &'static str) -> Result<()> {
    if src.len() != len {
        return Err(bad(
            field,
            off,
            format!("{} bytes, the field has {len}", src.len()),
        ));
    }
    out[off..off + len].copy_from_slice(src);
    Ok(())
}

/// Encodes a TCB for the layout of `turin` (FMC present) or Milan/Genoa (FMC absent).
fn put_tcb(
    out: &mut [u8],
    off: usize,
    t: &JsonTcb,
    turin: bool,
    field: &'static str,
) -> Result<()> {
    let raw = match (turin, t.fmc) {
        (true, Some(fmc)) => [fmc, t.bootloader, t.tee, t.snp, 0, 0, 0, t.microcode],
        (false, None) => [t.bootloader, t.tee, 0, 0, 0, 0, t.snp, t.microcode],
        (true, None) => {
            return Err(bad(field, off, "fmc is missing (required on Turin)"));
        }
        (false, Some(_)) => {
            return Err(bad(field, off, "fmc is set (only Turin has one)"));
        }
    };
    out[off..off + 8].copy_from_slice(&raw);
    Ok(())
}

/// A 48-byte signature component (at most 48 significant bytes of the 72, little-endian).
fn put_sig(out: &mut [u8], off: usize, v: &[u8], field: &'static str) -> Result<()> {
    if v.len() != 72 {
        return Err(bad(
            field,
            off,
            format!("{} bytes, the field has 72", v.len()),
        ));
    }
    out[off..off + 72].copy_from_slice(v);
    Ok(())
}

/// Rebuilds the 1184-byte report from its sev JSON form (`attestation_report` of a KBS SNP
/// evidence). The result still has to be parsed and verified.
pub fn to_report_bytes(json: &Value) -> Result<Vec<u8>> {
    let r =
        JsonReport::deserialize(json).map_err(|e| bad("attestation_report", 0, e.to_string()))?;
    let mut b = vec![0u8; REPORT_LEN];
    b[0x000..0x004].copy_from_slice(&r.version.to_le_bytes());
    b[0x004..0x008].copy_from_slice(&r.guest_svn.to_le_bytes());
    b[0x008..0x010].copy_from_slice(&r.policy.to_le_bytes());
    put(&mut b, 0x010, 16, &r.family_id, "family_id")?;
    put(&mut b, 0x020, 16, &r.image_id, "image_id")?;
    b[0x030..0x034].copy_from_slice(&r.vmpl.to_le_bytes());
    b[0x034..0x038].copy_from_slice(&r.sig_algo.to_le_bytes());
    b[0x040..0x048].copy_from_slice(&r.plat_info.to_le_bytes());
    b[0x048..0x04C].copy_from_slice(&r.key_info.to_le_bytes());
    put(&mut b, 0x050, 64, &r.report_data, "report_data")?;
    put(&mut b, 0x090, 48, &r.measurement, "measurement")?;
    put(&mut b, 0x0C0, 32, &r.host_data, "host_data")?;
    put(&mut b, 0x0E0, 48, &r.id_key_digest, "id_key_digest")?;
    put(&mut b, 0x110, 48, &r.author_key_digest, "author_key_digest")?;
    put(&mut b, 0x140, 32, &r.report_id, "report_id")?;
    put(&mut b, 0x160, 32, &r.report_id_ma, "report_id_ma")?;
    let cpuid = match (r.cpuid_fam_id, r.cpuid_mod_id, r.cpuid_step) {
        (Some(f), Some(m), Some(s)) if r.version >= 3 => Some((f, m, s)),
        (None, None, None) if r.version < 3 => None,
        _ => {
            return Err(bad(
                "cpuid_fam_id",
                0x188,
                format!(
                    "the CPUID fields are present exactly in reports of version 3 and later \
                     (this one is version {})",
                    r.version
                ),
            ));
        }
    };
    if let Some((f, m, s)) = cpuid {
        b[0x188] = f;
        b[0x189] = m;
        b[0x18A] = s;
    }
    // The TCB layout follows the product; without CPUID (v2) only Milan and Genoa exist.
    let turin = cpuid.and_then(|(f, m, _)| Product::from_cpuid(f, m)) == Some(Product::Turin);
    put_tcb(&mut b, 0x038, &r.current_tcb, turin, "current_tcb")?;
    put_tcb(&mut b, 0x180, &r.reported_tcb, turin, "reported_tcb")?;
    put(&mut b, 0x1A0, 64, &r.chip_id, "chip_id")?;
    put_tcb(&mut b, 0x1E0, &r.committed_tcb, turin, "committed_tcb")?;
    b[0x1E8] = r.current.build;
    b[0x1E9] = r.current.minor;
    b[0x1EA] = r.current.major;
    b[0x1EC] = r.committed.build;
    b[0x1ED] = r.committed.minor;
    b[0x1EE] = r.committed.major;
    put_tcb(&mut b, 0x1F0, &r.launch_tcb, turin, "launch_tcb")?;
    match (r.launch_mit_vector, r.current_mit_vector) {
        (Some(l), Some(c)) if r.version >= 5 => {
            b[0x1F8..0x200].copy_from_slice(&l.to_le_bytes());
            b[0x200..0x208].copy_from_slice(&c.to_le_bytes());
        }
        (None, None) if r.version < 5 => {}
        _ => {
            return Err(bad(
                "launch_mit_vector",
                0x1F8,
                format!(
                    "the mitigation vectors are present exactly in reports of version 5 and \
                     later (this one is version {})",
                    r.version
                ),
            ));
        }
    }
    put_sig(&mut b, 0x2A0, &r.signature.r, "signature.r")?;
    put_sig(&mut b, 0x2E8, &r.signature.s, "signature.s")?;
    Ok(b)
}

fn tcb_json(raw: [u8; 8], turin: bool) -> Value {
    if turin {
        json!({"fmc": raw[0], "bootloader": raw[1], "tee": raw[2], "snp": raw[3], "microcode": raw[7]})
    } else {
        json!({"fmc": null, "bootloader": raw[0], "tee": raw[1], "snp": raw[6], "microcode": raw[7]})
    }
}

/// The sev JSON form of a parsed report (what a KBS client sends as `attestation_report`).
pub fn to_sev_json(r: &Report) -> Value {
    let raw = &r.raw;
    let turin = r.cpuid_product() == Some(Product::Turin);
    let tcb = |off: usize| {
        let mut t = [0u8; 8];
        t.copy_from_slice(&raw[off..off + 8]);
        tcb_json(t, turin)
    };
    let version = |(major, minor, build): (u8, u8, u8)| json!({"major": major, "minor": minor, "build": build});
    let mut v = json!({
        "version": r.version,
        "guest_svn": r.guest_svn,
        "policy": r.policy,
        "family_id": r.family_id,
        "image_id": r.image_id,
        "vmpl": r.vmpl,
        "sig_algo": r.signature_algo,
        "current_tcb": tcb(0x038),
        "plat_info": r.platform_info,
        "key_info": u32::from_le_bytes([raw[0x48], raw[0x49], raw[0x4A], raw[0x4B]]),
        "report_data": r.report_data.to_vec(),
        "measurement": r.measurement.to_vec(),
        "host_data": r.host_data,
        "id_key_digest": r.id_key_digest.to_vec(),
        "author_key_digest": r.author_key_digest.to_vec(),
        "report_id": r.report_id,
        "report_id_ma": r.report_id_ma,
        "reported_tcb": tcb(0x180),
        "cpuid_fam_id": r.cpuid.map(|c| c.0),
        "cpuid_mod_id": r.cpuid.map(|c| c.1),
        "cpuid_step": r.cpuid.map(|c| c.2),
        "chip_id": r.chip_id.to_vec(),
        "committed_tcb": tcb(0x1E0),
        "current": version(r.current_version),
        "committed": version(r.committed_version),
        "launch_tcb": tcb(0x1F0),
        "signature": {
            "r": raw[0x2A0..0x2E8].to_vec(),
            "s": raw[0x2E8..0x330].to_vec(),
        },
    });
    if r.version >= 5 {
        v["launch_mit_vector"] = r.launch_mit_vector.into();
        v["current_mit_vector"] = r.current_mit_vector.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(version: u32, family: u8, model: u8) -> Vec<u8> {
        let mut raw = vec![0u8; REPORT_LEN];
        raw[0..4].copy_from_slice(&version.to_le_bytes());
        raw[0x34] = 1;
        raw[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
        if version >= 3 {
            raw[0x188] = family;
            raw[0x189] = model;
        }
        for (i, x) in raw[0x050..0x180].iter_mut().enumerate() {
            *x = i as u8;
        }
        raw[0x038..0x040].copy_from_slice(&[1, 2, 0, 0, 0, 0, 3, 4]);
        raw[0x2A0..0x2D0].fill(9);
        raw
    }

    #[test]
    fn round_trips_every_version_and_layout() {
        for (v, f, m) in [(2, 0, 0), (3, 0x19, 0x01), (3, 0x19, 0xA0), (5, 0x1A, 0x02)] {
            let mut raw = report(v, f, m);
            if f == 0x1A {
                raw[0x038..0x040].copy_from_slice(&[5, 1, 2, 3, 0, 0, 0, 4]);
            }
            if v >= 5 {
                raw[0x1F8] = 7;
                raw[0x200] = 8;
            }
            let parsed = Report::parse(&raw).unwrap();
            let json = to_sev_json(&parsed);
            assert_eq!(to_report_bytes(&json).unwrap(), raw, "version {v}");
        }
    }

    #[test]
    fn refuses_wrong_lengths_unknown_fields_and_misplaced_optionals() {
        let json = to_sev_json(&Report::parse(&report(3, 0x19, 0xA0)).unwrap());
        let field = |j: &Value| match to_report_bytes(j) {
            Err(EvidenceError::Malformed { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut j = json.clone();
        j["measurement"].as_array_mut().unwrap().pop();
        assert_eq!(field(&j), "measurement");
        let mut j = json.clone();
        j["extra"] = 1.into();
        assert_eq!(field(&j), "attestation_report");
        let mut j = json.clone();
        j["current_tcb"]["fmc"] = 1.into();
        assert_eq!(field(&j), "current_tcb");
        let mut j = json.clone();
        j["cpuid_step"] = Value::Null;
        assert_eq!(field(&j), "cpuid_fam_id");
        let mut j = json.clone();
        j["launch_mit_vector"] = 1.into();
        j["current_mit_vector"] = 1.into();
        assert_eq!(field(&j), "launch_mit_vector");
        let mut j = json;
        j["signature"]["s"].as_array_mut().unwrap().push(0.into());
        assert_eq!(field(&j), "signature.s");
    }
}
