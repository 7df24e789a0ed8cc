//! `coco demo`: the vendor-to-workload flow on a generated sample model.
//!
//! Today it runs the sealing half of the flow for real: a generated safetensors model is sealed
//! with a fresh data key and a manifest signed by a fresh vendor key, then unsealed with the
//! vendor key required, and every file is compared with the original. The attestation and key
//! release steps join as `coco-release` lands.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use coco_seal::manifest::generate_signing_key;
use coco_seal::{Dek, DirSealOptions, DirUnsealOptions, SealOptions, seal_dir, unseal_dir};
use serde_json::json;

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
}

/// Writes one safetensors file of f32 tensors totalling about `bytes` bytes.
fn write_safetensors(path: &Path, bytes: usize, seed: u32) -> std::io::Result<usize> {
    let rows = 256usize;
    let per_tensor = rows * 256 * 4;
    let count = (bytes / per_tensor).max(1);
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut data = Vec::with_capacity(count * per_tensor);
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
        header.insert(
            format!("model.layers.{t}.mlp.weight"),
            json!({"dtype": "F32", "shape": [rows, 256], "data_offsets": [start, data.len()]}),
        );
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
    Ok(count)
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

pub fn run(a: &DemoArgs) -> CmdResult {
    let tmp;
    let root = match &a.dir {
        Some(d) => {
            fs::create_dir_all(d)?;
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

    println!(
        "[1/4] vendor: generating a sample model in {}",
        model.display()
    );
    let mut total = 0u64;
    let mut tensors = 0;
    let mut weight_map = serde_json::Map::new();
    for i in 0..a.shards {
        let name = format!("model-{:05}-of-{:05}.safetensors", i + 1, a.shards);
        let p = model.join(&name);
        tensors += write_safetensors(&p, a.shard_mib << 20, i as u32 + 1)?;
        total += fs::metadata(&p)?.len();
        weight_map.insert(format!("shard.{i}"), name.into());
    }
    fs::write(
        model.join("model.safetensors.index.json"),
        serde_json::to_vec_pretty(&json!({"weight_map": weight_map}))?,
    )?;
    fs::write(
        model.join("config.json"),
        br#"{"model_type": "coco-demo", "hidden_size": 256}"#,
    )?;
    println!(
        "      {} shards, {tensors} tensors, {total} bytes of weights",
        a.shards
    );

    println!("[2/4] vendor: sealing with a fresh data key and a signed manifest");
    let dek = Dek::generate()?;
    let vendor = generate_signing_key()?;
    let t = Instant::now();
    let st = seal_dir(
        &dek,
        &model,
        &sealed,
        &DirSealOptions {
            seal: SealOptions {
                key_id: "coco-demo/dek-1".into(),
                ..SealOptions::default()
            },
            model_id: "coco-demo/model@1".into(),
            sign_key: Some(vendor.clone()),
        },
    )?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "      sealed into {} in {:.3} s ({:.2} GB/s); model identity sha256:{}",
        sealed.display(),
        secs,
        total as f64 / secs / 1e9,
        st.predicate.shards_digest()
    );

    println!(
        "[3/4] key release: handing the data key to the workload (attestation-bound release lands with coco-release)"
    );

    println!("[4/4] workload: checking the vendor signature and unsealing");
    let t = Instant::now();
    unseal_dir(
        &dek,
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
    if loaded != tensors {
        return Err(format!("loaded {loaded} tensors, expected {tensors}").into());
    }
    println!(
        "      {files} files identical to the originals, {loaded} tensors readable; unsealed in {secs:.3} s ({:.2} GB/s, signature and plaintext digests checked)",
        total as f64 / secs / 1e9
    );
    println!("demo: OK");
    Ok(())
}
