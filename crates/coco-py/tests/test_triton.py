"""The Triton examples (examples/triton): the Python-backend model.py run against a stand-in for
Triton's ``triton_python_backend_utils`` on a sealed, vendor-signed model directory laid out as a
Triton model repository, and the vLLM-backend model.json's settings validated. Triton itself is
not installed."""

import importlib.util
import json
import pathlib
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import safetensors.numpy

import coco
import coco.loaders

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "triton"


def pbtxt_parameters(text):
    """The string parameters of a model's config.pbtxt (``parameters: { key: ... value: {
    string_value: ... } }``), as Triton hands them to the model in ``model_config``."""
    found = re.findall(
        r'parameters:\s*{\s*key:\s*"([^"]+)"\s*value:\s*{\s*string_value:\s*"((?:[^"\\]|\\.)*)"\s*}\s*}',
        text,
    )
    return {k: {"string_value": json.loads(f'"{v}"')} for k, v in found}


def pb_utils():
    """What model.py uses of Triton's ``triton_python_backend_utils``."""
    m = types.ModuleType("triton_python_backend_utils")

    class Tensor:
        def __init__(self, name, array):
            self._name, self._array = name, array

        def name(self):
            return self._name

        def as_numpy(self):
            return self._array

    class TritonError:
        def __init__(self, msg):
            self._msg = msg

        def message(self):
            return self._msg

    class InferenceResponse:
        def __init__(self, output_tensors, error=None):
            self.output_tensors, self.error = output_tensors, error

    class TritonModelException(Exception):
        pass

    class Request:
        def __init__(self, **inputs):
            self.inputs = [Tensor(k, v) for k, v in inputs.items()]

    def get_input_tensor_by_name(request, name):
        return next((t for t in request.inputs if t.name() == name), None)

    m.Tensor, m.TritonError, m.InferenceResponse = Tensor, TritonError, InferenceResponse
    m.TritonModelException, m.get_input_tensor_by_name = TritonModelException, get_input_tensor_by_name
    m.Request = Request  # the test's own requests
    return m


@pytest.fixture
def triton(monkeypatch):
    """model.py of the Python-backend example, imported as Triton imports it."""
    utils = pb_utils()
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)
    spec = importlib.util.spec_from_file_location(
        "coco_triton_classifier", EXAMPLES / "classifier" / "1" / "model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, utils


def test_the_example_configs_are_valid():
    params = pbtxt_parameters((EXAMPLES / "classifier" / "config.pbtxt").read_text())
    assert set(params) == {"coco", "sealed"}
    settings = coco.loaders.LoaderConfig.parse(json.loads(params["coco"]["string_value"]))
    assert settings.key_file == "/run/coco/dek" and settings.vendor_key == "vendor.pem.pub"
    assert 'backend: "vllm"' in (EXAMPLES / "llm" / "config.pbtxt").read_text()
    engine = json.loads((EXAMPLES / "llm" / "1" / "model.json").read_text())
    assert engine["load_format"] == "coco"
    coco.loaders.LoaderConfig.parse(engine["model_loader_extra_config"])


@pytest.fixture
def classifier(tmp_path, coco_bin):
    """The example's model repository entry, sealed and signed by a vendor: (directory, plain
    weight, plain bias, ``args(kind, **coco_settings)`` giving ``initialize``'s argument)."""
    rng = np.random.default_rng(11)
    weight = rng.standard_normal((16, 2048)).astype(np.float32)  # two 64 KiB chunks
    bias = rng.standard_normal((16,)).astype(np.float32)
    plain = tmp_path / "plain"
    plain.mkdir()
    safetensors.numpy.save_file(
        {"classifier.weight": weight, "classifier.bias": bias}, str(plain / "model.safetensors")
    )
    (plain / "config.json").write_text("{}")
    # Key, vendor key and sealed model beside the model's config.
    repo = tmp_path / "models" / "classifier"
    (repo / "1").mkdir(parents=True)

    def run(*args):
        subprocess.run([coco_bin, *args], cwd=repo, check=True, capture_output=True)

    run("keygen", "--out", "dek")
    run("keygen", "--vendor", "--out", "vendor.pem")
    run("keygen", "--vendor", "--out", "other.pem")
    run("seal", "--key", "dek", "--model-id", "acme/classifier@1", "--chunk-size", "64KiB",
        "--sign-key", "vendor.pem", str(plain), "1/model.sealed")

    def args(kind="CPU", **settings):
        params = {"coco": {"string_value": json.dumps(settings)},
                  "sealed": {"string_value": "model.sealed"}}
        return {"model_config": json.dumps({"name": "classifier", "parameters": params}),
                "model_instance_kind": kind, "model_instance_device_id": "0",
                "model_repository": str(repo), "model_version": "1", "model_name": "classifier"}

    return repo, weight, bias, args


def serve(model, utils, init_args, x):
    """``initialize`` then one ``execute`` of a good and a badly shaped request."""
    served = model.TritonPythonModel()
    served.initialize(init_args)
    good, bad = served.execute([utils.Request(INPUT=x), utils.Request(INPUT=x[:, :5])])
    assert bad.output_tensors == [] and "INPUT" in bad.error.message()
    assert good.error is None
    (logits,) = good.output_tensors
    assert logits.name() == "LOGITS"
    return logits.as_numpy()


def test_the_python_backend_example_serves_a_sealed_signed_model(classifier, triton):
    model, utils = triton
    repo, weight, bias, args = classifier
    x = np.random.default_rng(12).standard_normal((3, 2048)).astype(np.float32)
    # Paths relative to the model's directory, whatever the server's working directory.
    logits = serve(model, utils, args(key_file="dek", vendor_key="vendor.pem.pub"), x)
    np.testing.assert_allclose(logits, x @ weight.T + bias, rtol=1e-5, atol=1e-4)

    # What keeps the model from being served, each before any request.
    with pytest.raises(ValueError, match="key_fle"):  # a typo, before anything is read
        model.TritonPythonModel().initialize(args(key_fle="dek"))
    with pytest.raises(coco.VerificationError):  # not signed by this vendor
        model.TritonPythonModel().initialize(args(key_file="dek", vendor_key="other.pem.pub"))
    (repo / "wrong").write_bytes(coco.generate_key())
    with pytest.raises(coco.WrongKeyError):
        model.TritonPythonModel().initialize(args(key_file="wrong"))
    shard = repo / "1" / "model.sealed" / "model.safetensors.coco"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(coco.TamperedError):
        model.TritonPythonModel().initialize(args(key_file="dek", vendor_key="vendor.pem.pub"))


def test_the_python_backend_example_on_a_gpu_instance_with_torch(classifier, triton):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model, utils = triton
    _, weight, bias, args = classifier
    x = np.random.default_rng(13).standard_normal((3, 2048)).astype(np.float32)
    logits = serve(model, utils, args("GPU", key_file="dek", vendor_key="vendor.pem.pub"), x)
    np.testing.assert_allclose(logits, x @ weight.T + bias, rtol=1e-3, atol=1e-2)
