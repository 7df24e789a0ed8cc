//! Key release from the workload side (`fetch_key_raw`).

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::evidence::unix_at;

/// The `tee` argument of [`fetch_key_raw`]: a `SimulatedTee` in builds with the simulator.
#[cfg(feature = "sim")]
type TeeArg = Py<crate::sim::SimulatedTee>;
/// The `tee` argument of [`fetch_key_raw`]: refused in builds without the simulator.
#[cfg(not(feature = "sim"))]
type TeeArg = Py<PyAny>;

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
    tee: Option<TeeArg>,
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
    #[cfg(feature = "sim")]
    let tee = tee
        .as_ref()
        .map(|t| &t.get().attester as &(dyn coco_release::workload::Attester + Sync));
    #[cfg(not(feature = "sim"))]
    let tee: Option<&(dyn coco_release::workload::Attester + Sync)> = match tee {
        Some(_) => {
            return Err(PyValueError::new_err(
                "tee: this build of coco has no simulated TEE (cargo feature `sim`)",
            ));
        }
        None => None,
    };
    let result = py.detach(|| -> Result<_, serde_json::Value> {
        let tsm;
        let attester: &dyn Attester = match tee {
            Some(t) => t,
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
