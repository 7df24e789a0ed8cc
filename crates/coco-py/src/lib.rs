//! # coco-py
//!
//! The Python face of coco: a PyO3 extension module named `coco`, built with maturin, for model
//! loaders (vLLM, TensorRT-LLM, Triton, plain `safetensors`). It exposes key generation,
//! sealing and unsealing of files, a binary file object over a sealed file (random access,
//! `readinto` straight into the caller's buffer), a sealed-safetensors loader and evidence
//! verification, releasing the GIL during crypto.
//!
//! The bindings land with the Python issue; the Rust engine they wrap is `coco-seal`.
