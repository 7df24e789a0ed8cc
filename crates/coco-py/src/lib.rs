//! # coco-py
//!
//! The Python face of coco: the extension module `coco._coco`, wrapped by the pure-Python
//! package `coco` (see `python/coco`), built with maturin as an abi3 wheel (CPython 3.11+).
//! For model loaders (vLLM, TensorRT-LLM, Triton, plain `safetensors`): key generation,
//! sealing and unsealing of files and model directories, random-access readers whose
//! `readinto` writes straight into the caller's buffer, and parallel range reads that fill a
//! numpy array in place. The GIL is released during crypto and I/O.
//!
//! This crate is one of the two places in coco where `unsafe` is allowed, and only with a
//! `// SAFETY:` comment on each block.
//!
//! Modules: `errors` (exception classes), `buffer` (keys and borrowed buffers), `seal`
//! (sealing, unsealing, inspection), `reader` (random access), `evidence` (verification,
//! appraisal, EARs), `release` (key release), `sim` (the simulated TEE; cargo feature `sim`).

mod buffer;
mod errors;
mod evidence;
mod reader;
mod release;
mod seal;
#[cfg(feature = "sim")]
mod sim;

use pyo3::prelude::*;

use errors::*;
use evidence::*;
use reader::*;
use release::*;
use seal::*;

/// The extension module.
#[pymodule]
fn _coco(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CocoError", py.get_type::<CocoError>())?;
    m.add("WrongKeyError", py.get_type::<WrongKeyError>())?;
    m.add("TamperedError", py.get_type::<TamperedError>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("ReleaseError", py.get_type::<ReleaseError>())?;
    m.add_class::<SealedReader>()?;
    #[cfg(feature = "sim")]
    m.add_class::<sim::SimulatedTee>()?;
    m.add_function(wrap_pyfunction!(fetch_key_raw, m)?)?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(appraise_json, m)?)?;
    m.add_function(wrap_pyfunction!(verify_ear_json, m)?)?;
    m.add_function(wrap_pyfunction!(seal_file, m)?)?;
    m.add_function(wrap_pyfunction!(seal_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(unseal_file, m)?)?;
    m.add_function(wrap_pyfunction!(seal_dir, m)?)?;
    m.add_function(wrap_pyfunction!(unseal_dir, m)?)?;
    m.add_function(wrap_pyfunction!(open_reader, m)?)?;
    m.add_function(wrap_pyfunction!(open_model_dir, m)?)?;
    m.add_function(wrap_pyfunction!(inspect_json, m)?)?;
    m.add_function(wrap_pyfunction!(verify_evidence_json, m)?)?;
    Ok(())
}
