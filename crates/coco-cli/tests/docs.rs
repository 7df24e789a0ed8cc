//! The documentation runs: every `coco` command line of README.md is checked against the real
//! argument parser (`COCO_PARSE_ONLY`), the blocks marked `<!-- docs-test: run -->` run
//! verbatim, in order, in one directory beside the shared vectors (with a model, a model
//! directory, `refs.toml`, `initdata.toml` and an SNP report with its certificates prepared as
//! their user would have them), and every TOML example of docs/PROFILE.md builds into a CoRIM.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fenced blocks of `lang` in `text`, each with whether the line before its fence is the
/// run marker.
fn blocks(text: &str, lang: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let mut prev = "";
    while let Some(l) = lines.next() {
        if l.trim() == format!("```{lang}") {
            let run = prev.trim() == "<!-- docs-test: run -->";
            let mut body = String::new();
            for b in lines.by_ref() {
                if b.trim() == "```" {
                    break;
                }
                body.push_str(b);
                body.push('\n');
            }
            out.push((run, body));
        }
        prev = l;
    }
    out
}

/// The command lines of a shell block: continuations joined, comments dropped.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in block.lines() {
        let l = match l.find(" #") {
            Some(i) if !l[..i].contains('\'') => &l[..i],
            _ => l,
        };
        let l = l.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(head) = l.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(l);
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Shell words of a command line (quotes removed, `$VAR` from `vars`, optional `[...]`
/// groups kept without their brackets).
fn words(line: &str, vars: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ' ') => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, '[' | ']') if cur.is_empty() || c == ']' => {}
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|w| {
            vars.iter()
                .fold(w, |w, (k, v)| w.replace(&format!("${k}"), v))
        })
        .collect()
}

#[test]
fn every_readme_command_parses_and_the_marked_blocks_run() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let sh = blocks(&readme, "sh");
    assert!(sh.len() >= 15, "{} shell blocks", sh.len());

    // Every `coco` command line (and `cargo run ... -- ARGS`) against the parser.
    let mut parsed = 0;
    for (_, block) in &sh {
        let mut vars = Vec::new();
        for line in commands(block) {
            if let Some((k, v)) = line.split_once('=')
                && !k.contains(' ')
                && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            {
                vars.push((k.to_string(), v.trim_matches('\'').to_string()));
                continue;
            }
            let w = words(&line, &vars);
            let args: Vec<String> = if w.first().map(String::as_str) == Some("coco") {
                w[1..].to_vec()
            } else if w.starts_with(&["cargo".into(), "run".into()]) {
                match w.iter().position(|x| x == "--") {
                    Some(i) => w[i + 1..].to_vec(),
                    None => continue,
                }
            } else {
                continue;
            };
            let out = Command::new(env!("CARGO_BIN_EXE_coco"))
                .args(&args)
                .env("COCO_PARSE_ONLY", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "README: `{line}` does not parse: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            parsed += 1;
        }
    }
    assert!(parsed >= 30, "{parsed} command lines parsed");

    // The marked blocks, verbatim, in order, with `coco` on the PATH, in a directory beside
    // `shared/vectors` as a checkout of this repository is.
    let t = tempfile::tempdir().unwrap();
    let d = &t.path().join("work");
    std::fs::create_dir_all(t.path().join("shared")).unwrap();
    std::os::unix::fs::symlink(coco_core::vectors::dir(), t.path().join("shared/vectors")).unwrap();
    std::fs::create_dir(d).unwrap();
    // An SNP report and a directory of its certificates, as the first example names them.
    let snp = coco_core::vectors::dir().join("snp/milan-v2-virtee-sev");
    std::os::unix::fs::symlink(snp.join("report.bin"), d.join("report.bin")).unwrap();
    std::os::unix::fs::symlink(&snp, d.join("certs")).unwrap();
    let safetensors = |tensors: &[(&str, usize)]| -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut off = 0;
        for (name, n) in tensors {
            header.insert(
                (*name).into(),
                serde_json::json!({"dtype": "F32", "shape": [n], "data_offsets": [off, off + 4 * n]}),
            );
            off += 4 * n;
        }
        let h = serde_json::Value::Object(header).to_string();
        let mut b = (h.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(h.as_bytes());
        b.extend((0..off).map(|i| i as u8));
        b
    };
    std::fs::write(d.join("model.safetensors"), safetensors(&[("w", 300_000)])).unwrap();
    std::fs::create_dir(d.join("llama-3-8b")).unwrap();
    std::fs::write(
        d.join("llama-3-8b/config.json"),
        "{\"model_type\": \"llama\"}",
    )
    .unwrap();
    std::fs::write(
        d.join("llama-3-8b/model.safetensors"),
        safetensors(&[("a", 1000), ("b", 5000)]),
    )
    .unwrap();
    let profile = std::fs::read_to_string(repo().join("docs/PROFILE.md")).unwrap();
    let snp_refs = blocks(&profile, "toml")
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| b.contains("[snp]"))
        .unwrap();
    std::fs::write(d.join("refs.toml"), snp_refs).unwrap();
    std::fs::write(
        d.join("initdata.toml"),
        "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"https://kr.internal:8080\"\n'''\n",
    )
    .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_coco")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut ran = 0;
    for (run, block) in &sh {
        if !run {
            continue;
        }
        // Unsealing writes where the plaintext was: the vendor's originals are set aside and
        // compared with what comes back.
        let unseal = block.contains("coco unseal");
        if unseal {
            std::fs::rename(d.join("model.safetensors"), d.join("orig.safetensors")).unwrap();
            std::fs::rename(d.join("llama-3-8b"), d.join("orig-llama")).unwrap();
        }
        let out = Command::new("sh")
            .args(["-e", "-c", block])
            .current_dir(d)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README block failed:\n{block}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if unseal {
            assert_eq!(
                std::fs::read(d.join("model.safetensors")).unwrap(),
                std::fs::read(d.join("orig.safetensors")).unwrap()
            );
            for f in ["config.json", "model.safetensors"] {
                assert_eq!(
                    std::fs::read(d.join("llama-3-8b").join(f)).unwrap(),
                    std::fs::read(d.join("orig-llama").join(f)).unwrap(),
                    "{f}"
                );
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 7, "marked blocks run");
}

#[test]
fn every_profile_example_builds() {
    let profile = std::fs::read_to_string(repo().join("docs/PROFILE.md")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let examples = blocks(&profile, "toml");
    assert!(examples.len() >= 4);
    for (i, (_, toml)) in examples.iter().enumerate() {
        let f = format!("p{i}.toml");
        std::fs::write(t.path().join(&f), toml).unwrap();
        let out = coco_env(
            &["corim", "build", &f, "--out", &format!("p{i}.cbor")],
            t.path(),
            &[],
        );
        assert!(
            out.status.success(),
            "PROFILE.md example {i} does not build:\n{toml}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
