//! `keygen`, `seal`, `unseal`, `inspect`.

use std::path::{Path, PathBuf};

use clap::Args;
use coco_seal::manifest::{
    generate_signing_key, load_signing_key, load_verifying_key, signing_key_to_pem,
    verifying_key_to_pem,
};
use coco_seal::{
    Dek, DirSealOptions, DirUnsealOptions, SealOptions, Sealer, UnsealOptions, model, unseal_dir,
    unseal_file,
};

use crate::CmdResult;
use crate::progress;

/// `coco seal`.
#[derive(Args)]
pub struct SealArgs {
    /// The data key file (32 raw bytes or 64 hex characters).
    #[arg(long)]
    key: PathBuf,
    /// Chunk size in bytes, a power of two from 64KiB to 16MiB (suffixes K, KiB, M, MiB).
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    chunk_size: u64,
    /// Model id recorded in every header and in the manifest (default: the input's name).
    #[arg(long)]
    model_id: Option<String>,
    /// Key id recorded in the header, e.g. the key-release resource name.
    #[arg(long, default_value = "", hide_default_value = true)]
    key_id: String,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// Sign the directory manifest (DSSE, ES384) with this PKCS#8 PEM vendor key.
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Replace an existing output file (never by default; a directory output is never
    /// replaced).
    #[arg(long)]
    force: bool,
    /// A file, or a model directory (every file sealed as NAME.coco plus coco-manifest.json).
    input: PathBuf,
    /// The sealed file or directory to create.
    output: PathBuf,
}

/// `coco unseal`.
#[derive(Args)]
pub struct UnsealArgs {
    /// The data key file.
    #[arg(long)]
    key: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// Require a manifest signed by this vendor key (SPKI PEM); also checks plaintext digests.
    #[arg(long)]
    vendor_key: Option<PathBuf>,
    /// Replace an existing output file (never by default; a directory output is never
    /// replaced).
    #[arg(long)]
    force: bool,
    /// A sealed file or a sealed model directory.
    input: PathBuf,
    /// The plaintext file or directory to create.
    output: PathBuf,
}

/// Refuses an existing `output` before any work: a file unless `force`, a non-empty directory
/// always (an empty one is filled).
fn check_output(output: &Path, force: bool) -> CmdResult {
    let Ok(meta) = std::fs::symlink_metadata(output) else {
        return Ok(());
    };
    if meta.is_dir() {
        let empty = std::fs::read_dir(output).is_ok_and(|mut d| d.next().is_none());
        if empty {
            return Ok(());
        }
        return Err(format!(
            "{}: exists and is not an empty directory; not replaced (remove it first)",
            output.display()
        )
        .into());
    }
    if force {
        return Ok(());
    }
    Err(format!(
        "{}: exists; not replaced (--force replaces it)",
        output.display()
    )
    .into())
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use K, KiB, M or MiB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

fn tree_size(path: &Path) -> u64 {
    if path.is_dir() {
        model::list_files(path)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| std::fs::metadata(path.join(f)).ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

pub fn keygen(out: &Path, vendor: bool) -> CmdResult {
    if vendor {
        let key = generate_signing_key()?;
        let pub_path = PathBuf::from(format!("{}.pub", out.display()));
        if pub_path.exists() {
            return Err(format!("{} already exists", pub_path.display()).into());
        }
        write_new_private(out, signing_key_to_pem(&key).as_bytes())?;
        std::fs::write(&pub_path, verifying_key_to_pem(key.verifying_key()))?;
        eprintln!(
            "wrote vendor signing key {} and public key {} (key id {})",
            out.display(),
            pub_path.display(),
            coco_seal::manifest::key_id(key.verifying_key())
        );
    } else {
        let dek = Dek::generate()?;
        dek.save(out)?;
        eprintln!(
            "wrote data key {} (key check {})",
            out.display(),
            hex::encode(dek.key_check())
        );
    }
    Ok(())
}

fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(bytes)
}

pub fn seal(a: &SealArgs) -> CmdResult {
    check_output(&a.output, a.force)?;
    let dek = Dek::load(&a.key)?;
    let mut opts = SealOptions::default().with_chunk_size(a.chunk_size)?;
    opts.key_id = a.key_id.clone();
    opts.threads = a.threads;
    let bar = progress::bar(tree_size(&a.input), "sealing");
    opts.progress = bar.as_ref().map(|(_, p)| p.clone());
    let model_id = a.model_id.clone().unwrap_or_else(|| {
        a.input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if a.input.is_dir() {
        let sign_key = a.sign_key.as_deref().map(load_signing_key).transpose()?;
        let st = coco_seal::seal_dir(
            &dek,
            &a.input,
            &a.output,
            &DirSealOptions {
                seal: opts,
                model_id,
                sign_key,
            },
        )?;
        finish(bar);
        eprintln!(
            "sealed {} files into {} (manifest subject sha256 {})",
            st.predicate.shards.len(),
            a.output.display(),
            st.predicate.shards_digest()
        );
    } else {
        if a.sign_key.is_some() {
            return Err("--sign-key signs a directory manifest: the input is a single file".into());
        }
        opts.metadata.model_id = Some(model_id);
        let s = Sealer::new(&dek, opts).seal_file(&a.input, &a.output)?;
        finish(bar);
        eprintln!(
            "sealed {} bytes into {} (header sha256 {})",
            s.header.plaintext_len(),
            a.output.display(),
            s.header_sha256
        );
    }
    Ok(())
}

fn finish(bar: Option<(indicatif::ProgressBar, coco_seal::Progress)>) {
    if let Some((pb, _)) = bar {
        pb.finish_and_clear();
    }
}

pub fn unseal(a: &UnsealArgs) -> CmdResult {
    check_output(&a.output, a.force)?;
    let dek = Dek::load(&a.key)?;
    let bar = progress::bar(tree_size(&a.input), "unsealing");
    let opts = UnsealOptions {
        threads: a.threads,
        progress: bar.as_ref().map(|(_, p)| p.clone()),
    };
    if a.input.is_dir() {
        let vendor_key = a
            .vendor_key
            .as_deref()
            .map(load_verifying_key)
            .transpose()?;
        if vendor_key.is_none() {
            eprintln!("coco: note: no --vendor-key: the manifest's signature is not checked");
        }
        let st = unseal_dir(
            &dek,
            &a.input,
            &a.output,
            &DirUnsealOptions {
                unseal: opts,
                vendor_key,
            },
        )?;
        finish(bar);
        eprintln!(
            "unsealed {} files into {}",
            st.predicate.shards.len(),
            a.output.display()
        );
    } else {
        if a.vendor_key.is_some() {
            return Err(
                "--vendor-key checks a directory manifest: the input is a single file".into(),
            );
        }
        unseal_file(&dek, &a.input, &a.output, &opts)?;
        finish(bar);
    }
    Ok(())
}

pub fn inspect(input: &Path, json_out: bool) -> CmdResult {
    if input.is_dir() {
        let (stored, st) = model::read_manifest(input, None)?;
        if json_out {
            outln!("{}", serde_json::to_string(&st)?);
        } else {
            let p = &st.predicate;
            outln!(
                "manifest:    {}",
                input.join(coco_seal::manifest::MANIFEST_FILE).display()
            );
            outln!(
                "signed:      {}",
                if stored.is_signed() {
                    "yes (DSSE, not checked here)"
                } else {
                    "no"
                }
            );
            outln!("model_id:    {}", p.model_id);
            outln!("subject:     sha256:{}", p.shards_digest());
            outln!("suite:       {}", p.suite);
            outln!("key_id:      {}", p.key_id);
            outln!("key_check:   {}", p.key_check);
            outln!("chunk_size:  {}", p.chunk_size);
            for s in &p.shards {
                outln!(
                    "  [{}] {} ({} bytes) header sha256 {}",
                    s.index,
                    s.path,
                    s.plaintext_size,
                    s.header_sha256
                );
            }
        }
        return Ok(());
    }
    let file = std::fs::File::open(input).map_err(|source| crate::FileError {
        path: input.to_path_buf(),
        flag: None,
        source,
    })?;
    let v = coco_seal::inspect(&file)?.to_json();
    if json_out {
        outln!("{}", serde_json::to_string(&v)?);
    } else {
        for (k, val) in v.as_object().expect("object") {
            outln!("{:<17} {}", format!("{k}:"), val);
        }
    }
    Ok(())
}
