//! A simulated TEE for demos and tests: SNP-shaped reports (the real 1184-byte layout, parsed
//! by [`snp::abi`](crate::snp::abi)) and GPU-shaped reports, signed by platform keys whose
//! certificates chain to a root generated at start.
//!
//! Only with the `sim` feature (the CLI's demo, the tests and the Python test build turn it on):
//! a default build of this crate has neither the simulator nor x509-cert's certificate
//! builder. Its evidence is verified by [`simulated`](crate::simulated), with the simulation's
//! root passed explicitly; the regular verifiers pin the vendor roots and refuse the simulated
//! chain, and the claims say `"simulated": true`, so that appraisal marks the result.

pub mod ocsp;

use std::str::FromStr;
use std::time::Duration;

use der::Encode;
use p384::ecdsa::signature::Signer;
use serde_json::{Value, json};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::TbsCertificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use crate::error::Result;
use crate::simulated::sim_err;
use crate::x509::Cert;

const ROOT_NAME: &str = "CN=coco simulated TEE root,O=coco (simulation - not a TEE)";

/// A certificate profile with a fixed subject, issuer and extension list, for the x509-cert
/// builder (the simulated TEE's certificates; tests use it for their throwaway roots).
#[derive(Debug, Clone)]
pub struct CertProfile {
    /// The subject.
    pub subject: Name,
    /// The issuer.
    pub issuer: Name,
    /// The extensions, as given.
    pub extensions: Vec<Extension>,
}

impl BuilderProfile for CertProfile {
    fn get_issuer(&self, _: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _: SubjectPublicKeyInfoRef<'_>,
        _: SubjectPublicKeyInfoRef<'_>,
        _: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn key() -> Result<p384::ecdsa::SigningKey> {
    let mut seed = [0u8; 48];
    loop {
        getrandom::fill(&mut seed).map_err(|e| sim_err(format!("no randomness: {e}")))?;
        if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&seed) {
            seed.iter_mut().for_each(|b| *b = 0);
            return Ok(k);
        }
    }
}

/// A P-384 certificate valid for 30 days from now (the simulation's; x509's tests use it for
/// their throwaway chains).
pub(crate) fn cert(
    subject: &str,
    issuer_name: &str,
    serial: u32,
    subject_key: &p384::ecdsa::SigningKey,
    issuer_key: &p384::ecdsa::SigningKey,
    extensions: Vec<Extension>,
) -> Result<Cert> {
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key.verifying_key())
        .map_err(|e| sim_err(e.to_string()))?;
    let profile = CertProfile {
        subject: Name::from_str(subject).map_err(|e| sim_err(e.to_string()))?,
        issuer: Name::from_str(issuer_name).map_err(|e| sim_err(e.to_string()))?,
        extensions,
    };
    let validity =
        Validity::from_now(Duration::from_secs(30 * 86400)).map_err(|e| sim_err(e.to_string()))?;
    let builder = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki)
        .map_err(|e| sim_err(e.to_string()))?;
    let c = builder
        .build::<_, p384::ecdsa::DerSignature>(issuer_key)
        .map_err(|e| sim_err(e.to_string()))?;
    Cert::from_der(&c.to_der().map_err(|e| sim_err(e.to_string()))?)
}

fn amd_ext(suffix: &str, value: Vec<u8>) -> Result<Extension> {
    Ok(Extension {
        extn_id: der::asn1::ObjectIdentifier::new(&format!("1.3.6.1.4.1.3704.1.{suffix}"))
            .map_err(|e| sim_err(e.to_string()))?,
        critical: false,
        extn_value: der::asn1::OctetString::new(value).map_err(|e| sim_err(e.to_string()))?,
    })
}

fn ext<T: der::Encode + der::oid::AssociatedOid>(critical: bool, value: &T) -> Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: der::asn1::OctetString::new(
            value.to_der().map_err(|e| sim_err(e.to_string()))?,
        )
        .map_err(|e| sim_err(e.to_string()))?,
    })
}

/// A throwaway TLS identity for demos and tests of the key-release service over TLS: a CA
/// (P-384, self-signed) and a server certificate it issued for the given host names and IP
/// addresses. Valid 30 days. Never a substitute for a real certificate.
pub struct SimTls {
    /// The CA certificate (what a client is told to trust: `--ca`).
    pub ca: Cert,
    /// The server certificate.
    pub cert: Cert,
    key: p384::ecdsa::SigningKey,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimTls({})", self.cert.fingerprint())
    }
}

