//! `coco serve` (the key-release service over HTTP) and `coco fetch-key` (the workload side).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use coco_core::keys::SigningKey;
use coco_evidence::x509::parse_certs;
use coco_release::challenge::{ChallengeIssuer, MemoryReplayStore};
use coco_release::http::{Client, Limits, Server};
use coco_release::keystore::{FileKeyStore, KeyStore};
use coco_release::tls::{ClientTls, ServerTls};
use coco_release::tsm::{DEFAULT_ROOT, TsmAttester};
use coco_release::wire::TdxCollateral;
use coco_release::workload;
use coco_release::wrap::Kem;
use coco_release::{KeyReleaseService, ServiceConfig};
use coco_seal::Dek;

use crate::CmdResult;
use crate::appraisal::DecisionArgs;

fn err(msg: impl Into<String>) -> Box<dyn std::error::Error> {
    msg.into().into()
}

/// Where data keys are kept: `--keys DIR`, and with `--keystore pkcs11:...` sealed by a KEK in
/// an HSM.
#[derive(Args)]
pub struct StoreArgs {
    /// The key store directory: one 0600 file per key id, or with --keystore one blob per key
    /// id sealed by the HSM's key-encryption key.
    #[arg(long, value_name = "DIR")]
    keys: PathBuf,
    /// Keep the key-encryption key in an HSM: a PKCS#11 URI (RFC 7512) naming the module, the
    /// token and the AES-256 key, e.g.
    /// 'pkcs11:token=coco;object=kek?module-path=/usr/lib/softhsm/libsofthsm2.so'.
    #[arg(long, value_name = "URI")]
    keystore: Option<String>,
    /// The token's user PIN, from this file (first line). Never on the command line.
    #[arg(
        long,
        value_name = "FILE",
        requires = "keystore",
        conflicts_with = "pin_env"
    )]
    pin_file: Option<PathBuf>,
    /// The token's user PIN, from this environment variable.
    #[arg(long, value_name = "VAR", requires = "keystore")]
    pin_env: Option<String>,
}

impl StoreArgs {
    /// Opens the store; a misconfigured HSM store is an error here, before anything serves.
    pub fn open(&self) -> Result<Arc<dyn KeyStore>, Box<dyn std::error::Error>> {
        use coco_release::keystore::pkcs11::{PinSource, Pkcs11KeyStore, Pkcs11Uri};
        Ok(match &self.keystore {
            None => Arc::new(FileKeyStore::open(&self.keys)?),
            Some(uri) => {
                let uri: Pkcs11Uri = uri.parse().map_err(|e| err(format!("--keystore: {e}")))?;
                let pin = match (&self.pin_file, &self.pin_env) {
                    (Some(f), _) => Some(PinSource::File(f.clone())),
                    (None, Some(v)) => Some(PinSource::Env(v.clone())),
                    (None, None) => None,
                };
                Arc::new(
                    Pkcs11KeyStore::open(&uri, pin.as_ref(), &self.keys)
                        .map_err(|e| err(format!("--keystore: {}", e.message())))?,
                )
            }
        })
    }

    /// Imports `KEY_ID=KEYFILE` specs: idempotent for the same key, never a replacement.
    pub fn import(
        &self,
        store: &dyn KeyStore,
        specs: &[String],
    ) -> Result<(), Box<dyn std::error::Error>> {
        for spec in specs {
            let (id, file) = spec
                .split_once('=')
                .ok_or_else(|| err(format!("{spec:?}: KEY_ID=KEYFILE")))?;
            let dek = Dek::load(Path::new(file)).map_err(|e| err(format!("{file}: {e}")))?;
            store
                .import(id, &dek)
                .map_err(|e| err(format!("{id}: {}", e.message())))?;
        }
        Ok(())
    }
}

/// `coco keystore ...`.
#[derive(clap::Subcommand)]
pub enum KeystoreCommand {
    /// Import data keys into a key store (with --keystore: sealed by the HSM's KEK; nothing
    /// plaintext is written). Idempotent for the same key; refuses a different key under an
    /// existing id.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// KEY_ID=KEYFILE (a 32-byte key, e.g. from `coco keygen`); repeatable.
        #[arg(required = true, value_name = "KEY_ID=KEYFILE")]
        specs: Vec<String>,
    },
}

