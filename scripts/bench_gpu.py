#!/usr/bin/env python3
"""Sealed vs plain safetensors loading onto a GPU, same machine, same run.

For each SIZE_GIB (default 1 and 4), one file of BF16 tensors (32 MiB each), page cache warm:
- plain: ``safetensors.torch.load_file(path, device="cuda")`` of the plaintext file;
- coco: ``coco.safetensors.load_file_torch(sealed, key, device="cuda")`` (parallel decryption
  into pinned staging buffers, asynchronous copies on a side stream);
- the primitives beside them: ``coco.safetensors.load_file`` to host memory (decryption alone,
  all cores) and one pinned host-to-device copy of the whole data (``pin_memory=True`` +
  ``copy_(non_blocking=True)``), and the same from pageable memory.
Each is timed REPEAT times after a warm-up (``torch.cuda.synchronize()`` inside the timing);
best and median are printed with GB/s, and coco's throughput relative to plain.
Every loaded tensor is compared with the original once.

Usage: python scripts/bench_gpu.py [--sizes 1,4] [--repeat 5] [--dir DIR] [--staging-mib 64]
(needs coco, torch with CUDA, safetensors, numpy)
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
from safetensors.torch import load_file as plain_load
from safetensors.torch import save_file as plain_save

import coco
import coco.safetensors as cst
from bench_py import sealed_pair  # scripts/ is on the path when run as scripts/bench_gpu.py


def timed(fn, repeat):
    fn()  # warm-up (and page cache)
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
        del out
    return min(ts), statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,4")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR"))
    ap.add_argument("--staging-mib", type=int, default=64)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA device")
    dev = "cuda"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, {os.cpu_count()} cores, coco {coco.__version__}")
    for size_gib in (int(s) for s in args.sizes.split(",")):
        n = size_gib * 32
        g = torch.Generator().manual_seed(size_gib)
        tensors = {f"layer.{i}.weight": torch.randn(4096, 4096, generator=g).to(torch.bfloat16) for i in range(n)}
        with tempfile.TemporaryDirectory(dir=args.dir) as d:
            plain, sealed, key, nbytes = sealed_pair(d, tensors, plain_save)
            staging = args.staging_mib << 20
            got = cst.load_file_torch(sealed, key, device=dev, staging_bytes=staging)
            assert got.keys() == tensors.keys()
            assert all(torch.equal(got[k].cpu(), tensors[k]) for k in tensors), "coco loaded other data"
            del got
            host = torch.empty(nbytes, dtype=torch.uint8)
            pinned = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
            on_dev = torch.empty(nbytes, dtype=torch.uint8, device=dev)
            rows = [
                ("safetensors.torch.load_file(device=cuda), plain", lambda: plain_load(plain, device=dev)),
                (
                    f"coco load_file_torch(device=cuda), staging {args.staging_mib} MiB",
                    lambda: cst.load_file_torch(sealed, key, device=dev, staging_bytes=staging),
                ),
                ("coco load_file to host memory (decryption alone)", lambda: cst.load_file(sealed, key)),
                ("pinned host -> device copy of the data", lambda: on_dev.copy_(pinned, non_blocking=True)),
                ("pageable host -> device copy of the data", lambda: on_dev.copy_(host)),
            ]
            print(f"\nfile: {nbytes / 2**30:.2f} GiB, {n} BF16 tensors, repeat {args.repeat}")
            plain_best = None
            for name, fn in rows:
                best, med = timed(fn, args.repeat)
                plain_best = plain_best or best
                gbs = nbytes / best / 1e9
                print(
                    f"{name:58s} best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms  {gbs:6.2f} GB/s"
                    f"  throughput vs plain {plain_best / best:5.2f}x"
                )
            del host, pinned, on_dev, tensors


if __name__ == "__main__":
    main()
