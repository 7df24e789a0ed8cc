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

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use coco_seal::manifest::load_verifying_key;
use coco_seal::{
    Dek, DirSealOptions, DirUnsealOptions, SealError, SealOptions, SealedFile, Sealer,
    UnsealOptions,
};
use pyo3::buffer::PyUntypedBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    _coco,
    CocoError,
    PyException,
    "Base class of every coco error."
);
create_exception!(
    _coco,
    WrongKeyError,
    CocoError,
    "The key is not the one the data was sealed with."
);
create_exception!(
    _coco,
    TamperedError,
    CocoError,
    "Authentication failed: the data was modified, truncated or extended."
);
create_exception!(
    _coco,
    VerificationError,
    CocoError,
    "Attestation evidence or a signature did not verify."
);

create_exception!(
    _coco,
    ReleaseError,
    CocoError,
    "The key was not released for a reason other than failed verification (transport, unknown key id, a malformed exchange)."
);

fn py_err(e: SealError) -> PyErr {
    let msg = e.to_string();
    match e {
        SealError::WrongKey => WrongKeyError::new_err(msg),
        SealError::Tampered { .. } | SealError::Truncated { .. } | SealError::Extended { .. } => {
            TamperedError::new_err(msg)
        }
        SealError::Manifest(coco_seal::ManifestError::BadSignature)
        | SealError::Manifest(coco_seal::ManifestError::Unsigned) => {
            VerificationError::new_err(msg)
        }
        SealError::InvalidArgument(_) => PyValueError::new_err(msg),
        SealError::Io(io) => PyErr::from(io),
        // OSError(errno, strerror, filename) is the subclass of its errno
        // (FileNotFoundError, ...) with `filename` set.
        SealError::File { path, source } => match source.raw_os_error() {
            Some(errno) => pyo3::exceptions::PyOSError::new_err((
                errno,
                source.to_string(),
                path.display().to_string(),
            )),
            None => pyo3::exceptions::PyOSError::new_err(msg),
        },
        _ => CocoError::new_err(msg),
    }
}

fn dek(key: &[u8]) -> PyResult<Dek> {
    Dek::from_slice(key).map_err(py_err)
}

/// A writable, C-contiguous byte buffer borrowed from Python for the duration of a call.
struct WritableBuffer {
    buf: PyUntypedBuffer,
}

impl WritableBuffer {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buf = PyUntypedBuffer::get(obj)?;
        if buf.readonly() {
            return Err(PyValueError::new_err("the buffer is read-only"));
        }
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("the buffer must be C-contiguous"));
        }
        Ok(Self { buf })
    }

    /// The buffer's bytes as a mutable slice.
    fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.buf.len_bytes();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: the exporter guarantees `buf_ptr` points to `len_bytes` bytes that stay
        // valid while the Py_buffer view is held (it is, by `self`); the view is writable and
        // C-contiguous (checked in `get`), so the bytes form one mutable region. Python code
        // racing on the same buffer from another thread is the caller's responsibility, as
        // with any `readinto`.
        unsafe { std::slice::from_raw_parts_mut(self.buf.buf_ptr().cast::<u8>(), len) }
    }
}

/// A read-only byte buffer borrowed from Python for the duration of a call.
struct ReadableBuffer {
    buf: PyUntypedBuffer,
}

impl ReadableBuffer {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buf = PyUntypedBuffer::get(obj)?;
        if !buf.is_c_contiguous() {
            return Err(PyValueError::new_err("the buffer must be C-contiguous"));
        }
        Ok(Self { buf })
    }

    fn as_slice(&self) -> &[u8] {
        let len = self.buf.len_bytes();
        if len == 0 {
            return &[];
        }
        // SAFETY: the exporter guarantees `buf_ptr` points to `len_bytes` readable,
        // C-contiguous bytes (checked in `get`) that stay valid while the view is held.
        unsafe { std::slice::from_raw_parts(self.buf.buf_ptr().cast::<u8>(), len) }
    }
}

fn seal_options(chunk_size: Option<u64>, threads: usize) -> PyResult<SealOptions> {
    let mut o = match chunk_size {
        Some(c) => SealOptions::default().with_chunk_size(c).map_err(py_err)?,
        None => SealOptions::default(),
    };
    o.threads = threads;
    Ok(o)
}

/// generate_key() -> bytes: a fresh 32-byte data key.
#[pyfunction]
fn generate_key(py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
    let k = Dek::generate().map_err(py_err)?;
    Ok(PyBytes::new(py, k.as_bytes()))
}

