#!/usr/bin/env bash
# Builds the coco wheel (abi3), installs it into a fresh venv with numpy and pytest, and runs
# crates/coco-py/tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "maturin>=1.5,<2" numpy pytest
rm -rf target/wheels
"$venv/bin/maturin" build --quiet -m crates/coco-py/Cargo.toml --out target/wheels
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/coco-*.whl
"$venv/bin/python" -m pytest -q crates/coco-py/tests
