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
be signed by it) and ``threads``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

__all__ = ["LoaderConfig"]

_FETCH = ("url", "key_id", "protocol", "ca", "ear_keys", "gpus", "sample")
_ALL = ("key_file", "key_env", "vendor_key", "threads") + _FETCH


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
        for k in ("key_file", "key_env", "url", "key_id", "ca", "vendor_key", "protocol"):
            if k in extra and not isinstance(extra[k], str):
                raise ValueError(f"{k} must be a string")
        if extra.get("protocol", "coco") not in ("coco", "kbs"):
            raise ValueError("protocol: 'coco' or 'kbs'")
        for k in ("gpus", "sample"):
            if k in extra and not isinstance(extra[k], bool):
                raise ValueError(f"{k} must be true or false")
        threads = extra.get("threads", 0)
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise ValueError("threads must be a non-negative integer")
        ear_keys = extra.get("ear_keys", [])
        if not isinstance(ear_keys, list) or not all(isinstance(x, str) for x in ear_keys):
            raise ValueError("ear_keys must be a list of paths")
        fields = {k: v for k, v in extra.items() if k != "ear_keys"}
        return cls(ear_keys=tuple(ear_keys), **fields)

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
