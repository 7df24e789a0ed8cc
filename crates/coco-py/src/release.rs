//! Key release from the workload side (`fetch_key_raw`) and the simulated TEE for demos and tests.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::*;
use crate::evidence::unix_at;

pub(crate) fn sim_vm(
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
pub(crate) struct SimulatedTee {
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
pub(crate) fn fetch_key_raw<'py>(
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
