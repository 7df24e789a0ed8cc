#!/usr/bin/env bash
# Builds the coco wheel (abi3), installs it into a fresh venv with numpy and pytest, and runs
# crates/coco-py/tests (whose key-release tests run `coco serve` from target/debug).
#
# The wheel is built with the dev profile, which reuses the dependencies the workspace tests
# already compiled (they are optimised there: Cargo.toml's [profile.dev.package.*]); a release
# wheel (`maturin build --release`, what users install) would compile everything again, AWS-LC
# included, for the same tests. scripts/bench_py.py measures a release wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "maturin>=1.5,<2" numpy pytest
rm -rf target/wheels
"$venv/bin/maturin" build --quiet --profile dev -m crates/coco-py/Cargo.toml --out target/wheels
# The `coco` binary exactly as `cargo test --workspace` builds it (a no-op after test.sh's
# tests): `cargo build -p coco-cli` would resolve features differently and rebuild half the
# dependency tree.
cargo test --workspace --locked --no-run --quiet
export COCO_BIN="$PWD/target/debug/coco"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/coco-*.whl
"$venv/bin/python" -m pytest -q crates/coco-py/tests
