"""The weight iterator every engine integration uses (``coco.safetensors.iter_tensors``),
compared with the ``safetensors`` package itself on the same checkpoint, plain and sealed; the
vLLM and TensorRT-LLM integrations' registration and configuration, without either engine
installed."""

import abc
import importlib.metadata
import json
import os
import sys
import types

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import coco
import coco.loaders
import coco.safetensors as cst

# Every dtype numpy and the safetensors spec share, with odd shapes (and a scalar).
DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32,
          np.float32, np.uint64, np.int64, np.float64]


def checkpoint(tmp_path):
    """A sharded checkpoint (two shards and an index, as Hugging Face writes it), plain and
    sealed, and its key."""
    rng = np.random.default_rng(7)
    plain = tmp_path / "model"
    plain.mkdir()
    shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
    for i, dt in enumerate(DTYPES):
        shape = [(3, 5), (7,), (), (2, 3, 4)][i % 4]
        if dt is np.bool_:
            a = rng.integers(0, 2, size=shape).astype(dt)
        elif np.issubdtype(dt, np.floating):
            a = rng.standard_normal(size=shape).astype(dt)
        else:
            a = rng.integers(0, 100, size=shape).astype(dt)
        name = f"layers.{i}.{np.dtype(dt).name}"
        shards[list(shards)[i % 2]][name] = a
    # The second shard spans several 64 KiB chunks.
    shards["model-00002-of-00002.safetensors"]["lm_head.weight"] = rng.standard_normal(
        size=(300, 256)
    ).astype(np.float32)
    index = {"weight_map": {}}
    for f, tensors in shards.items():
        safetensors.numpy.save_file(tensors, str(plain / f))
        index["weight_map"].update({n: f for n in tensors})
    (plain / "model.safetensors.index.json").write_text(json.dumps(index))
    (plain / "config.json").write_text('{"model_type": "llama"}')
    key = coco.generate_key()
    coco.seal_dir(plain, tmp_path / "model.sealed", key, "test/model@1", chunk_size=64 * 1024)
    return plain, tmp_path / "model.sealed", key


def reference(plain):
    """(name, array) as safetensors reads them: files sorted, safe_open's key order."""
    out = []
    for f in sorted(p for p in os.listdir(plain) if p.endswith(".safetensors")):
        with safetensors.safe_open(str(plain / f), framework="np") as st:
            out.extend((k, st.get_tensor(k)) for k in st.keys())
    return out


def test_iter_tensors_is_safetensors_byte_for_byte(tmp_path):
    plain, sealed, key = checkpoint(tmp_path)
    want = reference(plain)
    got = list(cst.iter_tensors(sealed, key))
    assert [n for n, _ in got] == [n for n, _ in want]
    for (n, a), (_, b) in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape, n
        assert a.tobytes() == b.tobytes(), n
    # One sealed file gives the same as that file through safetensors.
    f = "model-00001-of-00002.safetensors"
    one = list(cst.iter_tensors(sealed / (f + ".coco"), key))
    with safetensors.safe_open(str(plain / f), framework="np") as st:
        assert [n for n, _ in one] == list(st.keys())
        for n, a in one:
            assert a.tobytes() == st.get_tensor(n).tobytes()
    # A subset: only those, and a shard holding none of them is not needed.
    names = {want[0][0], want[-1][0]}
    assert [n for n, _ in cst.iter_tensors(sealed, key, names=names)] == [
        n for n, _ in want if n in names
    ]