/// Runs `coco keystore ...`.
pub fn keystore(cmd: &KeystoreCommand) -> CmdResult {
    match cmd {
        KeystoreCommand::Import { store, specs } => {
            let s = store.open()?;
            store.import(s.as_ref(), specs)?;
            eprintln!("coco: {} key(s) in the store", specs.len());
            Ok(())
        }
    }
}

/// `coco serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Import a data key into the store first: KEY_ID=KEYFILE; repeatable.
    #[arg(long = "add-key", value_name = "KEY_ID=KEYFILE")]
    add_keys: Vec<String>,
    #[command(flatten)]
    decision: DecisionArgs,
    /// The EAR signing key (PKCS#8 PEM, e.g. from `coco keygen --vendor`).
    #[arg(long)]
    ear_key: PathBuf,
    /// Listen address (loopback by default). Off loopback, --tls-cert/--tls-key or
    /// --plain-http is required.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve TLS with this certificate chain (PEM, leaf first; e.g. a Kubernetes TLS Secret's
    /// tls.crt).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, SEC1 or PKCS#1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback: only where TLS is terminated in
    /// front of the service (a load balancer or a mesh sidecar on a trusted network).
    #[arg(long, conflicts_with = "tls_cert")]
    plain_http: bool,
    /// TDX collateral the service holds (the layout of `coco evidence verify --collateral`):
    /// every TDX quote is verified against it, never against collateral a client sends; KBS
    /// clients (which send none) need it for TDX.
    #[arg(long, value_name = "DIR", conflicts_with = "collateral_cache")]
    tdx_collateral: Option<PathBuf>,
    /// Fetch TDX collateral per platform from the PCS (--pcs) as quotes arrive, verify it,
    /// keep it in DIR and refresh it before it expires; every TDX quote is verified against
    /// it (never against collateral a client sends, never past its validity). SNP evidence sent
    /// without its VCEK, ASK or CRL is completed from AMD's KDS (--kds).
    #[arg(long, value_name = "DIR")]
    collateral_cache: Option<PathBuf>,
    /// With --collateral-cache: Intel's PCS API v4, or a PCCS.
    #[arg(long, value_name = "URL", default_value = coco_release::collateral::pcs::INTEL_PCS)]
    pcs: String,
    /// With --collateral-cache: AMD's KDS, for SNP evidence sent without its VCEK, ASK or CRL.
    #[arg(long, value_name = "URL", default_value = coco_release::collateral::kds::AMD_KDS)]
    kds: String,
    /// Check the device chain of every real GPU with OCSP answers from this responder (e.g.
    /// NVIDIA's, https://ocsp.ndis.nvidia.com/), asked with fresh nonces, verified, cached per
    /// certificate and asked again half way through their window; then GPU claims say
    /// "revocation_checked": true and a revoked certificate is refused. Responder unreachable
    /// with nothing valid cached: 503.
    #[arg(long, value_name = "URL")]
    ocsp: Option<String>,
    /// With --collateral-cache: where the Root CA CRL comes from.
    #[arg(long, value_name = "URL", default_value = coco_release::collateral::pcs::INTEL_ROOT_CA_CRL)]
    root_ca_crl: String,
    /// Accept a simulated TEE certified by this root (PEM). Never without it; the policy must
    /// allow simulation too.
    #[arg(long)]
    sim_root: Option<PathBuf>,
    /// Largest request accepted, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// Request timeout, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Challenge lifetime, seconds.
    #[arg(long, default_value_t = 60)]
    challenge_ttl: u64,
    /// The challenge secret (32 bytes, e.g. from `coco keygen`), shared by the replicas behind
    /// one load balancer so that a challenge issued by one is accepted by another. Default: a
    /// fresh secret per process.
    #[arg(long, value_name = "FILE")]
    challenge_secret: Option<PathBuf>,
}

