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
from typing import Any

import numpy as np

from . import _coco
from ._coco import CocoError, SealedReader

try:  # optional: real bfloat16 / float8 dtypes
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - depends on the environment
    _ml = None

__all__ = ["load_file", "load_file_torch", "save_file", "DTYPES"]

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


def _load_reader(reader: SealedReader, threads: int = 0) -> dict[str, np.ndarray]:
    header, base = _header(reader)
    data_len = reader.plaintext_len - base
    buf = np.empty(data_len, dtype=np.uint8)
    if data_len:
        got = reader.read_range_into(base, buf, threads)
        if got != data_len:
            raise CocoError(f"short read: {got} of {data_len} bytes")
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(DTYPES[info["dtype"]])
        except KeyError:
            raise CocoError(f"tensor {name!r}: unknown dtype {info.get('dtype')!r}") from None
        shape = [int(d) for d in info["shape"]]
        start, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= start <= end <= data_len or end - start != count * dtype.itemsize:
            raise CocoError(f"tensor {name!r}: data_offsets {start}..{end} do not fit")
        out[name] = np.reshape(buf[start:end].view(dtype), tuple(shape))
    return out


def load_file(path: str | os.PathLike[str], key: bytes, threads: int = 0) -> dict[str, np.ndarray]:
    """Loads a sealed safetensors file as a dict of numpy arrays (views of one buffer)."""
    return _load_reader(_coco.open_reader(os.fspath(path), key), threads)


def load_file_torch(
    path: str | os.PathLike[str], key: bytes, device: str = "cpu", threads: int = 0
) -> dict[str, Any]:
    """Loads a sealed safetensors file as torch tensors on ``device`` (needs torch)."""
    import torch

    special = {"BF16": torch.bfloat16}
    for name, attr in (("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2")):
        if hasattr(torch, attr):
            special[name] = getattr(torch, attr)
    reader = _coco.open_reader(os.fspath(path), key)
    header, _ = _header(reader)
    arrays = _load_reader(reader, threads)
    out = {}
    for name, arr in arrays.items():
        kind = header[name]["dtype"]
        if kind in special:
            raw = arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.int16)
            t = torch.from_numpy(raw).view(special[kind])
        else:
            t = torch.from_numpy(arr)
        out[name] = t.to(device) if device != "cpu" else t
    return out


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