def test_a_tampered_shard_stops_before_any_of_its_tensors(tmp_path):
    plain, sealed, key = checkpoint(tmp_path)
    second = sealed / "model-00002-of-00002.safetensors.coco"
    original = second.read_bytes()
    assert len(original) > 4 * 64 * 1024
    with safetensors.safe_open(str(plain / "model-00001-of-00002.safetensors"), framework="np") as st:
        first_names = set(st.keys())
    # A changed byte in a middle chunk: found when the shard is read, before any of its
    # tensors (the first shard's may already have come out).
    data = bytearray(original)
    data[len(data) // 2] ^= 1
    second.write_bytes(bytes(data))
    seen = []
    with pytest.raises(coco.TamperedError):
        for name, _ in cst.iter_tensors(sealed, key):
            seen.append(name)
    assert set(seen) == first_names, seen
    # In the final chunk: found when the directory is opened, before any tensor at all.
    data = bytearray(original)
    data[-20] ^= 1
    second.write_bytes(bytes(data))
    seen = []
    with pytest.raises(coco.TamperedError):
        for name, _ in cst.iter_tensors(sealed, key):
            seen.append(name)
    assert seen == []
    # A single tampered file: nothing of it.
    data = bytearray(original)
    data[len(data) // 2] ^= 1
    second.write_bytes(bytes(data))
    with pytest.raises(coco.TamperedError):
        next(cst.iter_tensors(second, key))
    # And the manifest check: a missing shard fails before any tensor.
    second.unlink()
    with pytest.raises(coco.CocoError):
        next(cst.iter_tensors(sealed, key))


class _Param:
    """Just what ``load_state_dict`` uses of a torch parameter, over a numpy array."""

    def __init__(self, a):
        self.a = a

    @property
    def shape(self):
        return self.a.shape

    def narrow(self, dim, start, size):
        index = [slice(None)] * self.a.ndim
        index[dim] = slice(start, start + size)
        return _Param(self.a[tuple(index)])

    def copy_(self, other):
        np.copyto(self.a, other)


def test_tensor_parallel_ranks_decrypt_only_their_files(tmp_path):
    rng = np.random.default_rng(3)
    plain = tmp_path / "model"
    plain.mkdir()
    ranks = {}
    for rank in range(2):
        for part in range(2):
            t = {f"layers.{part}.w": rng.standard_normal((256, 300)).astype(np.float32),
                 f"layers.{part}.b": rng.standard_normal((7,)).astype(np.float16)}
            safetensors.numpy.save_file(t, str(plain / f"model-rank-{rank}-part-{part}.safetensors"))
            ranks.setdefault(rank, {}).update(t)
    (plain / "config.json").write_text("{}")
    key = coco.generate_key()
    sealed = tmp_path / "model.sealed"
    coco.seal_dir(plain, sealed, key, "test/tp@1", chunk_size=64 * 1024)

    names = [f[: -len(".coco")] for f in os.listdir(sealed) if f.endswith(".coco")]
    assert coco.loaders.rank_shards(names, 1) == [
        "model-rank-1-part-0.safetensors", "model-rank-1-part-1.safetensors"]
    assert coco.loaders.rank_shards(["model-00001-of-00002.safetensors"], 0) is None
    with pytest.raises(ValueError, match="rank 2"):
        coco.loaders.rank_shards(names, 2)
    assert coco.loaders.rank_shards(["w-r3-p0.safetensors"], 3, "w-r{rank}-p{part}.safetensors") == [
        "w-r3-p0.safetensors"]
    with pytest.raises(ValueError):
        coco.loaders.LoaderConfig.parse({"key_file": "k", "pattern": "model-{part}.safetensors"})

    # Rank 0's files tampered in a middle chunk: rank 1 never decrypts them, rank 0 stops.
    victim = sealed / "model-rank-0-part-1.safetensors.coco"
    data = bytearray(victim.read_bytes())
    assert len(data) > 4 * 64 * 1024
    data[len(data) // 2] ^= 1
    victim.write_bytes(bytes(data))
    for rank in (1, 0):
        params = {n: _Param(np.zeros(a.shape, a.dtype)) for n, a in ranks[rank].items()}
        tensors = cst.iter_tensors(sealed, key, shards=coco.loaders.rank_shards(names, rank))
        if rank == 0:
            with pytest.raises(coco.TamperedError):
                coco.loaders.load_state_dict(params, tensors)
            continue
        coco.loaders.load_state_dict(params, tensors)
        for n, a in ranks[1].items():
            assert params[n].a.tobytes() == a.tobytes(), n

    # A padded parameter takes the tensor in its leading part; what does not fit, an unknown
    # name, and a parameter left unfilled are errors naming it.
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = {"w": _Param(np.full((4, 3), -1, np.float32))}
    coco.loaders.load_state_dict(padded, [("w", w)])
    assert (padded["w"].a[:2] == w).all() and (padded["w"].a[2:] == -1).all()
    for params, pairs, name in [
        ({"w": _Param(np.zeros((1, 3), np.float32))}, [("w", w)], "w"),
        ({"w": _Param(np.zeros((2, 3), np.float32))}, [("v", w)], "v"),
        ({"w": _Param(np.zeros((2, 3), np.float32)), "u": _Param(np.zeros(1))}, [("w", w)], "u"),
    ]:
        with pytest.raises(ValueError, match=name):
            coco.loaders.load_state_dict(params, pairs)
    with pytest.raises(ValueError):
        next(cst.iter_tensors(sealed, key, shards=["model-rank-9-part-0.safetensors"]))


def test_the_vllm_plugin_is_registered_and_its_config_validated(tmp_path, monkeypatch):
    eps = importlib.metadata.entry_points(group="vllm.general_plugins")
    ep = [e for e in eps if e.name == "coco"]
    assert ep and ep[0].value == "coco.vllm:register"
    assert callable(ep[0].load())
    parse = coco.loaders.LoaderConfig.parse
    assert parse({"key_file": "/run/coco/dek", "vendor_key": "v.pub", "threads": 4}).threads == 4
    c = parse({"url": "https://kr:8443", "key_id": "default/model/dek", "protocol": "kbs", "ear_keys": ["e.pub"]})
    assert c.protocol == "kbs" and c.ear_keys == ("e.pub",)
    # Paths relative to a model's directory (Triton's config.pbtxt); absolute ones kept.
    r = parse({"url": "https://kr", "key_id": "k", "ca": "ca.pem", "vendor_key": "v.pub",
               "ear_keys": ["e.pub", "/etc/coco/e2.pub"]}).resolve("/models/m")
    assert (r.ca, r.vendor_key, r.ear_keys, r.url) == (
        "/models/m/ca.pem", "/models/m/v.pub", ("/models/m/e.pub", "/etc/coco/e2.pub"), "https://kr")
    assert parse({"key_file": "/run/coco/dek"}).resolve("/models/m").key_file == "/run/coco/dek"
    for bad in [
        {},
        {"key_file": "a", "key_env": "B"},
        {"key_fle": "a"},
        {"url": "https://kr"},
        {"key_file": "a", "protocol": "kbs"},
        {"url": "https://kr", "key_id": "k", "protocol": "ftp"},
        {"key_file": "a", "threads": -1},
        {"key_file": 7},
        {"url": "https://kr", "key_id": "k", "ear_keys": "e.pub"},
    ]:
        with pytest.raises(ValueError):
            parse(bad)
    # The key sources.
    key = coco.generate_key()
    (tmp_path / "dek").write_bytes(key)
    assert parse({"key_file": str(tmp_path / "dek")}).key() == key
    monkeypatch.setenv("COCO_TEST_KEY", key.hex())
    assert parse({"key_env": "COCO_TEST_KEY"}).key() == key
    monkeypatch.setenv("COCO_TEST_KEY", "abcd")
    with pytest.raises(ValueError):
        parse({"key_env": "COCO_TEST_KEY"}).key()
    # Without vLLM installed, registering says what is missing.
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="vLLM"):
            ep[0].load()()


def test_the_tensorrt_llm_loader_needs_tensorrt_llm():
    import coco.tensorrt_llm as ct

    try:
        import tensorrt_llm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="TensorRT-LLM"):
            ct.register()


def stub_modules(monkeypatch, **modules):
    """Installs stand-in modules (dotted name → attributes), parents included, for an engine
    that is not installed; returns the registry the stand-in decorator fills."""
    registry = {}
    for name, attrs in modules.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in sys.modules or not hasattr(sys.modules[parent], "__path__"):
                pkg = types.ModuleType(parent)
                pkg.__path__ = []
                monkeypatch.setitem(sys.modules, parent, pkg)
        m = types.ModuleType(name)
        for k, v in attrs(registry).items():
            setattr(m, k, v)
        monkeypatch.setitem(sys.modules, name, m)
    return registry


def registering(registry, base):
    """A stand-in for the engines' ``register_...(name)`` class decorators; it refuses a class
    not derived from ``base``, as vLLM's does (TensorRT-LLM's does not check)."""
    def register(name):
        def add(cls):
            if not issubclass(cls, base):
                raise ValueError(f"{cls} is not a {base}")
            registry[name] = cls
            return cls
        return add
    return register


def test_the_vllm_loader_registers_and_refuses_a_bad_config_at_construction(monkeypatch):
    class BaseModelLoader(abc.ABC):  # vLLM's, as its base_loader.py declares it
        def __init__(self, load_config):
            self.load_config = load_config

        @abc.abstractmethod
        def download_model(self, model_config): ...

        @abc.abstractmethod
        def load_weights(self, model, model_config): ...

    registry = stub_modules(
        monkeypatch,
        **{"vllm.model_executor.model_loader": lambda r: {
            "BaseModelLoader": BaseModelLoader,
            "register_model_loader": registering(r, BaseModelLoader)}},
    )
    import coco.vllm

    coco.vllm.register()
    loader = registry["coco"]
    assert issubclass(loader, BaseModelLoader)
    ok = loader(types.SimpleNamespace(model_loader_extra_config={"key_env": "K", "threads": 2}))
    assert ok.coco.key_env == "K" and ok.coco.threads == 2
    for bad in [None, {"key_file": "k", "vendor": "v.pub"}, {"url": "https://kr"}]:
        with pytest.raises(ValueError):
            loader(types.SimpleNamespace(model_loader_extra_config=bad))


def test_the_tensorrt_llm_loader_registers_and_refuses_a_bad_config_at_construction(monkeypatch):
    class BaseWeightLoader(abc.ABC):  # TensorRT-LLM's, as base_weight_loader.py declares it
        @abc.abstractmethod
        def load_weights(self, checkpoint_dir, mapping): ...

    registry = stub_modules(
        monkeypatch,
        **{"tensorrt_llm._torch.models.checkpoints.base_weight_loader": lambda r: {
               "BaseWeightLoader": BaseWeightLoader},
           "tensorrt_llm._torch.models.modeling_utils": lambda r: {
               "register_checkpoint_weight_loader": registering(r, BaseWeightLoader)}},
    )
    import coco.tensorrt_llm as ct

    monkeypatch.setattr(ct, "CocoWeightLoader", None)  # register() sets it; restored after
    cls = ct.register()
    assert registry[ct.FORMAT] is cls is ct.CocoWeightLoader and issubclass(cls, BaseWeightLoader)
    assert cls({"key_file": "/run/coco/dek"}).coco.key_file == "/run/coco/dek"
    for bad in [None, {"key_file": "k", "key_env": "K"}, {"key_file": "k", "sample": True}]:
        with pytest.raises(ValueError):
            cls(bad)
