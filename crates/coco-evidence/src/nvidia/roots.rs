//! NVIDIA's trust anchors, pinned: the `NVIDIA Device Identity CA` (root of every Hopper and
//! Blackwell device certificate chain) and the `NVIDIA CoRIM signing Root CA` (root of the
//! XML-DSig chains in driver and VBIOS RIMs). Nothing from input is ever trusted as a root;
//! a test checks both against the fingerprints NVIDIA's verifiers bundle.

use std::sync::OnceLock;

use crate::x509::{Cert, parse_certs};

const DEVICE_ROOT: &str = include_str!("roots/device-identity-ca.pem");
const RIM_ROOT: &str = include_str!("roots/corim-signing-root-ca.pem");

/// SHA-256 (DER) of the pinned `NVIDIA Device Identity CA`.
pub const DEVICE_ROOT_FINGERPRINT: &str =
    "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48";
/// SHA-256 (DER) of the pinned `NVIDIA CoRIM signing Root CA`.
pub const RIM_ROOT_FINGERPRINT: &str =
    "12977b5115acb0381179279fffeb5a8c4d264971ebb32298023a465fa41df5d1";

fn load(pem: &str) -> Cert {
    parse_certs(pem.as_bytes())
        .expect("pinned NVIDIA root parses")
        .remove(0)
}

/// The pinned `NVIDIA Device Identity CA`.
pub fn device_root() -> &'static Cert {
    static ROOT: OnceLock<Cert> = OnceLock::new();
    ROOT.get_or_init(|| load(DEVICE_ROOT))
}

/// The pinned `NVIDIA CoRIM signing Root CA`.
pub fn rim_root() -> &'static Cert {
    static ROOT: OnceLock<Cert> = OnceLock::new();
    ROOT.get_or_init(|| load(RIM_ROOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_roots_are_nvidias() {
        assert_eq!(device_root().fingerprint(), DEVICE_ROOT_FINGERPRINT);
        assert_eq!(device_root().subject_cn(), "NVIDIA Device Identity CA");
        assert_eq!(rim_root().fingerprint(), RIM_ROOT_FINGERPRINT);
        assert_eq!(rim_root().subject_cn(), "NVIDIA CoRIM signing Root CA");
    }
}
