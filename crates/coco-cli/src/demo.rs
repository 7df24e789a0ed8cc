//! `coco demo`: DESIGN §1 end to end on a generated sample model, with a simulated TEE.
//!
//! The vendor seals a generated safetensors model with a fresh data key and a signed manifest,
//! publishes signed reference values (a CoRIM) for its CVM image and GPUs, and hands the key to
//! a key-release service (its key store). A simulated confidential VM with one GPU collects
//! evidence bound to the service's challenge and a fresh HPKE key, the service verifies,
//! appraises (EAR) and wraps the key, the workload unwraps it and unseals the model, and every
//! file is compared with the original. Then the negative cases, each refused with its reason.
//! The service runs in-process; the simulated TEE is accepted only because this service is
//! configured with its root and a policy that allows simulation.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use clap::Args;
use coco_core::appraise::ReferenceValues;
use coco_core::corim::DecodeOptions;
use coco_core::corim::cose::{self, SignedCorim};
use coco_core::ear::Ear;
use coco_core::keys::SigningKey;
use coco_core::policy::Policy;
use coco_core::profile::build;
use coco_evidence::sim::{SimGpu, SimRoot, SimVm};
use coco_release::http::{Client, Limits, Server};
use coco_release::keystore::FileKeyStore;
use coco_release::simkit::SimAttester;
use coco_release::workload;
use coco_release::wrap::Kem;
use coco_release::{KeyReleaseService, ServiceConfig};
use coco_seal::manifest::generate_signing_key;
use coco_seal::{Dek, DirSealOptions, DirUnsealOptions, SealOptions, seal_dir, unseal_dir};
use serde_json::{Value, json};

use crate::CmdResult;

/// `coco demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Work in this directory (created; kept afterwards) instead of a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Number of safetensors shards in the sample model.
    #[arg(long, default_value_t = 3)]
    shards: usize,
    /// Size of each shard in MiB.
    #[arg(long, default_value_t = 4)]
    shard_mib: usize,
    /// Print exactly one JSON object on stdout: `{"released", "unsealed_matches", "ear",
    /// "negative": [{"case", "rejected", "reason", "kind", "findings"}]}`.
    #[arg(long)]
    json: bool,
}

const KEY_ID: &str = "coco-demo/dek-1";

fn vm() -> SimVm {
    SimVm {
        measurement: [0x5a; 48],
        host_data: [0; 32],
        policy: 0x30000,
        guest_svn: 1,
    }
}

fn gpu() -> SimGpu {
    crate::sim::sim_gpu(1)
}

/// The vendor's reference values for the demo CVM image and GPU, as REFS.toml.
fn refs_toml() -> String {
    let g = gpu();
    let ms: Vec<String> = g
        .measurements
        .iter()
        .map(|(i, m)| format!("\"{i}\" = [\"{}\"]", hex::encode(m)))
        .collect();
    format!(
        "id = \"coco-demo-refs\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"{}\"]\nhost_data = [\"{}\"]\npolicy = {{ value = \"0x30000\", mask = \"0xC0000\" }}\nguest_svn_min = 1\nvmpl_max = 0\n\n[[nvidia]]\nchip = \"GH100\"\ndriver_version = [\"{}\"]\nvbios_version = [\"{}\"]\nmeasurements = {{ {} }}\n",
        hex::encode(vm().measurement),
        hex::encode(vm().host_data),
        g.driver_version,
        g.vbios_version,
        ms.join(", ")
    )
}

/// Prints progress unless JSON output was asked for.
struct Say(bool);

impl Say {
    fn line(&self, s: impl AsRef<str>) {
        if !self.0 {
            outln!("{}", s.as_ref());
        }
    }
}

/// Writes one safetensors file of f32 tensors totalling about `bytes` bytes, named
/// `model.layers.{first_layer + t}.mlp.weight`; returns their names (unique across shards, as
/// a sharded checkpoint's index needs).
fn write_safetensors(
    path: &Path,
    bytes: usize,
    seed: u32,
    first_layer: usize,
) -> std::io::Result<Vec<String>> {
    let rows = 256usize;
    let per_tensor = rows * 256 * 4;
    let count = (bytes / per_tensor).max(1);
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut data = Vec::with_capacity(count * per_tensor);
    let mut names = Vec::with_capacity(count);
    for t in 0..count {
        let start = data.len();
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(t as u32);
        for _ in 0..rows * 256 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = (x as f32 / u32::MAX as f32) - 0.5;
            data.extend_from_slice(&v.to_le_bytes());
        }
        let name = format!("model.layers.{}.mlp.weight", first_layer + t);
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": [rows, 256], "data_offsets": [start, data.len()]}),
        );
        names.push(name);
    }
    let mut h = serde_json::to_vec(&header).expect("header serializes");
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + data.len());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    fs::write(path, out)?;
    Ok(names)
}

