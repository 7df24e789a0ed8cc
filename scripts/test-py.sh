#!/usr/bin/env bash
# Builds the coco wheel (abi3), installs it into a fresh venv with numpy, pytest and
# safetensors (the reference the weight iterator is compared with), and runs
# crates/coco-py/tests (whose key-release tests run `coco serve` from target/debug).
#
# The wheel is built with the dev profile (dependencies optimised: Cargo.toml's
# [profile.dev.package."*"]), which is a little cheaper to compile than a release wheel
# (`maturin build --release`, what users install and scripts/bench_py.py measures): maturin
# builds coco-py alone, whose feature resolution differs from the workspace's, so most
# dependencies are compiled once more either way.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "maturin>=1.5,<2" numpy pytest safetensors
rm -rf target/wheels
"$venv/bin/maturin" build --quiet --profile dev -m crates/coco-py/Cargo.toml --out target/wheels
# The `coco` binary as the workspace build has it (a no-op after test.sh's tests, see
# test-c.sh).
cargo build --workspace --all-targets --locked --quiet
export COCO_BIN="$PWD/target/debug/coco"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/coco-*.whl
"$venv/bin/python" -m pytest -q crates/coco-py/tests
