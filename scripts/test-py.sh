#!/usr/bin/env bash
# Builds the coco wheel (abi3), installs it into a fresh venv with numpy, pytest and
# safetensors (the reference the weight iterator is compared with), and runs
# crates/coco-py/tests (whose key-release tests run `coco serve` from target/debug).
#
# The wheel is built with the dev profile (dependencies optimised: Cargo.toml's
# [profile.dev.package."*"]), the profile test.sh built the workspace with, so the wheel reuses
# its dependencies (a release wheel, `maturin build --release`, is what users install and
# scripts/bench_py.py measures).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "maturin>=1.5,<2" numpy pytest safetensors
rm -rf target/wheels
# `workspace-features` (crates/coco-py/Cargo.toml) builds the shared dependencies with the
# workspace's features, so the wheel reuses what test.sh compiled: only PyO3 and the module
# itself are compiled here. Anything else compiled again is named, so a drift is seen. `sim`
# adds the simulated TEE the key-release tests use (not in the wheel users install).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$venv/bin/maturin" build --profile dev -m crates/coco-py/Cargo.toml --out target/wheels \
    --features pyo3/extension-module,workspace-features,sim >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
again=$(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' "$log" | grep -vE '^(pyo3|pyo3-ffi|pyo3-macros|pyo3-macros-backend|pyo3-build-config|coco-py)$' || true)
if [ -n "$again" ]; then
    echo "test-py.sh: compiled again for the wheel (update workspace-features in crates/coco-py/Cargo.toml):" $again >&2
fi
# The `coco` binary as the workspace build has it (a no-op after test.sh's tests, see
# test-c.sh).
cargo build --workspace --all-targets --locked --quiet
export COCO_BIN="$PWD/target/debug/coco"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/coco-*.whl
"$venv/bin/python" -m pytest -q crates/coco-py/tests
