//! The options of TDX verification (shared by the quote and the collateral verifiers).

use std::time::SystemTime;

use super::cache::ChainCache;
use super::pcs::Collateral;
use crate::verified::Verified;
use crate::x509::Cert;

/// Options of TDX verification: the time, revocation, the trusted root, the verified
/// collateral and the chain cache.
#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
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
    /// Verified Intel PCS collateral (TCB Info, QE Identity, CRLs): with it the quote gets a
    /// TCB status and its chain is checked for revocation. Without it only signatures, chain
    /// and binding are checked.
    pub collateral: Option<&'a Verified<Collateral>>,
    /// PCK chains and PCK CRL signatures already verified.
    pub cache: Option<&'a ChainCache>,
}

impl<'a> VerifyOptions<'a> {
    /// Verification at `at` with revocation checks, trusting the pinned Intel root.
    pub fn at(at: SystemTime) -> Self {
        Self {
            at,
            check_revocation: true,
            allow_trailing_data: false,
            root: None,
            collateral: None,
            cache: None,
        }
    }

    /// Evaluates the quote against verified `collateral`.
    pub fn with_collateral(mut self, collateral: &'a Verified<Collateral>) -> Self {
        self.collateral = Some(collateral);
        self
    }

    /// Reuses chain checks remembered in `cache` (and remembers new ones there).
    pub fn with_cache(mut self, cache: &'a ChainCache) -> Self {
        self.cache = Some(cache);
        self
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