/// seal_file(src, dst, key, chunk_size=None, threads=0): seals a file (output appears only
/// on success).
#[pyfunction]
#[pyo3(signature = (src, dst, key, chunk_size=None, threads=0))]
fn seal_file(
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
fn seal_bytes(
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
        Sealer::new(&dek, opts).seal(bytes, bytes.len() as u64, out.file())?;
        out.commit()
    })
    .map_err(py_err)
}

/// unseal_file(src, dst, key, threads=0): unseals a file; on failure no output is left.
#[pyfunction]
#[pyo3(signature = (src, dst, key, threads=0))]
fn unseal_file(
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
fn seal_dir(
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

fn serde_json_string<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| CocoError::new_err(e.to_string()))
}

/// A sealed file opened and authenticated (header, key, commitment, final chunk). Thread-safe.
#[pyclass(frozen, module = "coco._coco")]
struct SealedReader {
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
fn open_reader(py: Python<'_>, path: PathBuf, key: &[u8]) -> PyResult<SealedReader> {
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
fn open_model_dir(
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

/// unseal_dir(src, dst, key, vendor_key=None, threads=0): unseals a model directory after
/// checking its manifest; returns the statement as JSON text.
#[pyfunction]
#[pyo3(signature = (src, dst, key, vendor_key=None, threads=0))]
fn unseal_dir(
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
fn inspect_json(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let v = py
        .detach(|| -> Result<_, SealError> {
            Ok(coco_seal::inspect(&File::open(&path)?)?.to_json())
        })
        .map_err(py_err)?;
    Ok(v.to_string())
}

/// verify_evidence_json(platform, data, options_json) -> (verified, result_json): the object
/// `coco evidence verify --json` prints. The GIL is released while verifying.
#[pyfunction]
fn verify_evidence_json(
    py: Python<'_>,
    platform: &str,
    data: &[u8],
    options_json: &str,
) -> PyResult<(bool, String)> {
    let opts: coco_evidence::api::Options = serde_json::from_str(options_json)
        .map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let (ok, v) = py.detach(|| coco_evidence::api::verify_json(platform, data, &opts));
    Ok((ok, v.to_string()))
}

/// `at` (RFC 3339) in Unix seconds, or now.
fn unix_at(at: Option<&str>) -> Result<u64, String> {
    match at {
        Some(t) => coco_core::time::unix_rfc3339(t).ok_or_else(|| format!("{t:?} is not RFC 3339")),
        None => Ok(coco_core::time::unix(std::time::SystemTime::now())),
    }
}

/// appraise_json(evidence, references, corim_keys, policy_toml, sign_key_pem, options_json)
/// -> (ok, result_json): verifies every `(platform, bytes)` of `evidence` (options as for
/// `verify_evidence_json`), reads the CoRIMs of `references` (signed ones must verify under
/// one of `corim_keys`: JWK, SPKI PEM or DER), appraises under the policy (TOML; default
/// policy when None) and returns `{"status", "ear", "findings", "jwt"?}` (`jwt` when
/// `sign_key_pem` is given), or `{"error": {"kind", "message"}}`. The GIL is released.
#[pyfunction]
#[pyo3(signature = (evidence, references, corim_keys, policy_toml, sign_key_pem, options_json))]
fn appraise_json(
    py: Python<'_>,
    evidence: Vec<(String, Vec<u8>)>,
    references: Vec<Vec<u8>>,
    corim_keys: Vec<Vec<u8>>,
    policy_toml: Option<&str>,
    sign_key_pem: Option<&str>,
    options_json: &str,
) -> PyResult<(bool, String)> {
    let opts: coco_evidence::api::Options = serde_json::from_str(options_json)
        .map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let list: Vec<(&str, &[u8])> = evidence
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let references: Vec<&[u8]> = references.iter().map(Vec::as_slice).collect();
    let corim_keys: Vec<&[u8]> = corim_keys.iter().map(Vec::as_slice).collect();
    let req = coco_release::decision::AppraiseRequest {
        evidence: &list,
        references: &references,
        corim_keys: &corim_keys,
        policy_toml,
        sign_key_pem,
        options: &opts,
    };
    Ok(
        match py.detach(|| coco_release::decision::appraise_json(&req)) {
            Ok(v) => (true, v.to_string()),
            Err(e) => (false, serde_json::json!({ "error": e }).to_string()),
        },
    )
}

/// An EAR's claims after verifying it (JWT or CWT) under the trusted `keys` (JWK, SPKI PEM or
/// DER) at `at` (RFC 3339; now when None).
fn ear_claims(
    token: &[u8],
    keys: &[Vec<u8>],
    at: Option<&str>,
) -> Result<serde_json::Value, coco_core::CoreError> {
    let now = unix_at(at).map_err(|m| coco_core::CoreError::malformed("at", m))?;
    let keys = keys
        .iter()
        .map(|k| coco_core::keys::PublicKey::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(coco_core::ear::Ear::from_token(token, &keys, now)?.to_json())
}

/// verify_ear_json(token, keys, at) -> (ok, result_json): verifies an EAR (JWT or CWT) with
/// the trusted `keys` only (JWK, SPKI PEM or DER), checking expiry at `at` (RFC 3339; now when
/// None). The result is the EAR's claims, or `{"error": {"kind", "message"}}`.
#[pyfunction]
#[pyo3(signature = (token, keys, at=None))]
fn verify_ear_json(
    py: Python<'_>,
    token: &[u8],
    keys: Vec<Vec<u8>>,
    at: Option<&str>,
) -> PyResult<(bool, String)> {
    let run = || ear_claims(token, &keys, at);
    Ok(match py.detach(run) {
        Ok(v) => (true, v.to_string()),
        Err(e) => (
            false,
            serde_json::json!({"error": {"kind": "ear", "message": e.to_string()}}).to_string(),
        ),
    })
}

fn sim_vm(
    measurement: &[u8],
    host_data: Option<&[u8]>,
    debug: bool,
    guest_svn: u32,
) -> PyResult<coco_evidence::sim::SimVm> {
    Ok(coco_evidence::sim::SimVm {
        measurement: measurement
            .try_into()
            .map_err(|_| PyValueError::new_err("measurement must be 48 bytes"))?,
        host_data: match host_data {
            Some(h) => h
                .try_into()
                .map_err(|_| PyValueError::new_err("host_data must be 32 bytes"))?,
            None => [0; 32],
        },
        // Bit 17 (reserved, must be one) and, for a debug VM, bit 19.
        policy: 0x30000 | if debug { 1 << 19 } else { 0 },
        guest_svn,
    })
}

/// A simulated confidential VM for demos and tests of key release: an SNP-shaped report signed
/// by a VCEK-like key under a fresh root. A service accepts it only when configured with
/// `root_pem` and a policy that allows simulation, and its EAR then says so.
#[pyclass(frozen, module = "coco._coco")]
struct SimulatedTee {
    root_pem: String,
    attester: coco_release::workload::SimAttester,
}

#[pymethods]
impl SimulatedTee {
    /// SimulatedTee(measurement, host_data=None, debug=False, guest_svn=1): a fresh root and
    /// platform; the VM measures `measurement` (48 bytes).
    #[new]
    #[pyo3(signature = (measurement, host_data=None, debug=false, guest_svn=1))]
    fn new(
        measurement: &[u8],
        host_data: Option<&[u8]>,
        debug: bool,
        guest_svn: u32,
    ) -> PyResult<Self> {
        let sim = |e: coco_evidence::EvidenceError| CocoError::new_err(e.to_string());
        let root = coco_evidence::sim::SimRoot::generate().map_err(sim)?;
        Ok(Self {
            root_pem: root.cert().to_pem(),
            attester: coco_release::workload::SimAttester {
                platform: root.platform().map_err(sim)?,
                vm: sim_vm(measurement, host_data, debug, guest_svn)?,
                gpus: vec![],
            },
        })
    }

    /// with_vm(measurement, host_data=None, debug=False, guest_svn=1): another VM on the same
    /// simulated platform (same root), e.g. one whose measurement the service does not know.
    #[pyo3(signature = (measurement, host_data=None, debug=false, guest_svn=1))]
    fn with_vm(
        &self,
        measurement: &[u8],
        host_data: Option<&[u8]>,
        debug: bool,
        guest_svn: u32,
    ) -> PyResult<Self> {
        Ok(Self {
            root_pem: self.root_pem.clone(),
            attester: coco_release::workload::SimAttester {
                platform: self.attester.platform.clone(),
                vm: sim_vm(measurement, host_data, debug, guest_svn)?,
                gpus: vec![],
            },
        })
    }

    /// The simulation's root certificate (PEM), for the service's `--sim-root`.
    #[getter]
    fn root_pem(&self) -> &str {
        &self.root_pem
    }
}

/// fetch_key_raw(url, key_id, kem, configfs, collateral, gpus, crl, tee, ear_keys, at, ca,
/// allow_plain_http) -> (ok, key, result): the workload side of key release (`coco fetch-key`),
/// over `https://` with the system's roots or the PEM CA bundle `ca`, or plain `http://` to
/// loopback (elsewhere only with `allow_plain_http`). Evidence comes
/// from configfs-tsm under `configfs` (with TDX `collateral` from a directory, AMD's `crl` as
/// DER bytes, and every NVIDIA GPU through NVML when `gpus`), or from the simulated `tee`.
/// With `ear_keys` the EAR must verify under them (at `at`) before the key is handed to
/// Python. On success `key` is the data key and `result` is `{"ear": JWT, "ear_claims":
/// claims or null}`; otherwise `key` is empty and `result` is `{"error": {"kind",
/// "message"}}` with the service's kind (`ear` for an EAR that did not verify). The GIL is
/// released.
#[pyfunction]
#[pyo3(signature = (url, key_id, kem="p384", configfs=None, collateral=None, gpus=false, crl=None, tee=None, ear_keys=Vec::new(), at=None, ca=None, allow_plain_http=false, protocol="coco", sample=false))]
#[allow(clippy::too_many_arguments)]
fn fetch_key_raw<'py>(
    py: Python<'py>,
    url: &str,
    key_id: &str,
    kem: &str,
    configfs: Option<PathBuf>,
    collateral: Option<PathBuf>,
    gpus: bool,
    crl: Option<Vec<u8>>,
    tee: Option<Py<SimulatedTee>>,
    ear_keys: Vec<Vec<u8>>,
    at: Option<&str>,
    ca: Option<Vec<u8>>,
    allow_plain_http: bool,
    protocol: &str,
    sample: bool,
) -> PyResult<(bool, Bound<'py, PyBytes>, String)> {
    use coco_release::tsm::{DEFAULT_ROOT, TsmAttester};
    use coco_release::wire::TdxCollateral;
    use coco_release::workload::{self, Attester};
    let kem: coco_release::wrap::Kem = kem
        .parse()
        .map_err(|e: coco_release::ReleaseError| PyValueError::new_err(e.message()))?;
    let tee = tee.as_ref().map(|t| t.get());
    let result = py.detach(|| -> Result<_, serde_json::Value> {
        let tsm;
        let attester: &dyn Attester = match tee {
            Some(t) => &t.attester,
            None => {
                let collateral = collateral
                    .as_deref()
                    .map(TdxCollateral::from_dir)
                    .transpose()
                    .map_err(|e| e.to_json())?;
                let root = configfs.unwrap_or_else(|| DEFAULT_ROOT.into());
                let mut a = TsmAttester::new(&root, collateral).with_gpus(gpus);
                if let Some(c) = &crl {
                    a = a.with_snp_crl(c);
                }
                tsm = a;
                &tsm
            }
        };
        let tls = coco_release::tls::ClientTls {
            ca_pem: ca,
            allow_plain_http,
        };
        if protocol == "kbs" {
            // The Confidential Containers Key Broker protocol: `key_id` is the resource path.
            use coco_release::kbs::client::{KbsClient, SampleAttester, detect_tee};
            let sample_attester = SampleAttester { svn: 1 };
            let (attester, tee_name): (&dyn Attester, &str) = if sample {
                (&sample_attester, "sample")
            } else if tee.is_some() {
                (attester, "snp")
            } else {
                (attester, detect_tee().map_err(|e| e.to_json())?)
            };
            let client = KbsClient::new(url, &tls).map_err(|e| e.to_json())?;
            let got = client
                .get_resource(attester, tee_name, key_id)
                .map_err(|e| e.to_json())?;
            let dek = coco_seal::Dek::from_slice(&got.resource).map_err(|_| {
                serde_json::json!({"kind": "key", "message": format!(
                    "resource {key_id:?} is {} bytes, not a 32-byte data key", got.resource.len())})
            })?;
            return Ok((dek, got.token, serde_json::Value::Null));
        }
        let client = coco_release::http::Client::with_tls(url, &tls).map_err(|e| e.to_json())?;
        // The key stays in zeroizing memory until its EAR verified (key, expiry, this
        // challenge, status).
        if ear_keys.is_empty() {
            let (dek, response) =
                workload::fetch(&client, attester, key_id, kem).map_err(|e| e.to_json())?;
            return Ok((dek, response.ear, serde_json::Value::Null));
        }
        let err =
            |e: coco_core::CoreError| serde_json::json!({"kind": "ear", "message": e.to_string()});
        let keys = ear_keys
            .iter()
            .map(|k| coco_core::keys::PublicKey::parse(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let now = unix_at(at).map_err(|m| serde_json::json!({"kind": "usage", "message": m}))?;
        let (dek, response, ear) =
            workload::fetch_verified(&client, attester, key_id, kem, &keys, now)
                .map_err(|e| e.to_json())?;
        let claims = ear.to_json();
        Ok((dek, response.ear, claims))
    });
    Ok(match result {
        Ok((dek, ear, claims)) => (
            true,
            PyBytes::new(py, dek.as_bytes()),
            serde_json::json!({"ear": ear, "ear_claims": claims}).to_string(),
        ),
        Err(error) => (
            false,
            PyBytes::new(py, b""),
            serde_json::json!({ "error": error }).to_string(),
        ),
    })
}

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
    m.add_class::<SimulatedTee>()?;
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
