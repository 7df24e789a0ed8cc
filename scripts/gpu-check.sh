#!/usr/bin/env bash
# The GPU check of the Python loader, for a CUDA machine without network access.
#
#   scripts/gpu-check.sh prepare   # here: release abi3 wheel + safetensors/numpy wheels for
#                                  # CPython 3.12, and the coco binary, into target/gpu-wheels
#                                  # (carry that folder)
#   scripts/gpu-check.sh run       # there: a venv that sees the system torch, the wheels
#                                  # installed offline, the CUDA tests, then scripts/bench_gpu.py
#
# `run` writes its report to $OUT/gpu-check.txt when OUT is set (else to stdout only).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
wheels=target/gpu-wheels

case "${1:-}" in
prepare)
    venv=target/py-venv
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "maturin>=1.5,<2"
    rm -rf "$wheels"
    "$venv/bin/maturin" build --quiet --release -m crates/coco-py/Cargo.toml --out "$wheels"
    "$venv/bin/python" -m pip download --quiet --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$wheels" \
        safetensors numpy pytest
    # The coco binary the Triton example's test seals and signs with.
    cargo build --release --locked --quiet -p coco-cli --bin coco
    cp target/release/coco "$wheels/coco"
    strip "$wheels/coco" 2>/dev/null || true  # the carried folder is size-limited
    ls -l "$wheels"
    ;;
run)
    report=${OUT:+$OUT/gpu-check.txt}
    exec > >(tee ${report:+"$report"}) 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    python3 -m venv --system-site-packages target/gpu-venv
    py=target/gpu-venv/bin/python
    "$py" -m pip install --quiet --no-index --find-links "$wheels" coco safetensors pytest
    "$py" -c 'import torch; assert torch.cuda.is_available(), "no CUDA"; print("torch", torch.__version__)'
    COCO_BIN="$PWD/$wheels/coco" "$py" -m pytest -q crates/coco-py/tests -k "torch or staged" \
        -p no:cacheprovider
    "$py" scripts/bench_gpu.py --sizes "${SIZES:-1,4}" --repeat "${REPEAT:-5}" --dir "${BENCH_DIR:-/dev/shm}"
    # The vLLM plugin, where the machine has vLLM: greedy outputs of the plain and the sealed
    # tiny model must be identical.
    if "$py" -c 'import vllm' 2>/dev/null; then
        "$py" scripts/vllm_check.py "${BENCH_DIR:-/dev/shm}/coco-vllm-check"
    else
        echo "vllm: not installed on this machine; plugin check skipped"
    fi
    ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
