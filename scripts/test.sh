#!/usr/bin/env bash
# Runs every check the project has: formatting, lints, all tests (unit, integration, doc),
# and the benches in test mode (each bench runs once, nothing is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Real evidence samples live beside the repository; their absence is a failure, not a skip.
export COCO_VECTORS="${COCO_VECTORS:-$(cd .. && pwd)/shared/vectors}"
if [ ! -d "$COCO_VECTORS" ]; then
    echo "test.sh: COCO_VECTORS=$COCO_VECTORS does not exist" >&2
    exit 1
fi

# Each step's wall time goes to stderr, so a slow CI run says where its minutes went.
step() {
    local start=$SECONDS
    "$@"
    echo "test.sh: $((SECONDS - start)) s: $*" >&2
}

step cargo fmt --all --check
# No two files of a crate import each other in a cycle (parse -> verify -> claims; schema ->
# verification; types -> rules).
step python3 scripts/check_cycles.py
# Clippy lints every workspace crate while the tests build it: clippy-driver as the workspace
# wrapper (what `cargo clippy` itself runs) with `-D warnings`, so the dependencies are compiled
# once instead of checked once and built again. `cargo test --workspace` builds the libraries,
# binaries, tests and examples, `--benches` the benches: every target `cargo clippy --workspace
# --all-targets -- -D warnings` lints, with the same lints. Every cargo call below (and those of
# the C and Python scripts) sees the same wrapper, so none rebuilds the workspace.
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
if [ ! -x "$clippy_driver" ]; then
    echo "test.sh: $clippy_driver not found (rustup component add clippy)" >&2
    exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
step cargo test --workspace --locked
# Benches in test mode (each bench function runs once, nothing is measured), built with the
# test profile so they reuse the test build: `cargo bench -- --test` without a second full
# optimised build of every dependency.
step cargo test --workspace --benches --locked
# An independent reader of docs/FORMAT.md (Python `cryptography`) must agree with the KAT file.
step python3 scripts/check_format.py
# The C ABI: a C client (also under valgrind) and a C++ example.
step ./scripts/test-c.sh
# The Python package: wheel built, installed in a venv, pytest.
step ./scripts/test-py.sh
# Every fuzz target for a short run over its seed corpus (instrumented build on the stable
# toolchain, two targets at a time; see fuzz/README.md).
step ./fuzz/smoke.sh "${FUZZ_SMOKE_SECS:-6}"
