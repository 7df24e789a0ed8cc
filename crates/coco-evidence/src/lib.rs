//! # coco-evidence
//!
//! Attestation evidence, from bytes to verified claims.
//!
//! Every evidence format gets its own module split the way google/go-tdx-guest splits it:
//!
//! 1. `abi`: bytes to a typed structure, bounds checks only, nothing trusted;
//! 2. `verify`: signatures, certificate chains to roots pinned in this crate, collateral and
//!    validity at an injected time, returning a `Verified<T>` that only this crate can build;
//! 3. `claims`: the verified structure as the claims of `coco-core`, named after the vendors'
//!    specifications.
//!
//! Formats: Intel TDX quotes (v4, v5) with offline collateral, AMD SEV-SNP attestation reports
//! (Milan, Genoa, Turin; VCEK and VLEK) and NVIDIA GPU SPDM attestation reports (Hopper,
//! Blackwell) with their reference integrity manifests. Evidence collection from configfs-tsm
//! and NVML sits behind the `collect` feature.
//!
//! The modules land one platform at a time; until a platform is here, this crate refuses to
//! claim it can verify it.
