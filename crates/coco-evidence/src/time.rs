//! The injected clock: RFC 3339 timestamps to `SystemTime`, without a calendar dependency.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{EvidenceError, Result};

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses an RFC 3339 UTC timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)` (a space is
/// accepted in place of `T`; other offsets are applied).
///
/// ```
/// use coco_evidence::time::parse_rfc3339;
/// let t = parse_rfc3339("2025-12-10T22:14:21Z").unwrap();
/// assert_eq!(t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1765404861);
/// assert!(parse_rfc3339("yesterday").is_err());
/// ```
pub fn parse_rfc3339(s: &str) -> Result<SystemTime> {
    let bad = || {
        EvidenceError::Platform(format!(
            "not an RFC 3339 time: {s:?} (e.g. 2026-01-31T12:00:00Z)"
        ))
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |a: usize, z: usize| -> Result<i64> {
        s.get(a..z)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    let (y, mo, d, h, mi, se) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(secs)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .map_err(|_| bad())
}
