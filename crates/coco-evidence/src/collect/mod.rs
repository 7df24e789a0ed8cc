//! Evidence collection inside the confidential VM (feature `collect`), in one place:
//! [`tsm`] asks the kernel's configfs-tsm interface for the CPU's TDX quote or SNP report
//! (with its certificate table), [`nvml`] asks NVML for every NVIDIA GPU's attestation report
//! and certificate chain. Nothing collected here is trusted: it is evidence for a verifier.

pub mod nvml;
pub mod tsm;
