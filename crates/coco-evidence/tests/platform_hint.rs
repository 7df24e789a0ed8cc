//! Real evidence given under the wrong platform: the error is a usage error of `platform`
//! that says what the bytes look like, instead of the parser's complaint alone.

use coco_evidence::EvidenceError;
use coco_evidence::api::{self, Options};

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(coco_evidence::vectors::dir().join(rel)).unwrap()
}

#[test]
fn evidence_of_another_platform_names_the_right_one() {
    let snp = read("snp/milan-v2-virtee-sev/report.bin");
    let tdx = read("tdx/v4-dcap-qvl-uptodate/quote.bin");
    let gpu = read("nvidia/hopper-h100-550.90.07/attestation_report.bin");
    let opts = Options {
        at: Some("2025-07-01T00:00:00Z".into()),
        ..Options::default()
    };
    for (platform, bytes, hint) in [
        ("tdx", &snp, "--platform snp"),
        ("snp", &tdx, "--platform tdx"),
        ("snp", &gpu, "--platform nvidia"),
        ("tdx", &gpu, "--platform nvidia"),
    ] {
        match api::verify(platform, bytes, &opts) {
            Err(EvidenceError::Usage { option, reason }) => {
                assert_eq!(option, "platform");
                assert!(reason.contains(hint), "{platform}: {reason}");
            }
            other => panic!("{platform}: {other:?}"),
        }
    }
    // Evidence of the platform named keeps its own error (here: no certificates given).
    let e = api::verify("snp", &snp, &opts).unwrap_err();
    assert!(
        !matches!(
            e,
            EvidenceError::Usage {
                option: "platform",
                ..
            }
        ),
        "{e}"
    );
}
