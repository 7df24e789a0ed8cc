//! Model directories: every file sealed as `NAME.coco` plus `coco-manifest.json`.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use coco_core::Sha256Digest;
use p384::ecdsa::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{ManifestError, Result, SealError};
use crate::header::Metadata;
use crate::key::Dek;
use crate::manifest::{
    FORMAT, MANIFEST_FILE, ModelPredicate, ShardEntry, Statement, StoredManifest,
    check_relative_path,
};
use crate::output::AtomicDir;
use crate::parallel::Progress;
use crate::reader::SealedFile;
use crate::unseal::UnsealOptions;
use crate::writer::{SealOptions, Sealer};

/// How to seal a model directory.
#[derive(Clone, Default)]
pub struct DirSealOptions {
    /// Per-file options (chunk size, key id, threads, progress). Metadata and hashing are set
    /// per shard by [`seal_dir`].
    pub seal: SealOptions,
    /// The model id recorded in every header and in the manifest.
    pub model_id: String,
    /// Sign the manifest (DSSE, ES384) with this vendor key.
    pub sign_key: Option<SigningKey>,
}

/// How to unseal a model directory.
#[derive(Clone, Default)]
pub struct DirUnsealOptions {
    /// Per-file options (threads, progress).
    pub unseal: UnsealOptions,
    /// Require a signed manifest that verifies under this key. With a vendor key, every
    /// shard's plaintext SHA-256 is also checked against the manifest: that stops a holder of
    /// the data key (who can forge chunks) from substituting weights.
    pub vendor_key: Option<VerifyingKey>,
}

/// The content type recorded for a shard, from its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
        Some(e) if e == "safetensors" => "safetensors",
        Some(e) if e == "gguf" => "gguf",
        Some(e) if e == "json" => "json",
        Some(e) if e == "bin" || e == "pt" || e == "pth" => "pytorch",
        _ => "application/octet-stream",
    }
}

/// Lists the regular files under `root` as sorted `/`-separated relative paths. Anything that
/// is not a regular file or directory is refused.
pub fn list_files(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).expect("under root");
                let parts: Option<Vec<&str>> =
                    rel.components().map(|c| c.as_os_str().to_str()).collect();
                let rel = parts
                    .ok_or_else(|| ManifestError::UnsafePath(rel.display().to_string()))?
                    .join("/");
                check_relative_path(&rel)?;
                out.push(rel);
            } else {
                return Err(ManifestError::NotRegular(path).into());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Progress of one file reported as the running total over a directory.
fn offset_progress(outer: Option<&Progress>, base: u64) -> Option<Progress> {
    outer.map(|p| {
        let p = p.clone();
        Arc::new(move |n| p(base + n)) as Progress
    })
}

fn native(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |p, c| p.join(c))
}

/// Seals every file under `src` into `dst` (which must not exist or be empty) and writes the
/// manifest. `dst` appears only when everything succeeded.
pub fn seal_dir(dek: &Dek, src: &Path, dst: &Path, opts: &DirSealOptions) -> Result<Statement> {
    let files = list_files(src)?;
    if files.is_empty() {
        return Err(SealError::InvalidArgument(format!(
            "{} holds no files to seal",
            src.display()
        )));
    }
    let out = AtomicDir::create(dst)?;
    let mut shards = Vec::with_capacity(files.len());
    let mut done = 0u64;
    for (i, rel) in files.iter().enumerate() {
        let index = u32::try_from(i)
            .map_err(|_| SealError::InvalidArgument("more than 2^32 shards".into()))?;
        let sealed_rel = format!("{rel}.coco");
        let target = native(out.path(), &sealed_rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut o = opts.seal.clone();
        o.hash_plaintext = true;
        o.progress = offset_progress(opts.seal.progress.as_ref(), done);
        o.metadata = Metadata {
            model_id: Some(opts.model_id.clone()),
            shard_name: Some(rel.clone()),
            shard_index: Some(index),
            content_type: Some(content_type(rel).into()),
        };
        let input = fs::File::open(native(src, rel))?;
        let len = input.metadata()?.len();
        let sink = fs::File::create(&target)?;
        let summary = Sealer::new(dek, o).seal(
            std::io::BufReader::with_capacity(1 << 20, input),
            len,
            &sink,
        )?;
        sink.sync_all()?;
        done += len;
        shards.push(ShardEntry {
            index,
            path: rel.clone(),
            sealed_path: sealed_rel,
            plaintext_size: len,
            plaintext_sha256: summary.plaintext_sha256.expect("hash requested"),
            sealed_size: summary.sealed_len,
            header_sha256: summary.header_sha256,
        });
    }
    let statement = Statement::new(ModelPredicate {
        format: FORMAT.into(),
        suite: crate::header::Suite::Aes256GcmSivHkdfSha256.name().into(),
        model_id: opts.model_id.clone(),
        key_id: opts.seal.key_id.clone(),
        key_check: hex::encode(dek.key_check()),
        chunk_size: 1u64 << opts.seal.chunk_log2,
        shards,
    });
    let stored = match &opts.sign_key {
        Some(k) => StoredManifest::sign(&statement, k),
        None => StoredManifest::Plain(statement.clone()),
    };
    fs::write(out.path().join(MANIFEST_FILE), stored.to_json())?;
    out.commit()?;
    Ok(statement)
}

/// Reads and validates a sealed directory's manifest (see [`StoredManifest::statement`]):
/// the stored form (plain or signed) and its validated statement.
pub fn read_manifest(
    dir: &Path,
    vendor_key: Option<&VerifyingKey>,
) -> Result<(StoredManifest, Statement)> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SealError::Manifest(ManifestError::Syntax(format!(
                "{} not found",
                path.display()
            )))
        } else {
            e.into()
        }
    })?;
    let stored = StoredManifest::parse(&bytes)?;
    let statement = stored.statement(vendor_key)?;
    Ok((stored, statement))
}

