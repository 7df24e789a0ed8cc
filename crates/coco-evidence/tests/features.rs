//! A default build of coco-evidence contains neither the simulator (module `sim`) nor
//! x509-cert's certificate builder: both come with the `sim` feature only. Checked on the
//! features cargo resolves for this package (`cargo tree`), with and without the feature, so
//! the check fails if a dependency or a default turns either back on.

use std::collections::BTreeMap;
use std::process::Command;

/// The features cargo enables for each package of a build of coco-evidence alone (normal
/// dependencies: what a user of the library compiles) with `extra` arguments.
fn resolved(extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--locked", "--manifest-path", manifest])
        .args(["-p", "coco-evidence", "-e", "normal", "--prefix", "none"])
        .args(["-f", "{p}|{f}"])
        .args(extra)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let (package, features) = l.split_once('|')?;
            let name = package.split(' ').next()?.to_string();
            let features = features
                .trim_end_matches(" (*)")
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect();
            Some((name, features))
        })
        .collect()
}

fn has(tree: &BTreeMap<String, Vec<String>>, package: &str, feature: &str) -> bool {
    tree.get(package)
        .unwrap_or_else(|| panic!("{package} is not in the tree"))
        .iter()
        .any(|f| f == feature)
}

#[test]
fn a_default_build_has_no_simulator_and_no_certificate_builder() {
    let default = resolved(&[]);
    assert!(!has(&default, "coco-evidence", "sim"), "{default:?}");
    assert!(!has(&default, "x509-cert", "builder"), "{default:?}");

    let sim = resolved(&["--features", "sim"]);
    assert!(has(&sim, "coco-evidence", "sim"), "{sim:?}");
    assert!(has(&sim, "x509-cert", "builder"), "{sim:?}");
}
