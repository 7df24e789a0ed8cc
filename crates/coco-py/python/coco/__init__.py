"""coco: sealed model weights for confidential AI deployment.

Seal weight files with a data key, release the key only to an attested confidential VM, and
unseal inside it straight into memory. This module is the Python face of the Rust library:

- ``generate_key()``, ``seal_file()``, ``unseal_file()``, ``seal_dir()``, ``unseal_dir()``;
- ``open_sealed(path, key)``: a binary file object (``io.RawIOBase``) over a sealed file whose
  ``readinto`` decrypts straight into the caller's buffer;
- ``coco.safetensors.load_file(path, key)``: a sealed safetensors shard as numpy arrays;
- ``load_model_dir(path, key)``: every safetensors shard of a sealed model directory, after
  checking its manifest;
- exceptions: ``CocoError`` > ``WrongKeyError``, ``TamperedError``, ``VerificationError``.

The GIL is released during crypto and I/O.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from . import _coco
from ._coco import (
    CocoError,
    SealedReader,
    TamperedError,
    VerificationError,
    WrongKeyError,
    generate_key,
    inspect_json,
    seal_bytes,
    seal_file,
    unseal_file,
)

__version__: str = _coco.__version__

__all__ = [
    "CocoError",
    "SealedFile",
    "SealedReader",
    "TamperedError",
    "VerificationError",
    "WrongKeyError",
    "generate_key",
    "inspect",
    "load_model_dir",
    "open_sealed",
    "seal_bytes",
    "seal_dir",
    "seal_file",
    "unseal_dir",
    "unseal_file",
    "verify_evidence",
]

StrPath = str | os.PathLike[str]


class SealedFile(io.RawIOBase):
    """A read-only, seekable binary file over the plaintext of a sealed file.

    Opening authenticates the header, the key and the final chunk; every read decrypts only
    the chunks it touches and never returns bytes that did not authenticate (a failure
    raises ``TamperedError``). ``io.BufferedReader`` over it works.
    """

    def __init__(self, path: StrPath, key: bytes) -> None:
        super().__init__()
        self._reader: SealedReader = _coco.open_reader(os.fspath(path), key)
        self._pos = 0

    @property
    def plaintext_len(self) -> int:
        """Plaintext length in bytes."""
        return self._reader.plaintext_len

    @property
    def reader(self) -> SealedReader:
        """The underlying thread-safe random-access reader."""
        return self._reader

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._check_closed()
        n = self._reader.readinto_at(self._pos, buffer)
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        self._check_closed()
        if size is None or size < 0:
            size = max(0, self.plaintext_len - self._pos)
        data = self._reader.read_at(self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_closed()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.plaintext_len + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        self._check_closed()
        return self._pos

    def _check_closed(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")


def open_sealed(path: StrPath, key: bytes) -> SealedFile:
    """Opens a sealed file as a binary file object (see ``SealedFile``)."""
    return SealedFile(path, key)


def inspect(path: StrPath) -> dict[str, Any]:
    """A sealed file's header (no key needed; nothing is authenticated)."""
    return json.loads(inspect_json(os.fspath(path)))


def seal_dir(
    src: StrPath,
    dst: StrPath,
    key: bytes,
    model_id: str,
    chunk_size: int | None = None,
    threads: int = 0,
    key_id: str = "",
) -> dict[str, Any]:
    """Seals every file of a model directory; returns the manifest statement."""
    return json.loads(
        _coco.seal_dir(os.fspath(src), os.fspath(dst), key, model_id, chunk_size, threads, key_id)
    )


def unseal_dir(
    src: StrPath, dst: StrPath, key: bytes, vendor_key: StrPath | None = None, threads: int = 0
) -> dict[str, Any]:
    """Unseals a sealed model directory after checking its manifest (and, with ``vendor_key``,
    a PEM public key file, its signature and plaintext digests); returns the statement."""
    vk = os.fspath(vendor_key) if vendor_key is not None else None
    return json.loads(_coco.unseal_dir(os.fspath(src), os.fspath(dst), key, vk, threads))


def load_model_dir(
    path: StrPath, key: bytes, vendor_key: StrPath | None = None, threads: int = 0
) -> dict[str, Any]:
    """Loads every safetensors shard of a sealed model directory into one dict of numpy arrays,
    after checking the manifest and every shard (no missing, extra, renamed or swapped shard)."""
    from .safetensors import _load_reader

    vk = os.fspath(vendor_key) if vendor_key is not None else None
    _, shards = _coco.open_model_dir(os.fspath(path), key, vk)
    tensors: dict[str, Any] = {}
    for shard_path, reader in shards:
        if not shard_path.endswith(".safetensors"):
            continue
        for name, array in _load_reader(reader, threads).items():
            if name in tensors:
                raise CocoError(f"tensor {name!r} appears in more than one shard")
            tensors[name] = array
    return tensors


def verify_evidence(platform: str, data: bytes, **options: Any) -> dict[str, Any]:
    """Verifies attestation evidence; returns its claims.

    ``platform`` is ``"snp"``, ``"azure-snp"``, ``"tdx"`` or ``"nvidia"`` (a raw GPU report
    with ``certs``, or the JSON wire format of one or several GPUs); ``options`` are the
    CLI's: ``certs`` (path to a PEM bundle, DER file or directory), ``at`` (RFC 3339),
    ``collateral``, ``nonce`` (hex), ``no_revocation_check``, ``allow_trailing_data``. Raises ``VerificationError`` with
    ``.kind`` and ``.result`` (the same object as ``coco evidence verify --json``).
    """
    opts = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()}
    ok, text = _coco.verify_evidence_json(platform, bytes(data), json.dumps(opts))
    result = json.loads(text)
    if not ok:
        err = VerificationError(result["error"]["message"])
        err.kind = result["error"]["kind"]
        err.result = result
        raise err
    return result["claims"]


from . import safetensors  # noqa: E402  (submodule, imported for `coco.safetensors`)
