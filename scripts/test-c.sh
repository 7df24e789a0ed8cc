#!/usr/bin/env bash
# Builds the C ABI test program and the C++ example with warnings as errors, runs both, and
# runs the C test again under valgrind (no invalid access, no definite or indirect leak).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Every target of the workspace with the features `cargo test --workspace` resolved, so that
# after test.sh's tests this only links the static library (`-p coco-ffi` would resolve
# features differently and rebuild much of the dependency tree).
cargo build --workspace --all-targets --locked --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inc=crates/coco-ffi/include
lib=target/debug/libcoco_ffi.a
libs="-lpthread -ldl -lm"

gcc -std=c11 -Wall -Wextra -Werror -I "$inc" crates/coco-ffi/tests/c/test_coco.c "$lib" $libs \
    -o "$work/test_coco"
mkdir "$work/run" "$work/valgrind"
vectors="${COCO_VECTORS:-$(cd .. && pwd)/shared/vectors}"
# Reference values for the appraisal checks: a CoRIM of the real VLEK sample's measurement,
# read from the report by the verifier and built by `coco corim build`.
snp="$vectors/snp/milan-v3-vlek-aws-trustee"
measurement=$(target/debug/coco evidence verify --platform snp "$snp/report.bin" --certs "$snp" \
    --at 2025-06-01T00:00:00Z --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["claims"]["measurement"])')
printf 'id = "c-test"\n[snp]\nsigning_key = "vlek"\nproduct = "milan"\nmeasurement = ["%s"]\n' \
    "$measurement" > "$work/refs.toml"
target/debug/coco corim build "$work/refs.toml" --out "$work/refs.corim" 2>/dev/null
"$work/test_coco" "$work/run" "$vectors" "$work/refs.corim"
valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect \
    "$work/test_coco" "$work/valgrind" "$vectors" "$work/refs.corim"

# The C++ example: one tensor of a sealed safetensors shard, read through read_at.
g++ -std=c++17 -Wall -Wextra -Werror -I "$inc" crates/coco-ffi/examples/read_tensor.cpp "$lib" \
    $libs -o "$work/read_tensor"
target/debug/coco demo --dir "$work/demo" --shards 1 --shard-mib 1 >/dev/null
shard="$work/demo/model/model-00001-of-00001.safetensors"
target/debug/coco keygen --out "$work/key" 2>/dev/null
target/debug/coco seal --key "$work/key" --chunk-size 64KiB "$shard" "$work/shard.coco" 2>/dev/null
"$work/read_tensor" "$work/key" "$work/shard.coco" model.layers.3.mlp.weight "$shard"
echo "test-c: C test, valgrind run and C++ example passed"