/// Opens every shard of a sealed directory and checks it against the manifest: no missing,
/// extra, renamed or swapped shard; header digests, sizes and header metadata match.
pub fn open_dir(dek: &Dek, src: &Path, statement: &Statement) -> Result<Vec<SealedFile>> {
    let p = &statement.predicate;
    let present: BTreeSet<String> = list_files(src)?
        .into_iter()
        .filter(|f| f != MANIFEST_FILE)
        .collect();
    let listed: BTreeSet<String> = p.shards.iter().map(|s| s.sealed_path.clone()).collect();
    if let Some(missing) = listed.difference(&present).next() {
        return Err(ManifestError::MissingShard(missing.clone()).into());
    }
    if let Some(extra) = present.difference(&listed).next() {
        return Err(ManifestError::ExtraFile(extra.clone()).into());
    }
    let mut files = Vec::with_capacity(p.shards.len());
    for s in &p.shards {
        let mismatch = |field| ManifestError::ShardMismatch {
            path: s.sealed_path.clone(),
            field,
        };
        let f = SealedFile::open_path(&native(src, &s.sealed_path), dek)?;
        if *f.header_sha256() != s.header_sha256 {
            return Err(mismatch("header_sha256").into());
        }
        if f.layout().file_len != s.sealed_size {
            return Err(mismatch("sealed_size").into());
        }
        if f.plaintext_len() != s.plaintext_size {
            return Err(mismatch("plaintext_size").into());
        }
        let m = f.header().metadata();
        if m.shard_name.as_deref() != Some(s.path.as_str()) {
            return Err(mismatch("path").into());
        }
        if m.shard_index != Some(s.index) {
            return Err(mismatch("index").into());
        }
        if m.model_id.as_deref() != Some(p.model_id.as_str()) {
            return Err(mismatch("model_id").into());
        }
        if f.header().key_id() != p.key_id {
            return Err(mismatch("key_id").into());
        }
        files.push(f);
    }
    Ok(files)
}

/// Unseals a sealed model directory into `dst` (which must not exist or be empty) after
/// checking the manifest and every shard. `dst` appears only when everything succeeded.
pub fn unseal_dir(dek: &Dek, src: &Path, dst: &Path, opts: &DirUnsealOptions) -> Result<Statement> {
    let (_, statement) = read_manifest(src, opts.vendor_key.as_ref())?;
    let files = open_dir(dek, src, &statement)?;
    let out = AtomicDir::create(dst)?;
    let mut done = 0u64;
    for (s, f) in statement.predicate.shards.iter().zip(&files) {
        let target = native(out.path(), &s.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&target)?;
        let per_file = UnsealOptions {
            threads: opts.unseal.threads,
            progress: offset_progress(opts.unseal.progress.as_ref(), done),
        };
        f.unseal_to_file(&file, &per_file)?;
        done += f.plaintext_len();
        if opts.vendor_key.is_some() && sha256_file(&file)? != s.plaintext_sha256 {
            return Err(ManifestError::ShardMismatch {
                path: s.sealed_path.clone(),
                field: "plaintext_sha256",
            }
            .into());
        }
    }
    out.commit()?;
    Ok(statement)
}

fn sha256_file(file: &fs::File) -> Result<Sha256Digest> {
    let mut h = Sha256::new();
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; 1 << 20];
    use std::io::Seek;
    r.seek(std::io::SeekFrom::Start(0))?;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Sha256Digest(h.finalize().into()))
}
