"""coco: sealed model weights for confidential AI deployment.

Seal weight files with a data key, release the key only to an attested confidential VM, and
unseal inside it straight into memory. This module is the Python face of the Rust library:

- ``generate_key()``, ``seal_file()``, ``unseal_file()``, ``seal_dir()``, ``unseal_dir()``;
- ``open_sealed(path, key)``: a binary file object (``io.RawIOBase``) over a sealed file whose
  ``readinto`` decrypts straight into the caller's buffer;
- ``coco.safetensors.load_file(path, key)``: a sealed safetensors shard as numpy arrays;
- ``load_model_dir(path, key)``: every safetensors shard of a sealed model directory, after
  checking its manifest;
- ``fetch_key(url, key_id)``: the workload side of attestation-bound key release (evidence
  from configfs-tsm and, with ``gpus=True``, NVML), as ``coco fetch-key``;
- ``verify_evidence()``, ``appraise()``, ``verify_ear()``;
- exceptions: ``CocoError`` > ``WrongKeyError``, ``TamperedError``, ``VerificationError``
  (> ``EvidenceError``, ``AppraisalError``, ``ChallengeError``, ``EarError``), ``ReleaseError``,
  ``ConfigError``; each failure of the decision has ``.kind`` and ``.result`` (the error
  object, with ``findings``, ``index``, ``platform``, ``cause`` where they apply).

The GIL is released during crypto and I/O.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any

from . import _coco
from ._coco import (
    CocoError,
    ReleaseError,
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

# The simulated TEE exists only in builds with the cargo feature `sim` (the test build:
# `maturin build --features sim`); the wheel users install has no simulator.
if hasattr(_coco, "SimulatedTee"):
    SimulatedTee = _coco.SimulatedTee

__version__: str = _coco.__version__

__all__ = [
    "AppraisalError",
    "ChallengeError",
    "CocoError",
    "ConfigError",
    "EarError",
    "EvidenceError",
    "ReleaseError",
    "ReleasedKey",
    "SealedFile",
    "SealedReader",
    "TamperedError",
    "VerificationError",
    "WrongKeyError",
    "appraise",
    "fetch_key",
    "generate_key",
    "inspect",
    "load_model_dir",
    "open_sealed",
    "seal_bytes",
    "seal_dir",
    "seal_file",
    "unseal_dir",
    "unseal_file",
    "verify_ear",
    "verify_evidence",
]
if hasattr(_coco, "SimulatedTee"):
    __all__.append("SimulatedTee")

StrPath = str | os.PathLike[str]

KeyLike = bytes | str
"""A public key as JWK JSON, SPKI PEM or DER: ``bytes``, or ``str`` for the text forms."""


def _key_bytes(k: KeyLike) -> bytes:
    return k.encode() if isinstance(k, str) else bytes(k)


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


class EvidenceError(VerificationError):
    """A piece of evidence did not verify (``.kind``: ``chain``, ``signature``, ``expired``,
    ``revoked``, ``mismatch``, ``collateral``, ``malformed``, ...)."""


class AppraisalError(VerificationError):
    """The evidence verified, but the appraisal is not affirming (``.result["error"]["findings"]``
    names every claim, expected and found)."""


class ChallengeError(VerificationError):
    """The key-release challenge was refused (expired, replayed, not issued by the service)."""


class EarError(VerificationError):
    """An EAR did not verify under the trusted keys."""


class ConfigError(CocoError, ValueError):
    """Reference values, trusted keys, the policy or an option are unusable (``.kind``: the
    cause, e.g. ``policy``, ``signature`` of a CoRIM, ``usage``; ``.result["error"]["class"]``
    is ``config``)."""


_EVIDENCE_KINDS = frozenset(
    {"evidence", "malformed", "unsupported_version", "certificate", "chain", "expired", "revoked",
     "signature", "mismatch", "collateral", "no_tcb_level", "platform"}
)
_RELEASE_KINDS = frozenset({"collect", "transport", "key", "request", "wrap", "storage", "binding"})


# The problem types of a Key Broker Service (protocol="kbs"), by their last segment.
_KBS_KINDS: dict[str, type[CocoError]] = {
    "PolicyDeny": AppraisalError,
    "AttestationError": VerificationError,
    "TokenNotFound": ChallengeError,
    "InvalidSession": ChallengeError,
    "ResourceNotFound": ReleaseError,
    "InvalidRequestPath": ReleaseError,
    "SerdeError": ReleaseError,
    "Unavailable": ReleaseError,
    "Timeout": ReleaseError,
}


def _error(result: dict[str, Any], message: str | None = None) -> CocoError:
    """The exception for an error object (``{"error": {"kind", "message", ...}}``): the one
    mapping from the stable error kinds to exception classes."""
    e = result["error"]
    kind = e["kind"]
    if e.get("class") == "config" or kind in ("config", "policy", "usage", "binding"):
        cls: type[CocoError] = ConfigError
    elif e.get("class") == "evidence":
        cls = EvidenceError
    elif kind == "appraisal":
        cls = AppraisalError
    elif kind == "challenge":
        cls = ChallengeError
    elif kind == "ear":
        cls = EarError
    elif kind in _EVIDENCE_KINDS:
        cls = EvidenceError
    elif kind in _KBS_KINDS:
        cls = _KBS_KINDS[kind]
    elif kind in _RELEASE_KINDS:
        cls = ReleaseError
    else:
        cls = VerificationError
    err = cls(message or e["message"])
    err.kind = kind
    err.result = result
    return err


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
        raise _error(result)
    return result["claims"]


def _raise(result: dict[str, Any]) -> None:
    raise _error(result)


def appraise(
    evidence: list[tuple[str, bytes]],
    references: list[bytes] = (),  # type: ignore[assignment]
    *,
    corim_keys: list[KeyLike] = (),  # type: ignore[assignment]
    policy: str | None = None,
    sign_key: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Verifies evidence and appraises it; returns ``{"status", "ear", "findings"}``.

    ``evidence`` is a list of ``(platform, bytes)`` (``"snp"``, ``"azure-snp"``, ``"tdx"``,
    ``"nvidia"``): CPUs become submodules ``cpu0``…, GPUs ``gpu0``…. ``references`` are CoRIM
    files' bytes; a signed one must verify under one of ``corim_keys`` (JWK, SPKI PEM or DER
    bytes). ``policy`` is the policy TOML (``coco_core::policy``; default policy when None).
    ``options`` are those of :func:`verify_evidence` (``certs``, ``collateral``, ``nonce``,
    ``at``…), shared by every piece of evidence. With ``sign_key`` (PKCS#8 PEM) the result
    also has ``jwt``, the EAR signed (ES256/ES384). ``status`` is the EAR's overall status
    (``affirming``, ``warning``, ``contraindicated``, ``none``); ``findings`` lists every
    mismatch (``claim``, ``expected``, ``found``, ``category``), including the bundle's
    composition (``composition.gpu0`` for a missing GPU, ``composition.gpu1.device`` for the same
    GPU twice, ``composition.gpu1.attester`` for one the policy does not expect). This is the
    decision of the key-release service, offline. Evidence that does not verify raises
    ``VerificationError`` whose ``kind`` is the evidence error's kind and whose
    ``result["error"]`` also has ``class`` (``evidence``), ``index`` and ``platform``.
    """
    opts = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()}
    ok, text = _coco.appraise_json(
        [(p, bytes(b)) for p, b in evidence],
        [bytes(r) for r in references],
        [_key_bytes(k) for k in corim_keys],
        policy,
        sign_key,
        json.dumps(opts),
    )
    result = json.loads(text)
    if not ok:
        _raise(result)
    return result


