//! The shared loader of real evidence vectors (`COCO_VECTORS`, default `../shared/vectors`
//! beside the repository). A missing vector is a failure, never a skip.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn vectors() -> PathBuf {
    let dir = std::env::var_os("COCO_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        });
    assert!(
        dir.is_dir(),
        "evidence vectors not found at {} (set COCO_VECTORS)",
        dir.display()
    );
    dir
}

/// The sample folders of one platform, sorted.
pub fn samples(platform: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(vectors().join(platform))
        .unwrap_or_else(|e| panic!("vectors/{platform}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no samples in vectors/{platform}");
    out
}

pub fn expected(sample: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sample.join("expected.json")).unwrap()).unwrap()
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses "YYYY-MM-DD HH:MM:SS+00:00" or "YYYY-MM-DDTHH:MM:SSZ".
pub fn time(s: &str) -> SystemTime {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    let secs = days * 86400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}
