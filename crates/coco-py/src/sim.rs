//! The simulated TEE for demos and tests of key release (cargo feature `sim`: the test build
//! turns it on; the wheel users install has no simulator).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::*;

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
pub(crate) struct SimulatedTee {
    root_pem: String,
    pub(crate) attester: coco_release::simkit::SimAttester,
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
            attester: coco_release::simkit::SimAttester {
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
            attester: coco_release::simkit::SimAttester {
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
