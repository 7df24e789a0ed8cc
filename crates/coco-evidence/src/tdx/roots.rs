//! The Intel SGX Root CA, pinned. Nothing from input is ever trusted as a root; another root
//! is used only when a caller names it explicitly (tests, simulated TEEs).
//!
//! This is Intel's public self-signed root certificate (the one every PCK and TCB signing
//! chain ends in); its SHA-256 fingerprint is checked by a test.
//!
//! Intel's long-lived intermediates (both editions of the TCB Signing certificate and the PCK
//! Platform CA) are also known here, byte for byte. A chain presenting one of them skips that
//! one signature check against the root: a test proves each is signed by the pinned root, so
//! this adds no trust; validity and revocation are still checked on every use.

use std::sync::OnceLock;

use crate::x509::{Cert, parse_certs};

const INTEL_SGX_ROOT_CA: &str = include_str!("roots/intel-sgx-root-ca.pem");

/// SHA-256 fingerprint (DER) of the pinned Intel SGX Root CA.
pub const INTEL_ROOT_FINGERPRINT: &str =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

const KNOWN_INTERMEDIATES: [&str; 3] = [
    include_str!("roots/intel-sgx-tcb-signing-2018.pem"),
    include_str!("roots/intel-sgx-tcb-signing-2025.pem"),
    include_str!("roots/intel-sgx-pck-platform-ca.pem"),
];

/// SHA-256 fingerprints (DER) of the known intermediates: TCB Signing 2018 and 2025 editions,
/// PCK Platform CA.
pub const KNOWN_INTERMEDIATE_FINGERPRINTS: [&str; 3] = [
    "ec37d98107bfb7dab6ff8de4d4dda6fde30a6f50b0d7b03eefb5652f1e652969",
    "c0575e76d0303b61d09cde8cbdb70db34a74f38318300d7c0e6ba8cf4bf45aea",
    "22eb770dca215b607b5ccfc21a672b1da5cc660b1ad0365020567979edcaa0e1",
];

/// Intel's intermediates known to be signed by the pinned root.
pub fn known_intermediates() -> &'static [Cert] {
    static KNOWN: OnceLock<Vec<Cert>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        KNOWN_INTERMEDIATES
            .iter()
            .map(|pem| {
                parse_certs(pem.as_bytes())
                    .expect("known intermediate parses")
                    .remove(0)
            })
            .collect()
    })
}

/// Checks that `cert` is signed by `root`, unless `root` is the pinned Intel root and `cert`
/// is byte for byte one of Intel's known intermediates (signed by it, as a test proves).
pub(crate) fn check_issued_by_root(cert: &Cert, root: &Cert) -> crate::Result<()> {
    if root == intel_root() && known_intermediates().contains(cert) {
        return Ok(());
    }
    cert.verify_signed_by(root, None)
}

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
        root.verify_signed_by(root, None).unwrap();
    }

    #[test]
    fn known_intermediates_are_signed_by_the_pinned_root() {
        for (c, fp) in known_intermediates()
            .iter()
            .zip(KNOWN_INTERMEDIATE_FINGERPRINTS)
        {
            assert_eq!(c.fingerprint(), fp);
            c.verify_signed_by(intel_root(), None).unwrap();
        }
        assert_eq!(
            known_intermediates()[0].serial_hex(),
            known_intermediates()[1].serial_hex()
        );
    }
}
