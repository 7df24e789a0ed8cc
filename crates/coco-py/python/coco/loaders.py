"""What the inference-engine integrations share (``coco.vllm``, ``coco.tensorrt_llm``): the
configuration of where a sealed model's data key comes from, validated before anything is
loaded, and the key itself.

The configuration is a JSON object (vLLM's ``--model-loader-extra-config``), exactly one key
source:

- ``{"key_file": "/run/coco/dek"}`` — a 32-byte key file (e.g. written by ``coco fetch-key``);
- ``{"key_env": "COCO_MODEL_KEY"}`` — an environment variable holding the key as hex;
- ``{"url": "https://kr.internal:8443", "key_id": "acme/llm/v1"}`` — released to this
  attested machine by a coco key-release service (``coco.fetch_key``), or with
  ``"protocol": "kbs"`` by a Key Broker Service (``key_id`` is then the resource path), with
  the optional ``ca``, ``ear_keys``, ``gpus``, ``sample``.

and optionally ``vendor_key`` (the vendor's public key: the sealed directory's manifest must
be signed by it), ``threads``, and ``pattern`` (the file names of a checkpoint saved per
tensor-parallel rank, vLLM's ``model-rank-{rank}-part-{part}.safetensors`` by default: such a
checkpoint is detected by its names, and each rank then decrypts only its own files).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Iterable

__all__ = ["LoaderConfig", "RANK_PATTERN", "rank_shards", "load_state_dict"]

_FETCH = ("url", "key_id", "protocol", "ca", "ear_keys", "gpus", "sample")
_ALL = ("key_file", "key_env", "vendor_key", "threads", "pattern") + _FETCH

#: The file names of a checkpoint saved per tensor-parallel rank (vLLM's ``sharded_state``).
RANK_PATTERN = "model-rank-{rank}-part-{part}.safetensors"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ``{rank}`` and ``{part}`` as captured integers, the rest literal."""
    if pattern.count("{rank}") != 1 or pattern.count("{part}") != 1:
        raise ValueError("pattern: needs exactly one {rank} and one {part}")
    parts = re.split(r"(\{rank\}|\{part\})", pattern)
    body = "".join(
        "(?P<rank>[0-9]+)" if x == "{rank}" else "(?P<part>[0-9]+)" if x == "{part}" else re.escape(x)
        for x in parts
    )
    return re.compile(body + r"\Z")


def rank_shards(names: Iterable[str], rank: int, pattern: str = RANK_PATTERN) -> list[str] | None:
    """The files one tensor-parallel ``rank`` loads, from the file names of a sealed model
    directory (as its manifest lists them).

    ``None`` when no name follows ``pattern`` (a checkpoint every rank reads whole, as vLLM's
    default loader does); otherwise this rank's files, by part number. A checkpoint saved per
    rank that holds nothing for ``rank`` (saved for fewer ranks) is a ``ValueError``.
    """
    regex = _pattern_regex(pattern)
    matched = [(m, n) for n in names if (m := regex.match(n)) is not None]
    if not matched:
        return None
    mine = sorted((int(m["part"]), n) for m, n in matched if int(m["rank"]) == rank)
    if not mine:
        ranks = sorted({int(m["rank"]) for m, _ in matched})
        raise ValueError(
            f"the checkpoint is saved per tensor-parallel rank ({ranks}) and holds no files "
            f"for rank {rank}"
        )
    return [n for _, n in mine]


def load_state_dict(state_dict: dict[str, Any], tensors: Iterable[tuple[str, Any]]) -> None:
    """Copies ``(name, tensor)`` pairs into the parameters of ``state_dict`` (name →
    parameter or tensor, e.g. ``model.state_dict()``), as vLLM's ``sharded_state`` loader does
    with one rank's files: a tensor smaller than its parameter along a dimension (padding, e.g.
    for LoRA) fills the leading part. A name that is not a parameter, a tensor larger than its
    parameter, or a parameter no tensor filled is a ``ValueError`` naming it (after the copies:
    a caller discards the model).
    """
    left = dict(state_dict)
    for name, tensor in tensors:
        if name not in left:
            raise ValueError(
                f"tensor {name!r}: no such parameter"
                + (" (or it came twice)" if name in state_dict else "")
            )
        param = left.pop(name)
        data = getattr(param, "data", param)
        if len(tensor.shape) != len(data.shape) or any(
            t > p for t, p in zip(tensor.shape, data.shape)
        ):
            raise ValueError(
                f"tensor {name!r} of shape {tuple(tensor.shape)} does not fit the parameter "
                f"of shape {tuple(data.shape)}"
            )
        for dim, size in enumerate(tensor.shape):
            if size < data.shape[dim]:
                data = data.narrow(dim, 0, size)
        data.copy_(tensor)
    if left:
        raise ValueError(f"no tensor for the parameters {sorted(left)}")