impl SimTls {
    /// A CA and a server certificate for `hosts` (DNS names or IP addresses, e.g.
    /// `["localhost", "127.0.0.1"]`).
    pub fn generate(hosts: &[&str]) -> Result<Self> {
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
        const CA: &str = "CN=coco demo TLS CA,O=coco (demo - not for production)";
        let ca_key = key()?;
        let ca = cert(
            CA,
            CA,
            1,
            &ca_key,
            &ca_key,
            vec![ext(
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                },
            )?],
        )?;
        let names = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(ip)) => {
                    der::asn1::OctetString::new(ip.octets().to_vec()).map(GeneralName::IpAddress)
                }
                Ok(std::net::IpAddr::V6(ip)) => {
                    der::asn1::OctetString::new(ip.octets().to_vec()).map(GeneralName::IpAddress)
                }
                Err(_) => der::asn1::Ia5String::new(h).map(GeneralName::DnsName),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| sim_err(format!("TLS host names: {e}")))?;
        let server_auth = der::asn1::ObjectIdentifier::new("1.3.6.1.5.5.7.3.1")
            .map_err(|e| sim_err(e.to_string()))?;
        let key = key()?;
        let cert = cert(
            "CN=coco key release (demo)",
            CA,
            2,
            &key,
            &ca_key,
            vec![
                ext(
                    true,
                    &BasicConstraints {
                        ca: false,
                        path_len_constraint: None,
                    },
                )?,
                ext(false, &SubjectAltName(names))?,
                ext(false, &ExtendedKeyUsage(vec![server_auth]))?,
            ],
        )?;
        Ok(Self { ca, cert, key })
    }

    /// The server's private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> Result<p384::pkcs8::der::zeroize::Zeroizing<String>> {
        use p384::pkcs8::{EncodePrivateKey, LineEnding};
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| sim_err(format!("TLS key: {e}")))
    }
}

/// The root of a simulation. A service trusts it only when configured with [`SimRoot::cert`].
pub struct SimRoot {
    key: p384::ecdsa::SigningKey,
    cert: Cert,
}

impl std::fmt::Debug for SimRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimRoot({})", self.cert.fingerprint())
    }
}

/// The TCB a simulated platform reports (Genoa layout).
pub const SIM_TCB: [u8; 8] = [9, 0, 0, 0, 0, 0, 23, 72];

impl SimRoot {
    /// A fresh root (P-384, self-signed, valid 30 days).
    pub fn generate() -> Result<Self> {
        let key = key()?;
        let cert = cert(ROOT_NAME, ROOT_NAME, 1, &key, &key, vec![])?;
        Ok(Self { key, cert })
    }

    /// The root certificate to configure a verifier with.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The root's private key as PKCS#8 PEM (to keep a simulation across processes:
    /// `coco sim init`).
    pub fn key_pem(&self) -> Result<p384::pkcs8::der::zeroize::Zeroizing<String>> {
        use p384::pkcs8::{EncodePrivateKey, LineEnding};
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| sim_err(format!("root key: {e}")))
    }

    /// A root from its certificate (PEM) and PKCS#8 PEM key, which must belong together.
    pub fn from_pem(cert_pem: &[u8], key_pem: &str) -> Result<Self> {
        use p384::pkcs8::DecodePrivateKey;
        let cert = crate::x509::parse_certs(cert_pem)?
            .into_iter()
            .next()
            .ok_or_else(|| sim_err("the root file holds no certificate"))?;
        let key = p384::ecdsa::SigningKey::from_pkcs8_pem(key_pem)
            .map_err(|e| sim_err(format!("root key: {e}")))?;
        let public = key.verifying_key().to_sec1_point(false);
        if public.as_bytes() != cert.public_key_bits() {
            return Err(sim_err(
                "the root key does not belong to the root certificate",
            ));
        }
        Ok(Self { key, cert })
    }

    /// A simulated platform (one CPU and one GPU) endorsed by this root.
    pub fn platform(&self) -> Result<SimPlatform> {
        let mut chip_id = [0u8; 64];
        getrandom::fill(&mut chip_id).map_err(|e| sim_err(e.to_string()))?;
        let vcek_key = key()?;
        let t = SIM_TCB;
        let int = |v: u8| u32::from(v).to_der().map_err(|e| sim_err(e.to_string()));
        let extensions = vec![
            amd_ext(
                "2",
                der::asn1::Ia5StringRef::new("Genoa-B1")
                    .map_err(|e| sim_err(e.to_string()))?
                    .to_der()
                    .map_err(|e| sim_err(e.to_string()))?,
            )?,
            amd_ext("3.1", int(t[0])?)?,
            amd_ext("3.2", int(t[1])?)?,
            amd_ext("3.3", int(t[6])?)?,
            amd_ext("3.8", int(t[7])?)?,
            amd_ext("4", chip_id.to_vec())?,
        ];
        let vcek = cert(
            "CN=SEV-VCEK,O=coco (simulation)",
            ROOT_NAME,
            2,
            &vcek_key,
            &self.key,
            extensions,
        )?;
        let gpu_key = key()?;
        let gpu = cert(
            "CN=coco simulated GPU,O=coco (simulation)",
            ROOT_NAME,
            3,
            &gpu_key,
            &self.key,
            vec![],
        )?;
        Ok(SimPlatform {
            vcek_key,
            vcek,
            gpu_key,
            gpu,
            chip_id,
        })
    }
}