/// Runs the service until the process is stopped.
pub fn serve(a: &ServeArgs) -> CmdResult {
    let now = coco_core::time::unix(SystemTime::now());
    let (references, policy) = a.decision.load(now)?;
    // Refused before anything is written or bound: binding and reference values cannot be
    // turned off where keys are released.
    if let Some(setting) = policy.release_blockers().first() {
        return Err(coco_release::ReleaseError::UnsafePolicy { setting }.into());
    }
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerTls::from_pem(&read(cert, "--tls-cert")?, &read(key, "--tls-key")?)
                .map_err(|e| err(format!("--tls-cert/--tls-key: {e}")))?,
        ),
        _ if !a.listen.ip().is_loopback() && !a.plain_http => {
            return Err(err(format!(
                "--listen {}: not loopback, so the service needs TLS (--tls-cert FILE --tls-key FILE), \
                 or --plain-http where TLS is terminated in front of it",
                a.listen
            )));
        }
        _ => None,
    };
    let tdx_collateral = a
        .tdx_collateral
        .as_deref()
        .map(coco_evidence::tdx::RawCollateral::from_dir)
        .transpose()
        .map_err(|e| err(format!("--tdx-collateral: {e}")))?;
    let store = a.store.open()?;
    // Idempotent for the same key, so a restart with the same command line works; never a
    // silent replacement of another key.
    a.store
        .import(store.as_ref(), &a.add_keys)
        .map_err(|e| err(format!("--add-key {e}")))?;
    let sim_root = match &a.sim_root {
        Some(p) => Some(
            parse_certs(&read(p, "--sim-root")?)?
                .into_iter()
                .next()
                .ok_or_else(|| err("--sim-root holds no certificate"))?,
        ),
        None => None,
    };
    let ear_key = SigningKey::from_pkcs8_pem(
        std::str::from_utf8(&read(&a.ear_key, "--ear-key")?)
            .map_err(|_| err(format!("--ear-key {}: not PEM", a.ear_key.display())))?,
    )
    .map_err(|e| err(format!("--ear-key {}: {e}", a.ear_key.display())))?;
    let issuer = match &a.challenge_secret {
        Some(p) => {
            let secret = Dek::load(p).map_err(|e| {
                err(format!(
                    "--challenge-secret {}: {e} (32 bytes, e.g. from `coco keygen`)",
                    p.display()
                ))
            })?;
            Some(ChallengeIssuer::new(*secret.as_bytes(), a.challenge_ttl))
        }
        None => None,
    };
    let service = KeyReleaseService::new(
        Box::new(store),
        ear_key,
        ServiceConfig {
            references,
            policy,
            sim_root,
            challenge_ttl_secs: a.challenge_ttl,
        },
    )?
    .with_audit(Box::new(std::io::stdout()));
    let service = match issuer {
        Some(i) => service.with_challenges(i, Box::new(MemoryReplayStore::default())),
        None => service,
    };
    let service = match tdx_collateral {
        Some(c) => service.with_tdx_collateral(c),
        None => service,
    };
    let service = match &a.collateral_cache {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("--collateral-cache {}: {e}", dir.display())))?;
            let pcs = coco_release::collateral::pcs::Pcs::new(
                &a.pcs,
                &a.root_ca_crl,
                &ClientTls::default(),
            )?;
            let kds = coco_release::collateral::kds::Kds::new(&a.kds, &ClientTls::default())?;
            service
                .with_tdx_collateral_cache(Arc::new(
                    coco_release::collateral::cache::TdxCache::new(pcs, Some(dir.clone())),
                ))
                .with_snp_endorsements(Arc::new(
                    coco_release::collateral::kds::SnpEndorsements::new(kds)
                        .with_dir(dir.join("snp")),
                ))
        }
        None => service,
    };
    let service = match &a.ocsp {
        Some(url) => {
            let client =
                coco_release::collateral::ocsp::OcspClient::new(url, &ClientTls::default())?;
            service.with_gpu_ocsp(Arc::new(coco_release::collateral::ocsp::OcspCache::new(
                client,
            )))
        }
        None => service,
    };
    let limits = Limits {
        max_body_bytes: a.max_body,
        request_timeout: Duration::from_secs(a.timeout),
        ..Limits::default()
    };
    let server = Server::start_with(Arc::new(service), a.listen, limits, tls)?;
    eprintln!(
        "coco: serving key release on {} (audit lines on stdout)",
        server.url()
    );
    server.wait();
    Ok(())
}