def verify_ear(token: bytes | str, keys: list[KeyLike], at: str | None = None) -> dict[str, Any]:
    """Verifies an EAR (compact JWT or CWT) with the trusted ``keys`` only (JWK, SPKI PEM or
    DER bytes; never a key carried by the token), checking expiry at ``at`` (RFC 3339; now
    when None). Returns the EAR's claims; raises ``VerificationError`` (kind ``ear``)."""
    raw = token.encode() if isinstance(token, str) else bytes(token)
    ok, text = _coco.verify_ear_json(raw, [_key_bytes(k) for k in keys], at)
    result = json.loads(text)
    if not ok:
        _raise(result)
    return result


@dataclass(frozen=True, repr=False)
class ReleasedKey:
    """A data key released by a key-release service."""

    key: bytes
    """The 32-byte data key (Python cannot wipe ``bytes``: drop this object when done)."""
    key_id: str
    """The key id asked for."""
    ear: str
    """The service's appraisal: an EAR as a signed JWT."""
    ear_claims: dict[str, Any] | None
    """The EAR's claims when ``fetch_key`` verified it (``ear_keys``), else None."""

    def __repr__(self) -> str:
        status = (self.ear_claims or {}).get("ear_status", "unverified")
        return f"ReleasedKey(key_id={self.key_id!r}, ear={status!r}, key=<32 bytes>)"


