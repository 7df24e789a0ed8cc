"""Tests of the coco Python package: round trips, dtypes, errors, buffers, threads."""

import io
import os
import threading

import numpy as np
import pytest

import coco
import coco.safetensors as cst

CHUNK = 64 * 1024


def data(n: int, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture
def key() -> bytes:
    return coco.generate_key()


@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 3])
def test_file_round_trip(tmp_path, key, n):
    plain = data(n)
    (tmp_path / "p").write_bytes(plain)
    coco.seal_file(tmp_path / "p", tmp_path / "s", key, chunk_size=CHUNK)
    assert coco.inspect(tmp_path / "s")["plaintext_len"] == n
    coco.unseal_file(tmp_path / "s", tmp_path / "u", key)
    assert (tmp_path / "u").read_bytes() == plain
    with coco.open_sealed(tmp_path / "s", key) as f:
        assert f.plaintext_len == n
        assert f.read() == plain
        f.seek(-min(n, 10), io.SEEK_END)
        assert f.read() == plain[-min(n, 10):] if n else f.read() == b""
        f.seek(0)
        assert io.BufferedReader(f).read() == plain


def test_generate_key():
    k = coco.generate_key()
    assert isinstance(k, bytes) and len(k) == 32 and k != coco.generate_key()


def test_readinto_memoryview_and_numpy(tmp_path, key):
    plain = data(3 * CHUNK + 17)
    (tmp_path / "p").write_bytes(plain)
    coco.seal_file(tmp_path / "p", tmp_path / "s", key, chunk_size=CHUNK)
    f = coco.open_sealed(tmp_path / "s", key)
    f.seek(CHUNK - 5)
    buf = bytearray(20)
    assert f.readinto(memoryview(buf)[5:15]) == 10
    assert bytes(buf[5:15]) == plain[CHUNK - 5 : CHUNK + 5]
    assert f.tell() == CHUNK + 5
    arr = np.zeros(len(plain), dtype=np.uint8)
    assert f.reader.read_range_into(0, arr, 2) == len(plain)
    assert arr.tobytes() == plain
    with pytest.raises(ValueError):
        f.reader.readinto_at(0, b"read-only")
    f.close()
    with pytest.raises(ValueError):
        f.read(1)


def test_wrong_key_and_tampering_raise_and_leave_no_output(tmp_path, key):
    plain = data(3 * CHUNK)
    (tmp_path / "p").write_bytes(plain)
    coco.seal_file(tmp_path / "p", tmp_path / "s", key, chunk_size=CHUNK)
    with pytest.raises(coco.WrongKeyError):
        coco.unseal_file(tmp_path / "s", tmp_path / "u", coco.generate_key())
    assert not (tmp_path / "u").exists()
    sealed = bytearray((tmp_path / "s").read_bytes())
    off = coco.inspect(tmp_path / "s")["data_offset"]
    sealed[off + CHUNK + 9] ^= 1
    (tmp_path / "t").write_bytes(sealed)
    with pytest.raises(coco.TamperedError, match="chunk 1"):
        coco.unseal_file(tmp_path / "t", tmp_path / "u", key)
    assert not (tmp_path / "u").exists()
    f = coco.open_sealed(tmp_path / "t", key)
    assert f.read(100) == plain[:100]  # chunk 0 is intact
    buf = bytearray(b"\xaa" * 50)
    f.seek(CHUNK + 1)
    with pytest.raises(coco.TamperedError):
        f.readinto(buf)
    assert buf == bytearray(50), "no partial plaintext on failure"
    (tmp_path / "trunc").write_bytes(bytes(sealed[:-1]))
    with pytest.raises(coco.TamperedError, match="truncated"):
        coco.open_sealed(tmp_path / "trunc", key)
    assert issubclass(coco.WrongKeyError, coco.CocoError)
    with pytest.raises(ValueError):
        coco.open_sealed(tmp_path / "s", b"short")
    with pytest.raises(FileNotFoundError) as e:
        coco.open_sealed(tmp_path / "missing", key)
    assert e.value.filename == str(tmp_path / "missing")
    assert e.value.errno == 2
    # An output under a missing directory names the caller's path, not a temporary one.
    with pytest.raises(FileNotFoundError) as e:
        coco.unseal_file(tmp_path / "s", tmp_path / "no-dir" / "out", key)
    assert e.value.filename == str(tmp_path / "no-dir" / "out")


