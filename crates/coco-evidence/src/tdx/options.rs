//! The options of TDX verification (shared by the quote and the collateral verifiers).

use std::time::SystemTime;

use crate::x509::Cert;

/// Options of TDX verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The time at which certificates, CRLs and collateral must be valid.
    pub at: SystemTime,
    /// Require the PCK CRL and the Root CA CRL (default). When off, missing revocation data
    /// is accepted and the evidence says `revocation_checked: false`.
    pub check_revocation: bool,
    /// Accept arbitrary (unsigned, ignored) bytes after the quote structure. Off by default:
    /// then only zero padding is accepted.
    pub allow_trailing_data: bool,
    /// A root to trust instead of the pinned Intel SGX Root CA. Only for roots the caller
    /// controls (tests, simulated TEEs); `None` (the default) trusts Intel's root alone.
    pub root: Option<Cert>,
}

impl VerifyOptions {
    /// Verification at `at` with revocation checks, trusting the pinned Intel root.
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            check_revocation: true,
            allow_trailing_data: false,
            root: None,
        }
    }

    /// Accepts missing revocation data.
    pub fn without_revocation_check(mut self) -> Self {
        self.check_revocation = false;
        self
    }

    /// Accepts arbitrary bytes after the quote structure.
    pub fn allowing_trailing_data(mut self) -> Self {
        self.allow_trailing_data = true;
        self
    }

    /// Trusts `root` instead of the pinned Intel SGX Root CA.
    pub fn with_trusted_root(mut self, root: Cert) -> Self {
        self.root = Some(root);
        self
    }
}
