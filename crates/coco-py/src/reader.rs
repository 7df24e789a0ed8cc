//! Random access to sealed files: `SealedReader`, one file or every shard of a model directory.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use coco_seal::manifest::load_verifying_key;
use coco_seal::{SealError, SealedFile, UnsealOptions};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::buffer::*;
use crate::errors::*;
use crate::seal::*;

/// A sealed file opened and authenticated (header, key, commitment, final chunk). Thread-safe.
#[pyclass(frozen, module = "coco._coco")]
pub(crate) struct SealedReader {
    inner: Arc<SealedFile<File>>,
}

#[pymethods]
impl SealedReader {
    /// Plaintext length in bytes.
    #[getter]
    fn plaintext_len(&self) -> u64 {
        self.inner.plaintext_len()
    }

    /// Chunk size in bytes.
    #[getter]
    fn chunk_size(&self) -> u64 {
        self.inner.header().chunk_size()
    }

    /// SHA-256 (hex) of the sealed header, as the manifest records it.
    #[getter]
    fn header_sha256(&self) -> String {
        self.inner.header_sha256().to_string()
    }

    /// The header's key id.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.header().key_id().to_string()
    }

    /// The header's metadata as JSON text.
    #[getter]
    fn metadata_json(&self) -> PyResult<String> {
        serde_json_string(self.inner.header().metadata())
    }

    /// read_at(offset, size) -> bytes: up to `size` plaintext bytes at `offset`.
    fn read_at<'py>(
        &self,
        py: Python<'py>,
        offset: u64,
        size: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let avail = self.inner.plaintext_len().saturating_sub(offset);
        let n = (size as u64).min(avail) as usize;
        let mut buf = vec![0u8; n];
        let inner = self.inner.clone();
        let got = py
            .detach(|| inner.read_at(offset, &mut buf))
            .map_err(py_err)?;
        Ok(PyBytes::new(py, &buf[..got]))
    }

    /// readinto_at(offset, buffer) -> int: fills the writable buffer from `offset`; returns
    /// the bytes read (0 at the end). Writes straight into the buffer, GIL released.
    fn readinto_at(
        &self,
        py: Python<'_>,
        offset: u64,
        buffer: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let mut buf = WritableBuffer::get(buffer)?;
        let dst = buf.as_mut_slice();
        let inner = self.inner.clone();
        py.detach(|| inner.read_at(offset, dst)).map_err(py_err)
    }

    /// read_range_into(offset, buffer, threads=0) -> int: like `readinto_at`, decrypting the
    /// range's chunks in parallel.
    #[pyo3(signature = (offset, buffer, threads=0))]
    fn read_range_into(
        &self,
        py: Python<'_>,
        offset: u64,
        buffer: &Bound<'_, PyAny>,
        threads: usize,
    ) -> PyResult<usize> {
        let mut buf = WritableBuffer::get(buffer)?;
        let dst = buf.as_mut_slice();
        let inner = self.inner.clone();
        let opts = UnsealOptions {
            threads,
            progress: None,
        };
        py.detach(|| inner.read_at_parallel(offset, dst, &opts))
            .map_err(py_err)
    }
}

/// open_reader(path, key) -> SealedReader
#[pyfunction]
pub(crate) fn open_reader(py: Python<'_>, path: PathBuf, key: &[u8]) -> PyResult<SealedReader> {
    let dek = dek(key)?;
    let f = py
        .detach(|| SealedFile::open_path(&path, &dek))
        .map_err(py_err)?;
    Ok(SealedReader { inner: Arc::new(f) })
}

/// open_model_dir(path, key, vendor_key=None) -> (statement_json, [(path, SealedReader)]):
/// checks the manifest (and, with a vendor public key PEM file, its signature) and every
/// shard: no missing, extra, renamed or swapped shard.
#[pyfunction]
#[pyo3(signature = (path, key, vendor_key=None))]
pub(crate) fn open_model_dir(
    py: Python<'_>,
    path: PathBuf,
    key: &[u8],
    vendor_key: Option<PathBuf>,
) -> PyResult<(String, Vec<(String, SealedReader)>)> {
    let dek = dek(key)?;
    let (st, files) = py
        .detach(|| -> Result<_, SealError> {
            let vk = vendor_key.as_deref().map(load_verifying_key).transpose()?;
            let (_, st) = coco_seal::model::read_manifest(&path, vk.as_ref())?;
            let files = coco_seal::model::open_dir(&dek, &path, &st)?;
            Ok((st, files))
        })
        .map_err(py_err)?;
    let shards = st
        .predicate
        .shards
        .iter()
        .zip(files)
        .map(|(s, f)| (s.path.clone(), SealedReader { inner: Arc::new(f) }))
        .collect();
    Ok((serde_json_string(&st)?, shards))
}