/// What a simulated confidential VM measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimVm {
    /// MEASUREMENT.
    pub measurement: [u8; 48],
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// POLICY (bit 17 is set for you; bit 19 = debug).
    pub policy: u64,
    /// GUEST_SVN.
    pub guest_svn: u32,
}

/// What a simulated GPU reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGpu {
    /// Driver version.
    pub driver_version: String,
    /// VBIOS version.
    pub vbios_version: String,
    /// Measurements by SPDM index (1-based), SHA-384.
    pub measurements: Vec<(u32, [u8; 48])>,
    /// CC mode on.
    pub cc_mode: bool,
    /// CC DEVTOOLS mode.
    pub devtools_mode: bool,
    /// The device's serial number (its `ueid`): two GPUs of one VM differ here.
    pub serial: u64,
}

/// A simulated platform: a VCEK-like CPU key and a GPU key, both certified by the root.
#[derive(Clone)]
pub struct SimPlatform {
    vcek_key: p384::ecdsa::SigningKey,
    vcek: Cert,
    gpu_key: p384::ecdsa::SigningKey,
    gpu: Cert,
    chip_id: [u8; 64],
}

impl std::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimPlatform(chip {})", hex::encode(&self.chip_id[..8]))
    }
}

impl SimPlatform {
    /// The CPU endorsement certificate (VCEK-like).
    pub fn vcek(&self) -> &Cert {
        &self.vcek
    }

    /// The GPU certificate.
    pub fn gpu_cert(&self) -> &Cert {
        &self.gpu
    }

    /// An SNP-shaped report (version 3, Genoa CPUID, VCEK-signed) with `report_data`.
    pub fn snp_report(&self, vm: &SimVm, report_data: &[u8; 64]) -> Vec<u8> {
        let mut b = vec![0u8; 1184];
        b[0..4].copy_from_slice(&3u32.to_le_bytes());
        b[4..8].copy_from_slice(&vm.guest_svn.to_le_bytes());
        b[8..16].copy_from_slice(&(vm.policy | 1 << 17).to_le_bytes());
        b[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        for at in [0x38, 0x180, 0x1E0, 0x1F0] {
            b[at..at + 8].copy_from_slice(&SIM_TCB);
        }
        b[0x50..0x90].copy_from_slice(report_data);
        b[0x90..0xC0].copy_from_slice(&vm.measurement);
        b[0xC0..0xE0].copy_from_slice(&vm.host_data);
        b[0x188] = 0x19; // family: Genoa
        b[0x189] = 0x11; // model
        b[0x18A] = 0x01; // stepping
        b[0x1A0..0x1E0].copy_from_slice(&self.chip_id);
        let sig: p384::ecdsa::Signature = self.vcek_key.sign(&b[..0x2A0]);
        let (r, s) = sig.split_bytes();
        for (at, part) in [(0x2A0, r), (0x2E8, s)] {
            let mut le = part.to_vec();
            le.reverse();
            b[at..at + 48].copy_from_slice(&le);
        }
        b
    }

    /// A GPU-shaped report: a JSON payload (nonce, versions, measurements, CC mode) and an
    /// ECDSA P-384 signature over its exact bytes.
    pub fn gpu_report(&self, gpu: &SimGpu, nonce: &[u8; 32]) -> Vec<u8> {
        let measurements: serde_json::Map<String, Value> = gpu
            .measurements
            .iter()
            .map(|(i, m)| (i.to_string(), json!(hex::encode(m))))
            .collect();
        let payload = json!({
            "format": "coco-sim-gpu/v1",
            "nonce": hex::encode(nonce),
            "architecture": "HOPPER",
            "chip": "GH100",
            "driver_version": gpu.driver_version,
            "vbios_version": gpu.vbios_version,
            "measurements": measurements,
            "cc_mode": gpu.cc_mode,
            "devtools_mode": gpu.devtools_mode,
            "ueid": gpu.serial.to_string(),
        })
        .to_string();
        let sig: p384::ecdsa::Signature = self.gpu_key.sign(payload.as_bytes());
        format!(
            "{{\"payload\":{payload},\"signature\":\"{}\"}}",
            hex::encode(sig.to_bytes())
        )
        .into_bytes()
    }
}
