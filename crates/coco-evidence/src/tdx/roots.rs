//! The Intel SGX Root CA, pinned. Nothing from input is ever trusted as a root; another root
//! is used only when a caller names it explicitly (tests, simulated TEEs).
//!
//! This is Intel's public self-signed root certificate (the one every PCK and TCB signing
//! chain ends in); its SHA-256 fingerprint is checked by a test.

use std::sync::OnceLock;

use crate::x509::{Cert, parse_certs};

const INTEL_SGX_ROOT_CA: &str = include_str!("roots/intel-sgx-root-ca.pem");

/// SHA-256 fingerprint (DER) of the pinned Intel SGX Root CA.
pub const INTEL_ROOT_FINGERPRINT: &str =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

/// The pinned Intel SGX Root CA.
pub fn intel_root() -> &'static Cert {
    static ROOT: OnceLock<Cert> = OnceLock::new();
    ROOT.get_or_init(|| {
        parse_certs(INTEL_SGX_ROOT_CA.as_bytes())
            .expect("pinned Intel root parses")
            .remove(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_root_is_the_published_one_and_self_signed() {
        let root = intel_root();
        assert_eq!(root.fingerprint(), INTEL_ROOT_FINGERPRINT);
        assert_eq!(root.subject_cn(), "Intel SGX Root CA");
        root.verify_signed_by(root).unwrap();
    }
}
