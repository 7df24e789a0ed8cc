#!/usr/bin/env bash
# A short run of every fuzz target over its seed corpus, so that a regression in any reader of
# untrusted bytes surfaces in CI. Usage: fuzz/smoke.sh [SECONDS_PER_TARGET]  (default 20)
#
# The targets are built with libFuzzer's coverage instrumentation (the flags cargo-fuzz passes
# for `--sanitizer none`, all accepted by the stable compiler, so neither nightly nor
# RUSTC_BOOTSTRAP nor cargo-fuzz itself is needed) at opt-level 0 without debug info: about
# two minutes to build on two cores (opt-level 1 took four; the targets then run 10-25x
# slower, still thousands of runs over the seed corpus in a smoke run). No sanitizer: the
# targets and everything they reach are safe Rust (AWS-LC's C is not instrumented either
# way); a panic, an overflow (checks are on), an out-of-memory or a timeout is a failure. Long runs stay with cargo-fuzz (fuzz/README.md).
# Two targets run at a time; the inputs they find go to a scratch directory, not corpus/.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"
secs="${1:-20}"
# Its own target directory (instrumented builds); seed.sh's `cargo run` of the CLI uses the
# workspace's, which the tests have already built.
target_dir="${FUZZ_TARGET_DIR:-$PWD/target/smoke}"
triple=$(rustc -vV | sed -n 's/^host: //p')
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg fuzzing
    -Cdebug-assertions
    -Coverflow-checks
)
# `--target` keeps the instrumentation off build scripts and proc macros.
# Not linted (scripts/test.sh lints the workspace while building it).
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
    CARGO_TARGET_DIR="$target_dir" RUSTFLAGS="${flags[*]}" CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo build --quiet --release --locked --target "$triple" --bins
bin="$target_dir/$triple/release"
./seed.sh
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^coco-fuzz$')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p artifacts

run() {
    local t=$1
    mkdir -p "$scratch/$t" "artifacts/$t"
    if "$bin/$t" "$scratch/$t" "corpus/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" >"$scratch/$t.log" 2>&1; then
        echo "fuzz smoke: $t ok ($(grep -o 'Done [0-9]* runs' "$scratch/$t.log" | cut -d' ' -f2) runs in ${secs} s)"
    else
        echo "fuzz smoke: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
        tail -n 40 "$scratch/$t.log" >&2
        return 1
    fi
}

failed=0
set -- $targets
while [ $# -gt 0 ]; do
    run "$1" &
    a=$!
    b=
    if [ $# -gt 1 ]; then
        run "$2" &
        b=$!
    fi
    wait "$a" || failed=1
    [ -z "$b" ] || wait "$b" || failed=1
    shift $(($# > 1 ? 2 : 1))
done
exit "$failed"
