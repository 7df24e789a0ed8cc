//! NVIDIA reference integrity manifests (placeholder, filled below).