fn read(path: &Path, flag: &'static str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(crate::read_file(path, Some(flag))?)
}

/// `coco fetch-key`.
#[derive(Args)]
pub struct FetchArgs {
    /// The key-release service: https://HOST:PORT, or http:// to loopback
    /// (e.g. http://127.0.0.1:8443).
    #[arg(long, required_unless_present = "kbs", conflicts_with = "kbs")]
    url: Option<String>,
    /// Fetch from a Confidential Containers Key Broker Service instead (Trustee, or
    /// `coco serve`'s /kbs/v0), over the KBS protocol 0.4.0; with --resource.
    #[arg(long, value_name = "URL", requires = "resource")]
    kbs: Option<String>,
    /// With --kbs: the resource <repository>/<type>/<tag> (e.g. default/model/dek).
    #[arg(long, requires = "kbs", conflicts_with = "key_id")]
    resource: Option<String>,
    /// Trust only this CA bundle (PEM) for the service's TLS certificate, instead of the
    /// system's roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Allow http:// to a host other than loopback (TLS terminated in front of the service on
    /// a trusted network).
    #[arg(long)]
    plain_http: bool,
    /// The key wanted.
    #[arg(long, required_unless_present = "kbs")]
    key_id: Option<String>,
    /// Where to write the released data key (mode 0600; refuses to overwrite).
    #[arg(long)]
    out: PathBuf,
    /// The configfs-tsm report directory.
    #[arg(long, default_value = DEFAULT_ROOT)]
    configfs: PathBuf,
    /// TDX collateral to send along (configfs-tsm does not provide it).
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// The HPKE KEM of the ephemeral key: p384 or x25519.
    #[arg(long, default_value = "p384")]
    kem: String,
    /// Verify the EAR of the release with this key before writing the data key.
    #[arg(long)]
    ear_key: Option<PathBuf>,
    /// Also attest GPUs: `--gpus` every NVIDIA GPU through NVML (needs CC or Protected PCIe
    /// mode on); with --sim, `--gpus N` simulated GPUs.
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_name = "N")]
    gpus: Option<String>,
    /// Attest with the simulated TEE under DIR/root.pem (from `coco sim init DIR`) instead of
    /// configfs-tsm and NVML (demos and tests; a service accepts it only with --sim-root and a
    /// policy allowing simulation).
    #[arg(long, value_name = "DIR")]
    sim: Option<PathBuf>,
    /// With --kbs: send the Confidential Containers sample attester's evidence (no TEE,
    /// unsigned), as the CoCo guest client does without hardware: rehearsals against a KBS that
    /// accepts it (Trustee's sample verifier; `coco serve` with simulation allowed).
    #[arg(long, requires = "kbs", conflicts_with_all = ["sim", "gpus"])]
    sample: bool,
    /// With --sim: the simulated VM's launch measurement (48 bytes, hex; default zeros).
    #[arg(long, requires = "sim")]
    measurement: Option<String>,
    /// AMD's CRL (DER or PEM) to send along with SNP evidence.
    #[arg(long)]
    crl: Option<PathBuf>,
}