@dataclasses.dataclass(frozen=True)
class LoaderConfig:
    """Where the data key comes from, and how the sealed model is checked and read."""

    key_file: str | None = None
    key_env: str | None = None
    url: str | None = None
    key_id: str | None = None
    protocol: str = "coco"
    ca: str | None = None
    ear_keys: tuple[str, ...] = ()
    gpus: bool = False
    sample: bool = False
    vendor_key: str | None = None
    threads: int = 0
    pattern: str = RANK_PATTERN

    @classmethod
    def parse(cls, extra: dict[str, Any] | None) -> "LoaderConfig":
        """Validates an engine's extra configuration: unknown keys, a missing or a second key
        source, and values of the wrong type are ``ValueError``s naming the key."""
        extra = dict(extra or {})
        unknown = sorted(set(extra) - set(_ALL))
        if unknown:
            raise ValueError(f"unknown coco loader settings {unknown}; known: {sorted(_ALL)}")
        sources = [k for k in ("key_file", "key_env", "url") if extra.get(k) is not None]
        if len(sources) != 1:
            raise ValueError(
                "exactly one key source: key_file, key_env, or url (+ key_id); "
                f"got {sources or 'none'}"
            )
        if "url" in sources and not extra.get("key_id"):
            raise ValueError("url needs key_id (the key id, or the KBS resource path)")
        stray = [k for k in _FETCH if k in extra and "url" not in sources]
        if stray:
            raise ValueError(f"{stray} apply to a key fetched from url")
        for k in ("key_file", "key_env", "url", "key_id", "ca", "vendor_key", "protocol", "pattern"):
            if k in extra and not isinstance(extra[k], str):
                raise ValueError(f"{k} must be a string")
        if extra.get("protocol", "coco") not in ("coco", "kbs"):
            raise ValueError("protocol: 'coco' or 'kbs'")
        for k in ("gpus", "sample"):
            if k in extra and not isinstance(extra[k], bool):
                raise ValueError(f"{k} must be true or false")
        if "pattern" in extra:
            _pattern_regex(extra["pattern"])
        threads = extra.get("threads", 0)
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise ValueError("threads must be a non-negative integer")
        ear_keys = extra.get("ear_keys", [])
        if not isinstance(ear_keys, list) or not all(isinstance(x, str) for x in ear_keys):
            raise ValueError("ear_keys must be a list of paths")
        fields = {k: v for k, v in extra.items() if k != "ear_keys"}
        return cls(ear_keys=tuple(ear_keys), **fields)

    def resolve(self, base: str | os.PathLike[str]) -> "LoaderConfig":
        """The same configuration with its relative paths (``key_file``, ``vendor_key``,
        ``ca``, ``ear_keys``) taken relative to ``base`` instead of the working directory: for
        a configuration kept beside the model it describes (a Triton model's ``config.pbtxt``).
        """
        b = os.fspath(base)

        def at(p: str | None) -> str | None:
            return None if p is None else os.path.join(b, p)

        return dataclasses.replace(
            self,
            key_file=at(self.key_file),
            vendor_key=at(self.vendor_key),
            ca=at(self.ca),
            ear_keys=tuple(os.path.join(b, k) for k in self.ear_keys),
        )

    def key(self) -> bytes:
        """The data key: read, or released to this machine (the EAR checked with
        ``ear_keys``)."""
        if self.key_file is not None:
            with open(self.key_file, "rb") as f:
                key = f.read()
        elif self.key_env is not None:
            value = os.environ.get(self.key_env)
            if value is None:
                raise ValueError(f"key_env: {self.key_env} is not set")
            try:
                key = bytes.fromhex(value.strip())
            except ValueError:
                raise ValueError(f"key_env: {self.key_env} is not hex") from None
        else:
            from . import fetch_key

            assert self.url is not None and self.key_id is not None
            key = fetch_key(
                self.url,
                self.key_id,
                ca=self.ca,
                ear_keys=list(self.ear_keys) or None,
                gpus=self.gpus,
                protocol=self.protocol,
                sample=self.sample,
            ).key
        if len(key) != 32:
            raise ValueError(f"the data key is {len(key)} bytes, not 32")
        return key
