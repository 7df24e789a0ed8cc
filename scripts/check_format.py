#!/usr/bin/env python3
"""An independent reader of the coco sealed format v1, written from docs/FORMAT.md alone
(Python `cryptography`, no coco code). It opens the checked-in known-answer file, performs
every check the document lists, decrypts it and compares the plaintext with the known
input. If this and the Rust implementation ever disagree, the document is incomplete or one
of them is wrong.

Usage: scripts/check_format.py [SEALED_FILE]   (default: the KAT file)
"""
import hashlib
import hmac
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOT = Path(__file__).resolve().parent.parent
KAT = ROOT / "crates/coco-seal/tests/data/kat-v1.coco"
KAT_DEK = bytes(range(32))
KAT_PLAINTEXT = bytes(i % 251 for i in range(2 * 65536 + 1000))


def hkdf(ikm: bytes, salt, info: bytes, n: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def round_up(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def unseal(data: bytes, dek: bytes) -> bytes:
    assert data[0:8] == b"COCOSEAL", "magic"
    version, suite, chunk_log2, flags, reserved = struct.unpack_from("<HHBBH", data, 8)
    assert version == 1 and suite == 1, "version/suite"
    assert 16 <= chunk_log2 <= 24 and flags == 0 and reserved == 0, "chunk_log2/flags/reserved"
    plaintext_len, n_chunks = struct.unpack_from("<QQ", data, 16)
    chunk = 1 << chunk_log2
    assert n_chunks == max(1, -(-plaintext_len // chunk)), "n_chunks"
    salt, key_check = data[32:64], data[64:80]
    k, m = struct.unpack_from("<HH", data, 80)
    assert k <= 256 and 1 <= m <= 16384, "lengths"
    header_len = round_up(84 + k + m, 32) + 32
    assert all(b == 0 for b in data[84 + k + m : header_len - 32]), "padding"
    data_offset = round_up(header_len + 16 * n_chunks, 4096)
    assert len(data) == data_offset + plaintext_len, "file size"
    assert hmac.compare_digest(hkdf(dek, None, b"coco-seal/v1 key check", 16), key_check), "wrong key"
    digest = hashlib.sha256(data[: header_len - 32]).digest()
    okm = hkdf(dek, salt, b"coco-seal/v1 file" + digest, 64)
    file_key, commitment = okm[:32], okm[32:]
    assert hmac.compare_digest(commitment, data[header_len - 32 : header_len]), "commitment"
    assert all(b == 0 for b in data[header_len + 16 * n_chunks : data_offset]), "gap"
    aead = AESGCMSIV(file_key)
    out = bytearray()
    for i in range(n_chunks):
        nonce = b"\x00\x00\x00" + struct.pack(">Q", i) + bytes([1 if i == n_chunks - 1 else 0])
        start = i * chunk
        ct = data[data_offset + start : data_offset + min(start + chunk, plaintext_len)]
        tag = data[header_len + 16 * i : header_len + 16 * (i + 1)]
        out += aead.decrypt(nonce, ct + tag, None)
    return bytes(out)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else KAT
    plaintext = unseal(path.read_bytes(), KAT_DEK)
    if plaintext != KAT_PLAINTEXT:
        print("check_format: plaintext differs from the known answer", file=sys.stderr)
        return 1
    print(f"check_format: {path.name} verified and decrypted independently ({len(plaintext)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
