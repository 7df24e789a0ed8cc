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
step cargo clippy --workspace --all-targets --locked -- -D warnings
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
step ./fuzz/smoke.sh "${FUZZ_SMOKE_SECS:-10}"
