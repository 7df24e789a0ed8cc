#![allow(dead_code)] // each test crate uses its own part of the kit
//! What the service tests of the CLI share: a directory prepared as a vendor and a service
//! operator would, with the CLI itself.

use std::path::Path;
use std::process::{Command, Output};

/// The simulated VM's launch measurement in the kit's reference values (hex).
pub const MEASUREMENT_HEX: &str = "abababababababababababababababababababababababababababababababababababababababababababababababab";

/// `coco ARGS` in `cwd`, with `envs`.
pub fn coco_env(args: &[&str], cwd: &Path, envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coco"));
    for (k, v) in envs {
        c.env(k, v);
    }
    c.args(args).current_dir(cwd).output().unwrap()
}

/// Asserts success, printing stdout and stderr otherwise.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prepares `d` for `coco serve` with the simulated TEE: `sim/` (`coco sim init`), a data key
/// `dek`, an EAR key `ear.pem` (+ `.pub`), reference values `refs.cbor` for
/// [`MEASUREMENT_HEX`] on Genoa (from `refs.toml`), and `policy.toml` allowing simulation.
pub fn service_kit(d: &Path, envs: &[(&str, &Path)]) {
    ok(&coco_env(&["sim", "init", "sim"], d, envs));
    ok(&coco_env(&["keygen", "--out", "dek"], d, envs));
    ok(&coco_env(
        &["keygen", "--vendor", "--out", "ear.pem"],
        d,
        envs,
    ));
    std::fs::write(
        d.join("refs.toml"),
        format!(
            "id = \"kit\"\n[snp]\nproduct = \"genoa\"\nmeasurement = [\"{MEASUREMENT_HEX}\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("policy.toml"),
        "allow_simulated = true\nrequire_revocation_check = false\n",
    )
    .unwrap();
    ok(&coco_env(
        &["corim", "build", "refs.toml", "--out", "refs.cbor"],
        d,
        envs,
    ));
}