/// Collects evidence through configfs-tsm (or the simulated TEE), asks for the key, unwraps it.
pub fn fetch(a: &FetchArgs) -> CmdResult {
    // Every local argument is checked before anything is attested or sent.
    let kem: Kem = a
        .kem
        .parse()
        .map_err(|_| err(format!("--kem {:?}: p384 or x25519", a.kem)))?;
    if std::fs::symlink_metadata(&a.out).is_ok() {
        return Err(err(format!(
            "--out {}: exists; not replaced (a released key is never written over a file)",
            a.out.display()
        )));
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(err(format!(
            "--out {}: no directory {}",
            a.out.display(),
            parent.display()
        )));
    }
    let ear_key = a
        .ear_key
        .as_ref()
        .map(|k| {
            coco_core::keys::PublicKey::parse(&read(k, "--ear-key")?)
                .map_err(|e| err(format!("--ear-key {}: {e}", k.display())))
        })
        .transpose()?;
    let attester: Box<dyn workload::Attester> = match &a.sim {
        Some(dir) => {
            let root = crate::sim::load_root(dir)?;
            let measurement: [u8; 48] = match &a.measurement {
                Some(h) => hex::decode(h)
                    .ok()
                    .and_then(|m| m.try_into().ok())
                    .ok_or_else(|| err(format!("--measurement {h:?}: 48 bytes of hex")))?,
                None => [0; 48],
            };
            let n: u64 = match a.gpus.as_deref() {
                None => 0,
                Some(n) => n
                    .parse()
                    .map_err(|_| err(format!("--gpus {n:?}: with --sim, a number of GPUs")))?,
            };
            Box::new(coco_release::simkit::SimAttester {
                platform: root.platform()?,
                vm: coco_evidence::sim::SimVm {
                    measurement,
                    host_data: [0; 32],
                    policy: 0x30000,
                    guest_svn: 1,
                },
                gpus: (1..=n).map(crate::sim::sim_gpu).collect(),
            })
        }
        None => {
            if a.gpus.as_deref().is_some_and(|g| g != "all") {
                return Err(err(
                    "--gpus N is for --sim; --gpus alone attests every NVIDIA GPU",
                ));
            }
            let collateral = a
                .collateral
                .as_deref()
                .map(TdxCollateral::from_dir)
                .transpose()?;
            let mut t = TsmAttester::new(&a.configfs, collateral).with_gpus(a.gpus.is_some());
            if let Some(p) = &a.crl {
                t = t.with_snp_crl(&read(p, "--crl")?);
            }
            Box::new(t)
        }
    };
    let attester = attester.as_ref();
    let tls = ClientTls {
        ca_pem: a.ca.as_deref().map(|p| read(p, "--ca")).transpose()?,
        allow_plain_http: a.plain_http,
    };
    if let (Some(kbs), Some(resource)) = (&a.kbs, &a.resource) {
        coco_release::kbs::broker::resource_id(resource)
            .map_err(|e| err(format!("--resource: {e}")))?;
        if a.ear_key.is_some() {
            return Err(err(
                "--ear-key is for coco's protocol; a KBS token is not checked by its client",
            ));
        }
        let sample = coco_release::kbs::client::SampleAttester { svn: 1 };
        let (attester, tee): (&dyn workload::Attester, &str) = if a.sample {
            (&sample, "sample")
        } else if a.sim.is_some() {
            (attester, "snp")
        } else {
            (attester, coco_release::kbs::client::detect_tee()?)
        };
        let client = coco_release::kbs::client::KbsClient::new(kbs, &tls)?;
        let got = client.get_resource(attester, tee, resource)?;
        let dek = coco_seal::Dek::from_slice(&got.resource).map_err(|_| {
            err(format!(
                "resource {resource:?} is {} bytes, not a 32-byte data key",
                got.resource.len()
            ))
        })?;
        dek.save(&a.out)?;
        eprintln!(
            "coco: KBS resource {resource:?} written to {}",
            a.out.display()
        );
        return Ok(());
    }
    let (Some(url), Some(key_id)) = (&a.url, &a.key_id) else {
        return Err(err("--url and --key-id (or --kbs and --resource)"));
    };
    // The EAR is checked (key, expiry, this challenge, status) before the key is unwrapped.
    let client = Client::with_tls(url, &tls)?;
    let dek = match ear_key {
        Some(pk) => {
            let now = coco_core::time::unix(SystemTime::now());
            let (dek, _, ear) =
                workload::fetch_verified(&client, attester, key_id, kem, &[pk], now)?;
            eprintln!("coco: EAR verified: {}", ear.overall().name());
            dek
        }
        None => {
            eprintln!(
                "coco: note: no --ear-key: the service's EAR was not checked (pin the service's key)"
            );
            workload::fetch(&client, attester, key_id, kem)?.0
        }
    };
    dek.save(&a.out)?;
    eprintln!(
        "coco: released key {:?} written to {}",
        key_id,
        a.out.display()
    );
    Ok(())
}
