//! The injected clock: RFC 3339 timestamps to `SystemTime` (see [`coco_core::time`]).

use std::time::SystemTime;

use crate::error::{EvidenceError, Result};

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
    coco_core::time::parse_rfc3339(s).ok_or_else(|| EvidenceError::Usage {
        option: "at",
        reason: format!("not an RFC 3339 time: {s:?} (e.g. 2026-01-31T12:00:00Z)"),
    })
}