def all_dtype_tensors():
    rng = np.random.default_rng(7)
    t = {
        "bool": rng.integers(0, 2, (3, 5)).astype(np.bool_),
        "u8": rng.integers(0, 256, (17,), dtype=np.uint8),
        "i8": rng.integers(-128, 128, (4, 4), dtype=np.int8),
        "u16": rng.integers(0, 2**16, (9,), dtype=np.uint16),
        "i16": rng.integers(-(2**15), 2**15, (3, 3), dtype=np.int16),
        "f16": rng.standard_normal((8, 8)).astype(np.float16),
        "u32": rng.integers(0, 2**32, (5,), dtype=np.uint32),
        "i32": rng.integers(-(2**31), 2**31, (2, 3, 4), dtype=np.int32),
        "f32": rng.standard_normal((300, 300)).astype(np.float32),
        "u64": rng.integers(0, 2**63, (6,), dtype=np.uint64),
        "i64": rng.integers(-(2**62), 2**62, (6,), dtype=np.int64),
        "f64": rng.standard_normal((7, 3)).astype(np.float64),
        "c64": (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    return t


def test_safetensors_every_dtype_round_trip(tmp_path, key):
    tensors = all_dtype_tensors()
    cst.save_file(tensors, tmp_path / "m.safetensors.coco", key, metadata={"format": "pt"}, chunk_size=CHUNK)
    loaded = cst.load_file(tmp_path / "m.safetensors.coco", key)
    assert set(loaded) == set(tensors)
    for name, arr in tensors.items():
        assert loaded[name].dtype == arr.dtype, name
        assert loaded[name].shape == arr.shape, name
        np.testing.assert_array_equal(loaded[name], arr, err_msg=name)


def raw_safetensors(entries):
    """Builds safetensors bytes by hand: entries = [(name, dtype_name, shape, raw bytes)]."""
    import json
    import struct

    header, off, blobs = {}, 0, []
    for name, kind, shape, raw in entries:
        header[name] = {"dtype": kind, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def test_bf16_and_f8_are_raw_views_or_ml_dtypes(tmp_path, key):
    bf = np.arange(12, dtype=np.uint16).tobytes()
    f8 = bytes(range(10))
    blob = raw_safetensors([("bf", "BF16", [3, 4], bf), ("f8", "F8_E4M3", [10], f8), ("e5", "F8_E5M2", [10], f8)])
    coco.seal_bytes(blob, tmp_path / "x.coco", key)
    loaded = cst.load_file(tmp_path / "x.coco", key)
    assert loaded["bf"].shape == (3, 4) and loaded["bf"].tobytes() == bf
    assert loaded["f8"].tobytes() == f8 and loaded["e5"].tobytes() == f8
    assert loaded["bf"].dtype.itemsize == 2 and loaded["f8"].dtype.itemsize == 1


def test_bad_safetensors_header_is_an_error(tmp_path, key):
    coco.seal_bytes(b"\xff" * 8 + b"{}", tmp_path / "bad.coco", key)
    with pytest.raises(coco.CocoError, match="header length"):
        cst.load_file(tmp_path / "bad.coco", key)
    blob = raw_safetensors([("t", "F32", [4], b"\0" * 12)])
    coco.seal_bytes(blob, tmp_path / "bad2.coco", key)
    with pytest.raises(coco.CocoError, match="do not fit"):
        cst.load_file(tmp_path / "bad2.coco", key)


def test_model_dir(tmp_path, key):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    a = {"a.weight": np.arange(100, dtype=np.float32).reshape(10, 10)}
    b = {"b.weight": np.ones((4, 4), dtype=np.float16)}
    import coco.safetensors as s

    s.save_file(a, tmp_path / "tmp-a", key)  # sealed; unseal to build a plaintext model dir
    coco.unseal_file(tmp_path / "tmp-a", src / "model-1.safetensors", key)
    s.save_file(b, tmp_path / "tmp-b", key)
    coco.unseal_file(tmp_path / "tmp-b", src / "sub" / "model-2.safetensors", key)
    (src / "config.json").write_text("{}")
    st = coco.seal_dir(src, tmp_path / "sealed", key, "test/model@1", chunk_size=CHUNK)
    assert len(st["predicate"]["shards"]) == 3
    loaded = coco.load_model_dir(tmp_path / "sealed", key)
    np.testing.assert_array_equal(loaded["a.weight"], a["a.weight"])
    np.testing.assert_array_equal(loaded["b.weight"], b["b.weight"])
    coco.unseal_dir(tmp_path / "sealed", tmp_path / "out", key)
    assert (tmp_path / "out" / "config.json").read_text() == "{}"
    os.remove(tmp_path / "sealed" / "config.json.coco")
    with pytest.raises(coco.CocoError, match="missing shard"):
        coco.load_model_dir(tmp_path / "sealed", key)


def test_concurrent_reads_from_threads(tmp_path, key):
    plain = data(9 * CHUNK + 77, seed=3)
    (tmp_path / "p").write_bytes(plain)
    coco.seal_file(tmp_path / "p", tmp_path / "s", key, chunk_size=CHUNK)
    reader = coco.open_sealed(tmp_path / "s", key).reader
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            off = int(rng.integers(0, len(plain)))
            n = int(rng.integers(0, 5000))
            got = reader.read_at(off, n)
            if got != plain[off : off + n]:
                errors.append((off, n))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_torch_loader_when_available(tmp_path, key):
    torch = pytest.importorskip("torch")
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    cst.save_file(tensors, tmp_path / "t.coco", key)
    out = cst.load_file_torch(tmp_path / "t.coco", key)
    assert torch.equal(out["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3))


def vectors():
    import pathlib

    d = pathlib.Path(os.environ.get("COCO_VECTORS", pathlib.Path(__file__).parents[4] / "shared" / "vectors"))
    assert d.is_dir(), f"evidence vectors not found at {d}"
    return d


def test_verify_evidence_nvidia():
    s = vectors() / "nvidia" / "hopper-h100-550.90.07"
    data = (s / "attestation_report.bin").read_bytes()
    nonce = (s / "nonce.hex").read_text().strip()
    claims = coco.verify_evidence("nvidia", data, certs=s / "cert_chain.pem", nonce=nonce)
    assert claims["driver_version"] == "550.90.07" and claims["chip"] == "GH100"
    assert claims["x-nvidia-gpu-attestation-report-nonce-match"] is True
    with pytest.raises(coco.VerificationError) as e:
        coco.verify_evidence("nvidia", data, certs=s / "cert_chain.pem", nonce="00" * 32)
    assert e.value.kind == "mismatch"
    wire = (vectors() / "nvidia" / "hopper-hgx-8gpu-ppcie-590.12" / "gpu_evidence.json").read_bytes()
    assert coco.verify_evidence("nvidia", wire)["gpu_count"] == 8


def test_appraise_and_ear():
    s = vectors() / "snp" / "milan-v2-debug-go-sev-guest"
    policy = "require_revocation_check = false\nrequire_reference_values = false\n"
    r = coco.appraise([("snp", (s / "report.bin").read_bytes())], policy=policy, certs=s,
                      at="2024-06-01T00:00:00Z")
    # A debug VM: contraindicated, with that reason.
    assert r["status"] == "contraindicated"
    assert any(f["claim"] == "cpu0.debug" for f in r["findings"])
    assert r["ear"]["submods"]["cpu0"]["ear_status"] == "contraindicated"
    # GPUs become their own submodules.
    n = vectors() / "nvidia" / "hopper-hgx-8gpu-ppcie-590.12"
    r = coco.appraise([("nvidia", (n / "gpu_evidence.json").read_bytes())], policy=policy,
                      nonce=(n / "nonce.hex").read_text().strip())
    assert sorted(r["ear"]["submods"]) == [f"gpu{i}" for i in range(8)]
    with pytest.raises(coco.EvidenceError) as e:
        coco.appraise([("nvidia", (n / "gpu_evidence.json").read_bytes())], nonce="00" * 32)
    assert e.value.kind == "mismatch"
    # The error says which piece of evidence, of which platform, as the decision's class.
    err = e.value.result["error"]
    assert (err["class"], err["index"], err["platform"]) == ("evidence", 0, "nvidia")
    # EARs: a real signed JWT verifies with its key only; alg none and HS256 are refused.
    ear = vectors() / "corim" / "ear"
    key = (ear / "veraison-ear-test-key.pub.jwk.json").read_bytes()
    claims = coco.verify_ear((ear / "veraison-ear-jwt-es256-tv.jwt").read_text(), [key],
                             at="2023-11-14T22:13:20Z")
    assert "submods" in claims
    # The key as text (a JWK read with read_text) works the same.
    text_key = (ear / "veraison-ear-test-key.pub.jwk.json").read_text()
    assert coco.verify_ear((ear / "veraison-ear-jwt-es256-tv.jwt").read_text(), [text_key],
                           at="2023-11-14T22:13:20Z") == claims
    for bad in ["veraison-ear-jwt-INVALID-alg-none.jwt", "veraison-ear-jwt-INVALID-hs256.jwt"]:
        with pytest.raises(coco.VerificationError) as e:
            coco.verify_ear((ear / bad).read_bytes(), [key], at="2023-11-14T22:13:20Z")
        assert e.value.kind == "ear"


def test_verify_evidence_snp():
    s = vectors() / "snp" / "milan-v3-vlek-aws-trustee"
    data = (s / "report.bin").read_bytes()
    claims = coco.verify_evidence("snp", data, certs=s, at="2025-06-01T00:00:00Z")
    assert claims["signing_key"] == "vlek" and claims["product"] == "milan" and claims["vmpl"] == 1
    with pytest.raises(coco.VerificationError) as e:
        coco.verify_evidence("snp", data, certs=s, at="2025-12-11T00:00:00Z")
    assert e.value.kind == "expired" and e.value.result["verified"] is False
    with pytest.raises(coco.VerificationError, match="unsupported platform"):
        coco.verify_evidence("sgx", data)
    with pytest.raises(ValueError):
        coco.verify_evidence("snp", data, bogus=1)


class DeferredStaging:
    """A staging backend whose copies complete only when waited for, as CUDA copies on a side
    stream do: a loader that refilled a buffer before waiting would copy the wrong bytes."""

    def __init__(self, sizes, size, count, honor_wait=True):
        self.views = [np.zeros(size, dtype=np.uint8) for _ in range(count)]
        self.dests = [np.zeros(n, dtype=np.uint8) for n in sizes]
        self.pending = [[] for _ in range(count)]
        self.honor_wait = honor_wait
        self.finished = False

    def _flush(self, b):
        for s_off, dst, d_off, n in self.pending[b]:
            self.dests[dst][d_off : d_off + n] = self.views[b][s_off : s_off + n]
        self.pending[b].clear()

    def wait(self, b):
        if self.honor_wait:
            self._flush(b)

    def copy(self, b, s_off, dst, d_off, n):
        self.pending[b].append((s_off, dst, d_off, n))

    def done(self, b):
        pass

    def finish(self):
        for b in range(len(self.views)):
            self._flush(b)
        self.finished = True


def staged(path, key, size, count, honor_wait=True, threads=0):
    reader = coco.open_sealed(path, key).reader
    base, _, tensors = cst._layout(reader)
    st = DeferredStaging([t.end - t.start for t in tensors], size, count, honor_wait)
    try:
        cst._staged_load(reader, base, tensors, st, threads)
    finally:
        assert st.finished, "copies must be drained, also on failure"
    return {t.name: d.tobytes() for t, d in zip(tensors, st.dests)}


def test_staged_gpu_pipeline_on_cpu_buffers(tmp_path, key):
    # Odd sizes so that windows, tensors and 64-KiB chunks never line up; an empty and a
    # scalar tensor too.
    rng = np.random.default_rng(7)
    tensors = {f"t{i:02d}": rng.standard_normal(int(rng.integers(1, 40_000))).astype(np.float32) for i in range(30)}
    tensors["empty"] = np.zeros((0, 3), dtype=np.float16)
    tensors["scalar"] = np.array(3.5, dtype=np.float64)
    tensors["bytes"] = rng.integers(0, 256, 12_345, dtype=np.uint8)
    cst.save_file(tensors, tmp_path / "m.coco", key, chunk_size=CHUNK)
    want = {k: v.tobytes() for k, v in cst.load_file(tmp_path / "m.coco", key).items()}
    for size, count in [(10_007, 2), (CHUNK, 2), (333_333, 3), (1 << 22, 2), (4093, 1)]:
        assert staged(tmp_path / "m.coco", key, size, count) == want, (size, count)
    # The deferred copies do catch a loader that does not wait before refilling a buffer.
    assert staged(tmp_path / "m.coco", key, 10_007, 2, honor_wait=False) != want


def test_staged_pipeline_failure_leaves_nothing_in_flight(tmp_path, key):
    tensors = {"w": np.arange(100_000, dtype=np.float32)}
    cst.save_file(tensors, tmp_path / "m.coco", key, chunk_size=CHUNK)
    raw = bytearray((tmp_path / "m.coco").read_bytes())
    raw[len(raw) // 2] ^= 1  # a middle chunk: opening succeeds, the window that reads it fails
    (tmp_path / "bad.coco").write_bytes(raw)
    with pytest.raises(coco.TamperedError):
        staged(tmp_path / "bad.coco", key, 50_000, 2)


def test_torch_staged_loader_on_cpu_when_available(tmp_path, key):
    torch = pytest.importorskip("torch")
    tensors = {"a": np.arange(50_000, dtype=np.float32).reshape(100, 500), "b": np.arange(7, dtype=np.int64)}
    cst.save_file(tensors, tmp_path / "t.coco", key, chunk_size=CHUNK)
    st = cst._TorchStaging(torch, torch.device("cpu"), [torch.empty(100, 500), torch.empty(7, dtype=torch.int64)], 9999, 2)
    reader = coco.open_sealed(tmp_path / "t.coco", key).reader
    base, _, layout = cst._layout(reader)
    cst._staged_load(reader, base, layout, st, 0)
    assert torch.equal(st.flat[0].view(torch.float32).reshape(100, 500), torch.from_numpy(tensors["a"]))


@pytest.fixture(scope="module")
def service(tmp_path_factory, coco_bin):
    """`coco serve` on a loopback port, trusting one simulated TEE root, with one key."""
    import subprocess

    d = tmp_path_factory.mktemp("kr")
    tee = coco.SimulatedTee(b"\xab" * 48)
    (d / "sim-root.pem").write_text(tee.root_pem)
    (d / "refs.toml").write_text(f'id = "py-test"\n[snp]\nproduct = "genoa"\nmeasurement = ["{"ab" * 48}"]\n')
    (d / "policy.toml").write_text("allow_simulated = true\nrequire_revocation_check = false\n")

    def run(*args):
        subprocess.run([coco_bin, *args], cwd=d, check=True, capture_output=True)

    run("corim", "build", "refs.toml", "--out", "refs.cbor")
    run("keygen", "--out", "dek")
    run("keygen", "--vendor", "--out", "ear.pem")
    run("keygen", "--vendor", "--out", "other.pem")
    proc = subprocess.Popen(
        [coco_bin, "serve", "--keys", "store", "--add-key", "model-1=dek",
         "--add-key", "default/model/dek=dek", "--reference", "refs.cbor",
         "--policy", "policy.toml", "--ear-key", "ear.pem", "--sim-root", "sim-root.pem",
         "--listen", "127.0.0.1:0"],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "serving key release on http://" in line, line
        url = line.split("on ", 1)[1].split()[0]
        yield {"url": url, "tee": tee, "dir": d}
    finally:
        proc.kill()
        proc.wait()


def test_fetch_key_releases_to_an_attested_simulated_tee(service, tmp_path):
    d = service["dir"]
    dek = (d / "dek").read_bytes()
    ear_key = (d / "ear.pem.pub").read_bytes()
    for kem in ["p384", "x25519"]:
        r = coco.fetch_key(service["url"], "model-1", kem=kem, tee=service["tee"], ear_keys=[ear_key])
        assert r.key == dek and r.key_id == "model-1"
        # A simulated TEE's memory is not opaque: warning, not affirming, and the EAR says so.
        assert r.ear_claims["ear_status"] == "warning"
        assert "model-1" in repr(r) and dek.hex() not in repr(r) and str(dek) not in repr(r)
    # The released key opens what was sealed with it.
    cst.save_file({"w": np.arange(10, dtype=np.float32)}, tmp_path / "w.coco", dek)
    np.testing.assert_array_equal(cst.load_file(tmp_path / "w.coco", r.key)["w"], np.arange(10, dtype=np.float32))
    # Without ear_keys the EAR is returned unverified.
    assert coco.fetch_key(service["url"], "model-1", tee=service["tee"]).ear_claims is None


def test_fetch_key_over_the_kbs_protocol(service):
    d = service["dir"]
    dek = (d / "dek").read_bytes()
    r = coco.fetch_key(service["url"], "default/model/dek", protocol="kbs", tee=service["tee"])
    assert r.key == dek and r.key_id == "default/model/dek" and r.ear.count(".") == 2
    # A resource the service does not hold, and the sample attester where the reference values
    # have no [sample] section: typed refusals with the KBS problem type as the kind.
    with pytest.raises(coco.ReleaseError) as e:
        coco.fetch_key(service["url"], "default/model/none", protocol="kbs", tee=service["tee"])
    assert e.value.kind == "ResourceNotFound" and e.value.result["error"]["http_status"] == 404
    with pytest.raises(coco.CocoError) as e:
        coco.fetch_key(service["url"], "default/model/dek", protocol="kbs", sample=True)
    assert e.value.kind == "PolicyDeny", e.value.result
    with pytest.raises(ValueError):
        coco.fetch_key(service["url"], "default/model/dek", protocol="kbs", ear_keys=[b"x"])
    with pytest.raises(ValueError):
        coco.fetch_key(service["url"], "model-1", sample=True)


def test_fetch_key_refusals_and_failures(service):
    url, d = service["url"], service["dir"]

    def refused(cls, kind, **kw):
        with pytest.raises(cls) as e:
            coco.fetch_key(kw.pop("url", url), kw.pop("key_id", "model-1"), **kw)
        assert e.value.kind == kind, e.value
        assert isinstance(e.value, coco.CocoError)
        return e.value.result["error"]

    def claims(err):
        return [f["claim"] for f in err["findings"]]

    # A VM that measures something else, a debug VM, a TEE under another root.
    tee = service["tee"]
    err = refused(coco.AppraisalError, "appraisal", tee=tee.with_vm(b"\xcd" * 48))
    assert claims(err) == ["cpu0.measurement"]
    err = refused(coco.AppraisalError, "appraisal", tee=tee.with_vm(b"\xab" * 48, debug=True))
    assert "cpu0.debug" in claims(err)
    err = refused(coco.EvidenceError, "evidence", tee=coco.SimulatedTee(b"\xab" * 48))
    assert (err["index"], err["platform"], err["cause"]) == (0, "sim-snp", "signature")
    # The EAR must verify under the given key: another key refuses it.
    refused(coco.EarError, "ear", tee=tee, ear_keys=[(d / "other.pem.pub").read_bytes()])
    # Not verification failures: an unknown key id, no service, no configfs-tsm here.
    refused(coco.ReleaseError, "key", tee=tee, key_id="model-2")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    refused(coco.ReleaseError, "transport", url=closed, tee=tee)
    refused(coco.ReleaseError, "collect", configfs="/nonexistent/tsm")
    with pytest.raises(ValueError, match="p384 or x25519"):
        coco.fetch_key(url, "model-1", kem="rsa", tee=tee)
    with pytest.raises(ValueError, match="48 bytes"):
        coco.SimulatedTee(b"\x00" * 47)


def test_torch_loader_on_cuda_when_available(tmp_path, key):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(11)
    tensors = {f"t{i}": rng.standard_normal(int(rng.integers(1, 300_000))).astype(np.float32) for i in range(20)}
    tensors["half"] = rng.standard_normal((33, 77)).astype(np.float16)
    tensors["scalar"] = np.array(7, dtype=np.int64)
    cst.save_file(tensors, tmp_path / "g.coco", key, chunk_size=CHUNK)
    for staging in [100_003, 1 << 20, 64 << 20]:
        out = cst.load_file_torch(tmp_path / "g.coco", key, device="cuda", staging_bytes=staging)
        for name, arr in tensors.items():
            assert out[name].device.type == "cuda"
            assert torch.equal(out[name].cpu(), torch.from_numpy(arr)), (name, staging)
    raw = bytearray((tmp_path / "g.coco").read_bytes())
    raw[len(raw) // 2] ^= 1
    (tmp_path / "bad.coco").write_bytes(raw)
    with pytest.raises(coco.TamperedError):
        cst.load_file_torch(tmp_path / "bad.coco", key, device="cuda", staging_bytes=100_003)


def test_torch_every_dtype_unaligned_too_when_available(tmp_path, key):
    torch = pytest.importorskip("torch")
    # save_file sorts names: "bool" (15 bytes) comes first, so the wider types that follow sit
    # at offsets their dtype does not divide; torch needs those copied, not viewed.
    tensors = all_dtype_tensors()
    blob_extra = raw_safetensors([("bf", "BF16", [3], b"\x80\x3f" * 3), ("f8", "F8_E4M3", [5], bytes(range(5)))])
    coco.seal_bytes(blob_extra, tmp_path / "x.coco", key)
    cst.save_file(tensors, tmp_path / "m.coco", key, chunk_size=CHUNK)
    out = cst.load_file_torch(tmp_path / "m.coco", key)
    for name, arr in tensors.items():
        got = out[name]
        assert tuple(got.shape) == arr.shape, name
        assert got.numpy().tobytes() == arr.tobytes(), name
    x = cst.load_file_torch(tmp_path / "x.coco", key)
    assert x["bf"].dtype == torch.bfloat16 and x["bf"].tolist() == [1.0, 1.0, 1.0]
    assert x["f8"].dtype == torch.float8_e4m3fn and x["f8"].view(torch.uint8).tolist() == [0, 1, 2, 3, 4]
    # The staged path (what a GPU uses) on CPU tensors gives the same bytes.
    reader = coco.open_sealed(tmp_path / "m.coco", key).reader
    base, _, ts = cst._layout(reader)
    dt = cst._torch_dtypes(torch)
    dests = [torch.empty(t.shape, dtype=dt[t.kind]) for t in ts]
    cst._staged_load(reader, base, ts, cst._TorchStaging(torch, torch.device("cpu"), dests, 1000, 2), 0)
    for t, d in zip(ts, dests):
        assert d.numpy().tobytes() == tensors[t.name].tobytes(), t.name
