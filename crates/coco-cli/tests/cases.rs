//! The CLI's behaviour as case files: every `tests/cases/*.toml` is one case (format in
//! `tests/cases/README.md`): files to start from, then `coco` invocations with their expected
//! exit status and what stdout and stderr must say. A new case is a new file.
//!
//! Every failing step is also held to what a failure must never do: leave the directory
//! different from before (an input touched, an output or a temporary file left behind) or
//! print an internal name or a Rust debug form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// What no failure message may contain: Rust debug forms, internal names, raw limits.
const NEVER: &[&str] = &[
    "Some(",
    "Tcb {",
    ".coco-partial",
    "2^",
    "(os error 2)\"",
    "(1184)",
    "panicked",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Files written into the case's empty directory first (path → text).
    #[serde(default)]
    files: BTreeMap<String, String>,
    step: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    args: Vec<String>,
    #[serde(default)]
    status: i32,
    /// Each must appear in stdout.
    #[serde(default)]
    stdout: Vec<String>,
    /// Each must appear in stderr.
    #[serde(default)]
    stderr: Vec<String>,
    /// None may appear in stderr.
    #[serde(default)]
    not_in_stderr: Vec<String>,
    /// Run again with `--json`: one JSON object on stdout whose `error.kind` is this and whose
    /// `error.message` holds the first `stderr` string.
    #[serde(default)]
    json_kind: Option<String>,
    /// stdout is one JSON object with these values (JSON pointer → value).
    #[serde(default)]
    json: BTreeMap<String, toml::Value>,
}

fn expand(s: &str) -> String {
    s.replace(
        "{vectors}",
        &coco_core::vectors::dir().display().to_string(),
    )
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), Vec::new());
                todo.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

fn run(args: &[String], cwd: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(args.iter().map(|a| expand(a)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs one case; returns what went wrong.
fn check(case: &Case) -> Vec<String> {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (name, text) in &case.files {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut problems = Vec::new();
    for (i, s) in case.step.iter().enumerate() {
        let at = format!("step {} (coco {})", i + 1, s.args.join(" "));
        let before = snapshot(d);
        let (code, stdout, stderr) = run(&s.args, d);
        if code != Some(s.status) {
            problems.push(format!(
                "{at}: exit {code:?}, expected {}\nstdout: {stdout}\nstderr: {stderr}",
                s.status
            ));
            return problems;
        }
        for want in &s.stdout {
            if !stdout.contains(&expand(want)) {
                problems.push(format!("{at}: {want:?} not in stdout {stdout:?}"));
            }
        }
        for want in &s.stderr {
            if !stderr.contains(&expand(want)) {
                problems.push(format!("{at}: {want:?} not in stderr {stderr:?}"));
            }
        }
        for never in &s.not_in_stderr {
            if stderr.contains(&expand(never)) {
                problems.push(format!("{at}: {never:?} in stderr {stderr:?}"));
            }
        }
        if !s.json.is_empty() {
            match serde_json::from_str::<serde_json::Value>(&stdout) {
                Ok(v) => {
                    for (pointer, want) in &s.json {
                        let want = serde_json::to_value(want).unwrap();
                        match v.pointer(pointer) {
                            Some(got) if *got == want => {}
                            got => problems
                                .push(format!("{at}: {pointer} is {got:?}, expected {want}")),
                        }
                    }
                }
                Err(e) => problems.push(format!("{at}: stdout is not one JSON object ({e})")),
            }
        }
        if s.status == 0 {
            continue;
        }
        for never in NEVER {
            if stderr.contains(never) {
                problems.push(format!("{at}: {never:?} in stderr {stderr:?}"));
            }
        }
        if snapshot(d) != before {
            problems.push(format!("{at}: a failure changed the directory"));
        }
        if let Some(kind) = &s.json_kind {
            let mut args = s.args.clone();
            args.push("--json".into());
            let (code, stdout, _) = run(&args, d);
            let one: Result<serde_json::Value, _> = serde_json::from_str(&stdout);
            match one {
                Ok(v) if code == Some(s.status) && stdout.trim_end().lines().count() == 1 => {
                    if v["error"]["kind"] != kind.as_str() {
                        problems.push(format!(
                            "{at} --json: kind {}, expected {kind}",
                            v["error"]["kind"]
                        ));
                    }
                    let message = v["error"]["message"].as_str().unwrap_or_default();
                    if let Some(first) = s.stderr.first()
                        && !message.contains(&expand(first))
                    {
                        problems.push(format!("{at} --json: {first:?} not in {message:?}"));
                    }
                }
                _ => problems.push(format!(
                    "{at} --json: exit {code:?}, not one JSON object: {stdout:?}"
                )),
            }
        }
    }
    problems
}

#[test]
fn every_case_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 20,
        "only {} case files in {}",
        names.len(),
        dir.display()
    );
    let mut failed = Vec::new();
    for p in &names {
        let text = std::fs::read_to_string(p).unwrap();
        let case: Case = match toml::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failed.push(format!("{}: {e}", p.display()));
                continue;
            }
        };
        for problem in check(&case) {
            failed.push(format!(
                "{}: {problem}",
                p.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} problems:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}
