//! Keys, sealing and unsealing of files, buffers and model directories, and header inspection.

use std::fs::File;
use std::path::PathBuf;

use coco_seal::manifest::load_verifying_key;
use coco_seal::{
    Dek, DirSealOptions, DirUnsealOptions, SealError, SealOptions, Sealer, UnsealOptions,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::buffer::*;
use crate::errors::*;

pub(crate) fn seal_options(chunk_size: Option<u64>, threads: usize) -> PyResult<SealOptions> {
    let mut o = match chunk_size {
        Some(c) => SealOptions::default().with_chunk_size(c).map_err(py_err)?,
        None => SealOptions::default(),
    };
    o.threads = threads;
    Ok(o)
}

/// generate_key() -> bytes: a fresh 32-byte data key.
#[pyfunction]
pub(crate) fn generate_key(py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
    let k = Dek::generate().map_err(py_err)?;
    Ok(PyBytes::new(py, k.as_bytes()))
}

/// seal_file(src, dst, key, chunk_size=None, threads=0): seals a file (output appears only
/// on success).
#[pyfunction]
#[pyo3(signature = (src, dst, key, chunk_size=None, threads=0))]
pub(crate) fn seal_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    key: &[u8],
    chunk_size: Option<u64>,
    threads: usize,
) -> PyResult<()> {
    let dek = dek(key)?;
    let opts = seal_options(chunk_size, threads)?;
    py.detach(|| Sealer::new(&dek, opts).seal_file(&src, &dst).map(|_| ()))
        .map_err(py_err)
}

/// seal_bytes(data, dst, key, chunk_size=None, threads=0): seals an in-memory buffer into
/// the file `dst` (output appears only on success).
#[pyfunction]
#[pyo3(signature = (data, dst, key, chunk_size=None, threads=0))]
pub(crate) fn seal_bytes(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dst: PathBuf,
    key: &[u8],
    chunk_size: Option<u64>,
    threads: usize,
) -> PyResult<()> {
    let dek = dek(key)?;
    let opts = seal_options(chunk_size, threads)?;
    let data = ReadableBuffer::get(data)?;
    let bytes = data.as_slice();
    py.detach(|| -> Result<(), SealError> {
        let mut out = coco_seal::output::AtomicFile::create(&dst)?;
        Sealer::new(&dek, opts).seal_slice(bytes, out.file())?;
        out.commit()
    })
    .map_err(py_err)
}

/// unseal_file(src, dst, key, threads=0): unseals a file; on failure no output is left.
#[pyfunction]
#[pyo3(signature = (src, dst, key, threads=0))]
pub(crate) fn unseal_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    key: &[u8],
    threads: usize,
) -> PyResult<()> {
    let dek = dek(key)?;
    let opts = UnsealOptions {
        threads,
        progress: None,
    };
    py.detach(|| coco_seal::unseal_file(&dek, &src, &dst, &opts))
        .map_err(py_err)
}

/// seal_dir(src, dst, key, model_id, chunk_size=None, threads=0): seals a model directory and
/// writes its manifest; returns the manifest statement as JSON text.
#[pyfunction]
#[pyo3(signature = (src, dst, key, model_id, chunk_size=None, threads=0, key_id=String::new()))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_dir(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    key: &[u8],
    model_id: String,
    chunk_size: Option<u64>,
    threads: usize,
    key_id: String,
) -> PyResult<String> {
    let dek = dek(key)?;
    let mut seal = seal_options(chunk_size, threads)?;
    seal.key_id = key_id;
    let opts = DirSealOptions {
        seal,
        model_id,
        sign_key: None,
    };
    let st = py
        .detach(|| coco_seal::seal_dir(&dek, &src, &dst, &opts))
        .map_err(py_err)?;
    serde_json_string(&st)
}

pub(crate) fn serde_json_string<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| CocoError::new_err(e.to_string()))
}

/// unseal_dir(src, dst, key, vendor_key=None, threads=0): unseals a model directory after
/// checking its manifest; returns the statement as JSON text.
#[pyfunction]
#[pyo3(signature = (src, dst, key, vendor_key=None, threads=0))]
pub(crate) fn unseal_dir(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    key: &[u8],
    vendor_key: Option<PathBuf>,
    threads: usize,
) -> PyResult<String> {
    let dek = dek(key)?;
    let st = py
        .detach(|| -> Result<_, SealError> {
            let vendor_key = vendor_key.as_deref().map(load_verifying_key).transpose()?;
            let opts = DirUnsealOptions {
                unseal: UnsealOptions {
                    threads,
                    progress: None,
                },
                vendor_key,
            };
            coco_seal::unseal_dir(&dek, &src, &dst, &opts)
        })
        .map_err(py_err)?;
    serde_json_string(&st)
}

/// inspect_json(path) -> str: a sealed file's header as JSON (no key needed).
#[pyfunction]
pub(crate) fn inspect_json(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let v = py
        .detach(|| -> Result<_, SealError> {
            Ok(coco_seal::inspect(&File::open(&path)?)?.to_json())
        })
        .map_err(py_err)?;
    Ok(v.to_string())
}