/// Reads a safetensors header and returns its tensor count (a loader's first step).
fn safetensors_tensors(path: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let bytes = fs::read(path)?;
    let n = u64::from_le_bytes(bytes.get(..8).ok_or("short file")?.try_into()?) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..8 + n).ok_or("short header")?)?;
    Ok(header.keys().filter(|k| *k != "__metadata__").count())
}

fn compare_trees(a: &Path, b: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let files = coco_seal::model::list_files(a)?;
    if files != coco_seal::model::list_files(b)? {
        return Err("the unsealed directory lists different files".into());
    }
    for f in &files {
        if fs::read(a.join(f))? != fs::read(b.join(f))? {
            return Err(format!("{f} differs after the round trip").into());
        }
    }
    Ok(files.len())
}

/// Marks a directory as the demo's (so that a rerun may clear what the demo wrote).
const MARKER: &str = ".coco-demo";
/// Everything the demo writes into `--dir`.
const OUTPUTS: [&str; 14] = [
    "model",
    "model.sealed",
    "model.unsealed",
    "model.tampered",
    "model.tampered.out",
    "release-keys",
    "release-audit.jsonl",
    "refs.toml",
    "refs.signed",
    "policy.toml",
    "vendor.pem.pub",
    "ear-key.jwk",
    "rerun.sh",
    "rerun",
];

/// The demo's policy (written to `--dir` as policy.toml and used as written).
const POLICY_TOML: &str = "\
# The demo's appraisal policy (docs/POLICY.md): the strict defaults, except what a simulated
# TEE cannot give. Never allow simulation where real keys are released.
id = \"coco-demo\"
allow_simulated = true             # the demo's CVM and GPU are simulated
require_revocation_check = false   # the simulated TEE has no revocation lists

[composition]
gpus = 1                           # one CVM with exactly one GPU
";

/// The demo's steps as coco commands (written to `--dir` as rerun.sh).
fn rerun_sh() -> String {
    format!(
        r#"#!/bin/sh
# The steps of `coco demo` with the coco command line, in a fresh directory rerun/ beside this
# kit (refs.toml and policy.toml are the demo's). Run it from this directory: sh rerun.sh
set -e
coco=${{COCO:-coco}}
rm -rf rerun && mkdir rerun && cd rerun
trap 'kill $pid 2>/dev/null || true' EXIT

# [1/6] vendor: the model (the demo's sample model)
cp -R ../model model
# [2/6] vendor: a data key, a signing key, the sealed model with its signed manifest
$coco keygen --out dek
$coco keygen --vendor --out vendor.pem
$coco seal --key dek --model-id coco-demo/model@1 --key-id {key_id} --sign-key vendor.pem model model.sealed
# [3/6] vendor: signed reference values; operator: the key-release service (simulated TEE)
$coco corim build ../refs.toml --out refs.cbor
$coco corim sign refs.cbor --key vendor.pem --signer "coco demo vendor" --out refs.signed
$coco sim init sim
$coco keygen --vendor --out ear.pem
$coco serve --keys release-keys --add-key {key_id}=dek --reference refs.signed     --corim-key vendor.pem.pub --policy ../policy.toml --ear-key ear.pem --sim-root sim/root.pem     --listen 127.0.0.1:0 > release-audit.jsonl 2> serve.log &
pid=$!
until grep -q 'serving key release on' serve.log; do sleep 0.1; done
url=$(sed -n 's/.*serving key release on \([^ ]*\).*/\1/p' serve.log)
# [4/6] workload: the simulated CVM and GPU attest; the key is released, its EAR checked
$coco fetch-key --url "$url" --key-id {key_id} --sim sim --measurement {measurement} --gpus 1     --ear-key ear.pem.pub --out released.key
# [5/6] workload: the vendor signature checked, the model unsealed with the released key
$coco unseal --key released.key --vendor-key vendor.pem.pub model.sealed model.unsealed
diff -r model model.unsealed
echo "rerun: OK"
"#,
        key_id = KEY_ID,
        measurement = hex::encode(vm().measurement),
    )
}

