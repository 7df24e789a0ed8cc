"""Sealed safetensors files as numpy arrays (and torch tensors when torch is installed).

``load_file`` reads the safetensors header through the sealed file's random access, then
decrypts all tensor data in parallel straight into one numpy buffer (GIL released) and
returns views of it: no intermediate full copy. Every dtype of the safetensors spec is
supported; BF16 and the F8 types are returned as ``ml_dtypes`` arrays when ``ml_dtypes`` is
installed, otherwise as raw unsigned views (``uint16`` / ``uint8``) of the same bytes.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any, NamedTuple, Protocol

import numpy as np

from . import _coco
from ._coco import CocoError, SealedReader

try:  # optional: real bfloat16 / float8 dtypes
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - depends on the environment
    _ml = None

__all__ = ["load_file", "load_file_torch", "save_file", "iter_tensors", "DTYPES"]

_MAX_HEADER = 100 * 1024 * 1024


def _ml_or(name: str, fallback: Any) -> Any:
    return getattr(_ml, name) if _ml is not None and hasattr(_ml, name) else fallback


DTYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "BF16": _ml_or("bfloat16", np.dtype("<u2")),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
    "F8_E4M3": _ml_or("float8_e4m3fn", np.uint8),
    "F8_E5M2": _ml_or("float8_e5m2", np.uint8),
    "F8_E8M0": _ml_or("float8_e8m0fnu", np.uint8),
}

_NAME_OF = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype("<u2"): "U16",
    np.dtype("<i2"): "I16",
    np.dtype("<f2"): "F16",
    np.dtype("<u4"): "U32",
    np.dtype("<i4"): "I32",
    np.dtype("<f4"): "F32",
    np.dtype("<u8"): "U64",
    np.dtype("<i8"): "I64",
    np.dtype("<f8"): "F64",
    np.dtype("<c8"): "C64",
}
if _ml is not None:
    for _name in ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0"):
        if DTYPES[_name] not in (np.uint8, np.dtype("<u2")):
            _NAME_OF[np.dtype(DTYPES[_name])] = _name


def _header(reader: SealedReader) -> tuple[dict[str, Any], int]:
    total = reader.plaintext_len
    if total < 8:
        raise CocoError("not a safetensors file: shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", reader.read_at(0, 8))
    if n > _MAX_HEADER or 8 + n > total:
        raise CocoError(f"not a safetensors file: header length {n} out of bounds")
    try:
        header = json.loads(reader.read_at(8, n))
    except ValueError as e:
        raise CocoError(f"not a safetensors file: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise CocoError("not a safetensors file: header is not a JSON object")
    return header, 8 + n


class _Tensor(NamedTuple):
    name: str
    kind: str
    shape: tuple[int, ...]
    start: int
    end: int


def _tensors(header: dict[str, Any], data_len: int) -> list[_Tensor]:
    """The header's tensors, each checked: a known dtype, and data_offsets that fit the data
    and hold exactly shape x itemsize bytes."""
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            kind = info["dtype"]
            dtype = np.dtype(DTYPES[kind])
            shape = tuple(int(d) for d in info["shape"])
            start, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CocoError(f"tensor {name!r}: bad entry {info!r}") from None
        if any(d < 0 for d in shape):
            raise CocoError(f"tensor {name!r}: negative dimension in {shape}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= start <= end <= data_len or end - start != count * dtype.itemsize:
            raise CocoError(f"tensor {name!r}: data_offsets {start}..{end} do not fit")
        out.append(_Tensor(name, kind, shape, start, end))
    return out


def _layout(reader: SealedReader) -> tuple[int, int, list[_Tensor]]:
    """Where the data section starts, its length, and its checked tensors."""
    header, base = _header(reader)
    data_len = reader.plaintext_len - base
    return base, data_len, _tensors(header, data_len)


def _load_reader(reader: SealedReader, threads: int = 0) -> dict[str, np.ndarray]:
    base, data_len, tensors = _layout(reader)
    buf = np.empty(data_len, dtype=np.uint8)
    if data_len:
        got = reader.read_range_into(base, buf, threads)
        if got != data_len:
            raise CocoError(f"short read: {got} of {data_len} bytes")
    return {t.name: np.reshape(buf[t.start : t.end].view(DTYPES[t.kind]), t.shape) for t in tensors}


def load_file(path: str | os.PathLike[str], key: bytes, threads: int = 0) -> dict[str, np.ndarray]:
    """Loads a sealed safetensors file as a dict of numpy arrays (views of one buffer)."""
    return _load_reader(_coco.open_reader(os.fspath(path), key), threads)


class _Staging(Protocol):
    """Where the staged loader decrypts to and how it copies out (see ``_staged_load``)."""

    views: list[np.ndarray]

    def wait(self, b: int) -> None:
        """Blocks until every copy out of staging buffer ``b`` has completed."""

    def copy(self, b: int, s_off: int, dst: int, d_off: int, n: int) -> None:
        """Starts copying ``n`` bytes at ``s_off`` of buffer ``b`` to byte ``d_off`` of
        destination ``dst`` (may complete later)."""

    def done(self, b: int) -> None:
        """Marks the end of the copies out of buffer ``b`` for this window."""

    def finish(self) -> None:
        """Blocks until every copy has completed."""


def _staged_load(
    reader: SealedReader, base: int, tensors: list[_Tensor], staging: _Staging, threads: int
) -> None:
    """Decrypts the data section window by window into rotating staging buffers and copies
    each window out to the tensors it overlaps. A buffer is refilled only after the copies
    out of it have completed (``wait``), so with asynchronous copies (CUDA streams) the
    decryption of window k+1 (all threads, GIL released) overlaps the transfer of window k."""
    data_len = max((t.end for t in tensors), default=0)
    order = sorted((t.start, t.end, i) for i, t in enumerate(tensors) if t.end > t.start)
    size = len(staging.views[0])
    first = 0
    try:
        for k, off in enumerate(range(0, data_len, size)):
            b = k % len(staging.views)
            n = min(size, data_len - off)
            staging.wait(b)
            got = reader.read_range_into(base + off, staging.views[b][:n], threads)
            if got != n:
                raise CocoError(f"short read: {got} of {n} bytes at {off}")
            while first < len(order) and order[first][1] <= off:
                first += 1
            for start, end, i in order[first:]:
                if start >= off + n:
                    break
                lo, hi = max(start, off), min(end, off + n)
                if lo < hi:
                    staging.copy(b, lo - off, i, lo - start, hi - lo)
            staging.done(b)
    finally:
        # Also on failure: no copy may still be writing into memory the caller frees.
        staging.finish()


class _TorchStaging:
    """Staging for torch: page-locked buffers from torch's own pinned allocator
    (``pin_memory=True``, i.e. cudaHostAlloc; never cudaHostRegister, which GPU CC mode
    refuses) and asynchronous copies on a side stream, one event per buffer."""

    def __init__(self, torch: Any, device: Any, dests: list[Any], size: int, count: int) -> None:
        self.torch = torch
        cuda = device.type == "cuda"
        self.stream = torch.cuda.Stream(device) if cuda else None
        if self.stream is not None:
            # The destinations were allocated on the current stream: order after it.
            self.stream.wait_stream(torch.cuda.current_stream(device))
        self.bufs = [torch.empty(size, dtype=torch.uint8, pin_memory=cuda) for _ in range(count)]
        self.views = [b.numpy() for b in self.bufs]
        self.events: list[Any] = [None] * count
        self.flat = [d.reshape(-1).view(torch.uint8) if d.numel() else None for d in dests]

    def wait(self, b: int) -> None:
        if self.events[b] is not None:
            self.events[b].synchronize()
            self.events[b] = None

    def copy(self, b: int, s_off: int, dst: int, d_off: int, n: int) -> None:
        src = self.bufs[b][s_off : s_off + n]
        out = self.flat[dst][d_off : d_off + n]
        if self.stream is None:
            out.copy_(src)
            return
        with self.torch.cuda.stream(self.stream):
            out.copy_(src, non_blocking=True)

    def done(self, b: int) -> None:
        if self.stream is not None:
            ev = self.torch.cuda.Event()
            ev.record(self.stream)
            self.events[b] = ev

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.synchronize()


def _torch_dtypes(torch: Any) -> dict[str, Any]:
    names = {
        "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
        "F16": "float16", "BF16": "bfloat16", "U32": "uint32", "I32": "int32",
        "F32": "float32", "U64": "uint64", "I64": "int64", "F64": "float64",
        "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
        "F8_E8M0": "float8_e8m0fnu",
    }  # fmt: skip
    return {k: getattr(torch, v) for k, v in names.items() if hasattr(torch, v)}


def _torch_view(buf: Any, t: _Tensor, dtype: Any) -> Any:
    """The tensor as a view of ``buf`` (a copy when its offset is not aligned to its dtype,
    which torch's views require)."""
    part = buf[t.start : t.end]
    if t.start % dtype.itemsize:
        part = part.clone()
    return part.view(dtype).reshape(t.shape)


def load_file_torch(
    path: str | os.PathLike[str],
    key: bytes,
    device: str = "cpu",
    threads: int = 0,
    staging_bytes: int = 64 << 20,
    staging_buffers: int = 2,
) -> dict[str, Any]:
    """Loads a sealed safetensors file as torch tensors on ``device`` (needs torch).

    On the CPU the tensors are views of one buffer the data is decrypted into in place. On
    another device (``"cuda"``, ``"cuda:1"``…) each tensor is allocated there and the data
    section is decrypted window by window (``staging_bytes`` each, all threads) into
    ``staging_buffers`` pinned host buffers whose asynchronous copies to the device overlap
    the decryption of the next window: no full plaintext copy in host memory, and no pageable
    copy. Every tensor is complete and authenticated when this returns; on any failure
    nothing is returned.
    """
    reader = _coco.open_reader(os.fspath(path), key)
    return _torch_from_reader(reader, device, threads, staging_bytes, staging_buffers)


def _torch_from_reader(
    reader: SealedReader,
    device: str = "cpu",
    threads: int = 0,
    staging_bytes: int = 64 << 20,
    staging_buffers: int = 2,
) -> dict[str, Any]:
    import torch

    dev = torch.device(device)
    base, data_len, tensors = _layout(reader)
    dtypes = _torch_dtypes(torch)
    for t in tensors:
        if t.kind not in dtypes:
            raise CocoError(f"tensor {t.name!r}: dtype {t.kind} is not in this torch")
    if dev.type == "cpu":
        buf = torch.empty(data_len, dtype=torch.uint8)
        if data_len:
            got = reader.read_range_into(base, buf.numpy(), threads)
            if got != data_len:
                raise CocoError(f"short read: {got} of {data_len} bytes")
        return {t.name: _torch_view(buf, t, dtypes[t.kind]) for t in tensors}
    if staging_bytes <= 0 or staging_buffers < 1:
        raise ValueError("staging_bytes and staging_buffers must be positive")
    out = [torch.empty(t.shape, dtype=dtypes[t.kind], device=dev) for t in tensors]
    size = min(staging_bytes, max(data_len, 1))
    _staged_load(reader, base, tensors, _TorchStaging(torch, dev, out, size, staging_buffers), threads)
    return {t.name: o for t, o in zip(tensors, out)}


def save_file(
    tensors: dict[str, np.ndarray],
    path: str | os.PathLike[str],
    key: bytes,
    metadata: dict[str, str] | None = None,
    chunk_size: int | None = None,
) -> None:
    """Writes ``tensors`` as a safetensors file sealed under ``key`` (never in the clear on disk)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    parts = []
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        kind = _NAME_OF.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype)
        if kind is None:
            raise CocoError(f"tensor {name!r}: dtype {arr.dtype} has no safetensors name")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        data = arr.tobytes()
        header[name] = {"dtype": kind, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        parts.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    blob = b"".join([struct.pack("<Q", len(raw)), raw, *parts])
    _coco.seal_bytes(blob, os.fspath(path), key, chunk_size)


def iter_tensors(
    path: str | os.PathLike[str],
    key: bytes,
    device: str | None = None,
    names: Any = None,
    vendor_key: str | os.PathLike[str] | None = None,
    threads: int = 0,
    shards: Any = None,
) -> Any:
    """Yields ``(name, tensor)`` from a sealed safetensors file or a sealed model directory:
    the one entry point for any inference engine's weight loading.

    The order is the one ``safetensors.safe_open(f).keys()`` gives (names sorted within each
    file), the files of a directory in sorted order (as vLLM and TensorRT-LLM iterate
    checkpoint shards); the dtypes are those of :func:`load_file`. A directory's manifest is
    checked first (every shard listed, none extra, renamed or swapped; its signature with
    ``vendor_key``). ``names`` (any container) keeps only those tensors; a shard holding none of
    them is not decrypted. ``shards`` (any container of file names as the manifest lists them,
    e.g. one tensor-parallel rank's files, see :func:`coco.loaders.rank_shards`) reads only
    those files of a directory; a name the directory does not hold is a ``ValueError``. ``device`` ``None`` yields numpy arrays; ``"cpu"``, ``"cuda"``,
    ``"cuda:1"``… yields torch tensors there (see :func:`load_file_torch`).

    Nothing unauthenticated is ever yielded: opening a directory checks every shard against
    the manifest (header, size, commitment, final chunk), and each shard is decrypted and
    authenticated whole before its first tensor, so a tampered shard raises ``TamperedError``
    before any tensor of it (tensors of earlier shards may have been yielded: a caller that must
    be all-or-nothing collects first).
    """
    wanted = None if names is None else set(names)
    p = os.fspath(path)
    if os.path.isdir(p):
        vk = os.fspath(vendor_key) if vendor_key is not None else None
        _, opened = _coco.open_model_dir(p, key, vk)
        opened = dict(opened)
        if shards is not None:
            missing = sorted(set(shards) - set(opened))
            if missing:
                raise ValueError(f"{p} holds no shard {missing}")
            opened = {n: r for n, r in opened.items() if n in shards}
        readers = sorted(
            ((name, reader) for name, reader in opened.items() if name.endswith(".safetensors")),
            key=lambda x: x[0],
        )
    else:
        if shards is not None:
            raise ValueError("shards applies to a sealed model directory")
        readers = [(os.path.basename(p), _coco.open_reader(p, key))]
    for _, reader in readers:
        if wanted is not None:
            header, _base = _header(reader)
            if not wanted.intersection(k for k in header if k != "__metadata__"):
                continue
        if device is None:
            tensors = _load_reader(reader, threads)
        else:
            tensors = _torch_from_reader(reader, device, threads)
        for name in sorted(tensors):
            if wanted is None or name in wanted:
                yield name, tensors[name]
