#!/usr/bin/env python3
"""Sealed vs plain safetensors loading, same machine, same run.

Compares, on one file of SIZE_MIB (default 1024) of F32 tensors (64 MiB each):
- plain: `safetensors.numpy.load_file` of the plaintext file;
- coco 1 thread and all threads: `coco.safetensors.load_file` of the sealed file;
- coco staged: the window-by-window pipeline of `load_file_torch(device="cuda")` on the host,
  all threads: decryption alone into the two rotating 64 MiB staging buffers (what the CPU
  does while a GPU's DMA engine copies), and the same with synchronous copies out into
  freshly allocated numpy arrays (memcpy and page faults that a GPU copy does not have).
Each is timed REPEAT times after a warm-up read (page cache warm for both); the best and the
median are printed with GB/s and the ratio to plain.

Usage: python scripts/bench_py.py [SIZE_MIB] [REPEAT]   (needs coco, numpy, safetensors)
"""
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file as plain_load
from safetensors.numpy import save_file as plain_save

import coco
import coco.safetensors as cst


class _HostStaging:
    """load_file_torch's staging protocol with numpy destinations and synchronous copies."""

    def __init__(self, tensors, size, copy_out, count=2):
        self.views = [np.empty(size, dtype=np.uint8) for _ in range(count)]
        self.copy_out = copy_out
        self.dests = [np.empty(t.end - t.start, dtype=np.uint8) for t in tensors] if copy_out else []

    def wait(self, b):
        pass

    def copy(self, b, s_off, dst, d_off, n):
        if self.copy_out:
            self.dests[dst][d_off : d_off + n] = self.views[b][s_off : s_off + n]

    def done(self, b):
        pass

    def finish(self):
        pass


def staged_load(path, key, copy_out, size=64 << 20):
    reader = coco.open_sealed(path, key).reader
    base, _, tensors = cst._layout(reader)
    st = _HostStaging(tensors, size, copy_out)
    cst._staged_load(reader, base, tensors, st, 0)
    return st.dests


def sealed_pair(d, tensors, save):
    """Writes ``tensors`` with ``save`` (a safetensors ``save_file``) into ``d`` and seals the
    file under a fresh key; returns (plain path, sealed path, key, size in bytes)."""
    plain = os.path.join(d, "model.safetensors")
    sealed = plain + ".coco"
    save(tensors, plain)
    key = coco.generate_key()
    coco.seal_file(plain, sealed, key)
    return plain, sealed, key, os.path.getsize(plain)


def timed(fn, repeat):
    fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
        del out
    return min(ts), statistics.median(ts)


def main():
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n_tensors = max(1, size_mib // 64)
    rng = np.random.default_rng(0)
    tensors = {f"layer.{i}.weight": rng.standard_normal((4096, 4096), dtype=np.float32) for i in range(n_tensors)}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        plain, sealed, key, nbytes = sealed_pair(d, tensors, plain_save)
        del tensors
        ref = plain_load(plain)
        got = cst.load_file(sealed, key)
        assert ref.keys() == got.keys() and all(np.array_equal(ref[k], got[k]) for k in ref)
        del ref, got
        cores = os.cpu_count()
        rows = [
            ("safetensors.numpy.load_file (plain)", lambda: plain_load(plain)),
            ("coco.safetensors.load_file, 1 thread", lambda: cst.load_file(sealed, key, threads=1)),
            (f"coco.safetensors.load_file, {cores} threads", lambda: cst.load_file(sealed, key)),
            (f"coco staged, decryption only, {cores} threads", lambda: staged_load(sealed, key, False)),
            (f"coco staged + copies to numpy, {cores} threads", lambda: staged_load(sealed, key, True)),
        ]
        print(f"file: {nbytes / 2**20:.0f} MiB, {n_tensors} tensors, {cores} cores, repeat {repeat}")
        base = None
        for name, fn in rows:
            best, med = timed(fn, repeat)
            gbs = nbytes / best / 1e9
            base = base or best
            print(f"{name:45s} best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms  {gbs:6.2f} GB/s  time vs plain {best / base:5.2f}x")


if __name__ == "__main__":
    main()