/// A rerun on the same `--dir` starts over: the demo's own outputs of a previous run are
/// removed (only those, and only where the demo's marker is); a directory holding them without
/// the marker is refused.
fn clear_previous_run(d: &Path) -> CmdResult {
    let present: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .filter(|o| fs::symlink_metadata(d.join(o)).is_ok())
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    if !d.join(MARKER).is_file() {
        return Err(format!(
            "--dir {}: holds {} but was not written by `coco demo` (no {MARKER}); choose another directory",
            d.display(),
            present.join(", ")
        )
        .into());
    }
    for o in present {
        let p = d.join(o);
        if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        }
        .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Runs the demo.
pub fn run(a: &DemoArgs) -> CmdResult {
    let say = Say(a.json);
    let tmp;
    let root = match &a.dir {
        Some(d) => {
            fs::create_dir_all(d).map_err(|e| format!("--dir {}: {e}", d.display()))?;
            clear_previous_run(d)?;
            fs::write(
                d.join(MARKER),
                b"written by `coco demo`; rerun it to start over\n",
            )?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let model = root.join("model");
    let sealed = root.join("model.sealed");
    let unsealed = root.join("model.unsealed");
    fs::create_dir_all(&model)?;

    say.line(format!(
        "[1/6] vendor: generating a sample model in {}",
        model.display()
    ));
    let mut total = 0u64;
    let mut tensors = 0;
    let mut weight_map = serde_json::Map::new();
    for i in 0..a.shards {
        let name = format!("model-{:05}-of-{:05}.safetensors", i + 1, a.shards);
        let p = model.join(&name);
        let names = write_safetensors(&p, a.shard_mib << 20, i as u32 + 1, tensors)?;
        tensors += names.len();
        total += fs::metadata(&p)?.len();
        for t in names {
            weight_map.insert(t, name.clone().into());
        }
    }
    // The index of a sharded Hugging Face checkpoint: tensor name -> shard file.
    fs::write(
        model.join("model.safetensors.index.json"),
        serde_json::to_vec_pretty(&json!({"weight_map": weight_map}))?,
    )?;
    fs::write(
        model.join("config.json"),
        br#"{"model_type": "coco-demo", "hidden_size": 256}"#,
    )?;
    say.line(format!(
        "      {} shards, {tensors} tensors, {total} bytes of weights",
        a.shards
    ));

    say.line("[2/6] vendor: sealing with a fresh data key and a signed manifest");
    let dek = Dek::generate()?;
    let vendor = generate_signing_key()?;
    let t = Instant::now();
    let st = seal_dir(
        &dek,
        &model,
        &sealed,
        &DirSealOptions {
            seal: SealOptions {
                key_id: KEY_ID.into(),
                ..SealOptions::default()
            },
            model_id: "coco-demo/model@1".into(),
            sign_key: Some(vendor.clone()),
        },
    )?;
    let secs = t.elapsed().as_secs_f64();
    say.line(format!(
        "      sealed into {} in {:.3} s ({:.2} GB/s); model identity sha256:{}",
        sealed.display(),
        secs,
        total as f64 / secs / 1e9,
        st.predicate.shards_digest()
    ));

    say.line("[3/6] vendor: signed reference values (CoRIM) for the CVM image and the GPU; key to the release service");
    let corim_key = SigningKey::from_p384(vendor.clone())?;
    let signed = cose::sign(
        &build::build(&refs_toml())?,
        &corim_key,
        "coco demo vendor",
        None,
    )?;
    let now = SystemTime::now();
    let s = SignedCorim::decode(&signed, &DecodeOptions::default())?;
    s.verify(&[corim_key.public()], coco_core::time::unix(now))?;
    let references = ReferenceValues::from_corims(&[s.corim])?;
    let n_refs = references.len();
    let keys = FileKeyStore::open(&root.join("release-keys"))?;
    keys.put(KEY_ID, &dek)?;
    let sim = SimRoot::generate()?;
    let policy = Policy::from_toml(POLICY_TOML)?;
    let audit = fs::File::create(root.join("release-audit.jsonl"))?;
    let service = KeyReleaseService::new(
        Box::new(keys),
        SigningKey::generate_p384()?,
        ServiceConfig {
            references,
            policy,
            sim_root: Some(sim.cert().clone()),
            challenge_ttl_secs: 60,
        },
    )?
    .with_audit(Box::new(audit));
    let service_pk = service.ear_public_key();
    if a.dir.is_some() {
        // The kit: what the demo used, to read and to rerun step by step.
        fs::write(root.join("refs.toml"), refs_toml())?;
        fs::write(root.join("refs.signed"), &signed)?;
        fs::write(root.join("policy.toml"), POLICY_TOML)?;
        fs::write(
            root.join("vendor.pem.pub"),
            coco_seal::manifest::verifying_key_to_pem(vendor.verifying_key()),
        )?;
        // The service's EAR key (JWK), to check its EARs: `coco ear verify --key`.
        fs::write(root.join("ear-key.jwk"), service_pk.to_jwk().to_string())?;
        fs::write(root.join("rerun.sh"), rerun_sh())?;
    }
    let server = Server::start(
        std::sync::Arc::new(service),
        "127.0.0.1:0".parse()?,
        Limits::default(),
    )?;
    let client = Client::new(&format!("http://{}", server.addr()))?;
    say.line(format!(
        "      {n_refs} reference value{} (signature verified); service on http://{}; audit log {}",
        if n_refs == 1 { "" } else { "s" },
        server.addr(),
        root.join("release-audit.jsonl").display()
    ));

    say.line("[4/6] workload: simulated CVM + GPU collect evidence bound to the challenge and an HPKE key");
    let cvm = SimAttester {
        platform: sim.platform()?,
        vm: vm(),
        gpus: vec![gpu()],
    };
    let challenge = client.challenge()?;
    let (bundle, key) = workload::bundle(&cvm, &challenge, KEY_ID, Kem::P384)?;
    let response = client
        .release(&bundle)
        .map_err(|r| format!("release refused: {r}"))?;
    let ear = Ear::from_jwt(
        &response.ear,
        &[service_pk],
        coco_core::time::unix(SystemTime::now()),
    )?;
    let released = workload::unwrap(&response, &key, KEY_ID)?;
    say.line(format!(
        "      released: EAR {} (submods {}), data key unwrapped inside the CVM",
        ear.overall().name(),
        ear.submods.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    say.line(
        "      (warning, not affirming: the TEE is simulated, so its memory is not opaque to the \
         host; real TDX/SNP and GPU evidence that matches the reference values is affirming, \
         and a policy never allows simulation where real keys are released)",
    );

    say.line("[5/6] workload: checking the vendor signature and unsealing with the released key");
    let t = Instant::now();
    unseal_dir(
        &released,
        &sealed,
        &unsealed,
        &DirUnsealOptions {
            vendor_key: Some(*vendor.verifying_key()),
            ..Default::default()
        },
    )?;
    let secs = t.elapsed().as_secs_f64();
    let files = compare_trees(&model, &unsealed)?;
    let mut loaded = 0;
    for s in &st.predicate.shards {
        if s.path.ends_with(".safetensors") {
            loaded += safetensors_tensors(&unsealed.join(&s.path))?;
        }
    }
    let unsealed_matches = loaded == tensors;
    if !unsealed_matches {
        return Err(format!("loaded {loaded} tensors, expected {tensors}").into());
    }
    say.line(format!(
        "      {files} files identical to the originals, {loaded} tensors readable; unsealed in {secs:.3} s ({:.2} GB/s)",
        total as f64 / secs / 1e9
    ));

    say.line("[6/6] negative cases");
    let mut negative = Vec::new();
    // Each refusal: its kind and the claims of its findings (typed), and the one-line reason.
    let mut case = |name: &str, outcome: Result<(), Refusal>| {
        let (rejected, r) = match outcome {
            Ok(()) => (false, Refusal::default()),
            Err(r) => (true, r),
        };
        say.line(format!(
            "      {name}: {}",
            if rejected {
                format!("refused ({})", r.reason)
            } else {
                "NOT REFUSED".into()
            }
        ));
        negative.push(
            json!({"case": name, "rejected": rejected, "reason": r.reason,
                             "kind": r.kind, "findings": r.findings}),
        );
    };
    let release = |b: &coco_release::wire::EvidenceBundle| {
        client.release(b).map(|_| ()).map_err(|e| Refusal::from(&e))
    };
    case("replayed challenge", release(&bundle));
    let debug_cvm = SimAttester {
        platform: sim.platform()?,
        vm: SimVm {
            policy: 0x30000 | 1 << 19,
            ..vm()
        },
        gpus: vec![gpu()],
    };
    let (b, _) = workload::bundle(&debug_cvm, &client.challenge()?, KEY_ID, Kem::P384)?;
    case("debug enabled", release(&b));
    let other_cvm = SimAttester {
        platform: sim.platform()?,
        vm: SimVm {
            measurement: [0xa5; 48],
            ..vm()
        },
        gpus: vec![gpu()],
    };
    let (b, _) = workload::bundle(&other_cvm, &client.challenge()?, KEY_ID, Kem::P384)?;
    case("measurement not in reference values", release(&b));
    let (first, _) = workload::bundle(&cvm, &client.challenge()?, KEY_ID, Kem::P384)?;
    let (mut second, _) = workload::bundle(&cvm, &client.challenge()?, KEY_ID, Kem::P384)?;
    second.gpus = first.gpus;
    case("gpu report from another session", release(&second));
    let with_gpus = |gpus: Vec<SimGpu>| -> Result<SimAttester, Box<dyn std::error::Error>> {
        Ok(SimAttester {
            platform: sim.platform()?,
            vm: vm(),
            gpus,
        })
    };
    let (b, _) = workload::bundle(&with_gpus(vec![])?, &client.challenge()?, KEY_ID, Kem::P384)?;
    case("missing gpu evidence", release(&b));
    let (b, _) = workload::bundle(
        &with_gpus(vec![gpu(), gpu()])?,
        &client.challenge()?,
        KEY_ID,
        Kem::P384,
    )?;
    case("same gpu twice", release(&b));
    let second_gpu = SimGpu { serial: 2, ..gpu() };
    let (b, _) = workload::bundle(
        &with_gpus(vec![gpu(), second_gpu])?,
        &client.challenge()?,
        KEY_ID,
        Kem::P384,
    )?;
    case("unexpected attester", release(&b));
    let tampered = root.join("model.tampered");
    copy_dir(&sealed, &tampered)?;
    let shard = st
        .predicate
        .shards
        .iter()
        .find(|s| s.path.ends_with(".safetensors"))
        .map(|s| tampered.join(&s.sealed_path))
        .ok_or("no safetensors shard")?;
    let mut bytes = fs::read(&shard)?;
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    fs::write(&shard, bytes)?;
    let out = root.join("model.tampered.out");
    case(
        "tampered shard",
        match unseal_dir(
            &released,
            &tampered,
            &out,
            &DirUnsealOptions {
                vendor_key: Some(*vendor.verifying_key()),
                ..Default::default()
            },
        ) {
            Ok(_) => Ok(()),
            Err(e) => Err(Refusal {
                kind: match e {
                    coco_seal::SealError::Tampered { .. } => "tampered",
                    _ => "seal",
                }
                .into(),
                findings: vec![],
                reason: e.to_string(),
            }),
        },
    );
    let all_refused = negative.iter().all(|n| n["rejected"] == true);
    if a.json {
        outln!(
            "{}",
            json!({
                "released": true,
                "unsealed_matches": unsealed_matches,
                "ear": ear.to_json(),
                "negative": Value::Array(negative),
            })
        );
    } else {
        outln!(
            "demo: {}",
            if all_refused {
                "OK"
            } else {
                "FAILED (a negative case was not refused)"
            }
        );
    }
    if !all_refused {
        return Err("a negative case was not refused".into());
    }
    Ok(())
}

/// A refusal as the demo reports it.
#[derive(Default)]
struct Refusal {
    kind: String,
    findings: Vec<String>,
    reason: String,
}

impl From<&coco_release::ReleaseError> for Refusal {
    fn from(e: &coco_release::ReleaseError) -> Self {
        let findings = match e {
            coco_release::ReleaseError::Refused { detail, .. } => detail["findings"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x["claim"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            _ => vec![],
        };
        Self {
            kind: e.kind().to_string(),
            findings,
            reason: e.to_string(),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            fs::copy(e.path(), dst)?;
        }
    }
    Ok(())
}