def fetch_key(
    url: str,
    key_id: str,
    *,
    kem: str = "p384",
    configfs: StrPath | None = None,
    collateral: StrPath | None = None,
    gpus: bool = False,
    crl: bytes | StrPath | None = None,
    ear_keys: list[KeyLike] | None = None,
    at: str | None = None,
    tee: SimulatedTee | None = None,
    ca: bytes | StrPath | None = None,
    allow_plain_http: bool = False,
    protocol: str = "coco",
    sample: bool = False,
) -> ReleasedKey:
    """Asks the key-release service at ``url`` for ``key_id``, as ``coco fetch-key`` does.

    ``protocol="kbs"`` speaks the Confidential Containers Key Broker protocol instead (a
    Trustee KBS, or ``coco serve``'s ``/kbs/v0``), as ``coco fetch-key --kbs URL --resource R``:
    ``key_id`` is then the resource path ``<repository>/<type>/<tag>``, the evidence is bound to
    the KBS session and a fresh P-256 TEE key, and the resource comes back as a JWE opened with
    that key. ``sample=True`` sends the CoCo guest client's sample attester evidence (no TEE:
    rehearsals against a KBS that accepts it). ``kem``, ``ear_keys``, ``collateral`` and ``crl``
    are for coco's own protocol; the KBS token is returned in ``ear``, unverified.

    ``url`` is ``https://...`` (the service's certificate checked against the system's roots,
    or only against ``ca``: PEM bytes or a path), or ``http://`` to a loopback host; plain
    HTTP to another host only with ``allow_plain_http`` (TLS terminated in front of the
    service). A refused URL or an unusable ``ca`` raises ``ReleaseError`` of kind ``tls``.

    Gets a challenge, makes a fresh HPKE key (``kem``: ``"p384"`` or ``"x25519"``), collects
    evidence bound to both (the CPU's TDX quote or SNP report through configfs-tsm under
    ``configfs``, default ``/sys/kernel/config/tsm/report``; with ``gpus`` every NVIDIA GPU's
    report through NVML), sends it with ``collateral`` (a TDX collateral directory) or ``crl``
    (AMD's CRL, DER bytes or a path), and unwraps the key the service wrapped to that HPKE
    key. ``tee`` replaces configfs-tsm with a :class:`SimulatedTee` (demos and tests). With
    ``ear_keys`` (the service's EAR public keys: JWK, SPKI PEM or DER bytes) the EAR must
    verify (expiry at ``at``, RFC 3339, or now) before the key leaves Rust's zeroizing memory.

    Raises a ``VerificationError`` when the service refused the evidence: ``ChallengeError``,
    ``EvidenceError`` (``.result["error"]`` has the ``index``, ``platform`` and ``cause`` of the
    piece that did not verify), ``AppraisalError`` (``findings``), or ``EarError`` when the EAR
    did not verify; ``ReleaseError`` otherwise (``collect``: this machine's
    own evidence could not be collected; ``transport``, ``key``, ``request``, ``wrap``,
    ``storage``). The GIL is released while waiting.
    """
    if protocol not in ("coco", "kbs"):
        raise ValueError(f"protocol {protocol!r}: 'coco' or 'kbs'")
    if protocol == "kbs" and (ear_keys or collateral is not None or crl is not None):
        raise ValueError("ear_keys, collateral and crl are for protocol='coco'")
    if sample and protocol != "kbs":
        raise ValueError("sample=True is for protocol='kbs'")
    if isinstance(crl, (str, os.PathLike)):
        with open(crl, "rb") as f:
            crl = f.read()
    if isinstance(ca, (str, os.PathLike)):
        with open(ca, "rb") as f:
            ca = f.read()
    ok, key, text = _coco.fetch_key_raw(
        url,
        key_id,
        kem,
        os.fspath(configfs) if configfs is not None else None,
        os.fspath(collateral) if collateral is not None else None,
        gpus,
        bytes(crl) if crl is not None else None,
        tee,
        [_key_bytes(k) for k in ear_keys or ()],
        at,
        bytes(ca) if ca is not None else None,
        allow_plain_http,
        protocol,
        sample,
    )
    result = json.loads(text)
    if not ok:
        raise _error(result, f"{result['error']['kind']}: {result['error']['message']}")
    return ReleasedKey(key=key, key_id=key_id, ear=result["ear"], ear_claims=result["ear_claims"])


from . import safetensors  # noqa: E402  (submodule, imported for `coco.safetensors`)
