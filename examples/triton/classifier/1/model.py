"""A Triton Python-backend model whose weights are a sealed coco model directory.

The layout (see ../config.pbtxt)::

    classifier/
      config.pbtxt          # parameters "coco" (where the key comes from) and "sealed"
      vendor.pem.pub        # the vendor's manifest-signing key (if "vendor_key" names it)
      1/model.py            # this file
      1/model.sealed/       # `coco seal --sign-key vendor.pem model model.sealed`

``initialize`` validates the ``coco`` parameter (``coco.loaders.LoaderConfig``; relative paths
from the model's directory), gets the data key (a file, an environment variable, or released to
this attested machine), checks the manifest, and loads every tensor onto this instance's device
(``coco.safetensors.iter_tensors``; each shard authenticated before any of its tensors is used).
A wrong key, a tampered shard or a manifest not signed by the vendor fails ``initialize``, and
Triton does not serve the model.

The network here is a linear classifier (``LOGITS = INPUT @ classifier.weight.T +
classifier.bias``): replace ``_forward`` and the tensor names with your model's.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

import coco.safetensors
from coco.loaders import LoaderConfig


class TritonPythonModel:
    """The model: sealed weights loaded once per instance, served batch by batch."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        if "coco" not in params:
            raise pb_utils.TritonModelException('config.pbtxt: no "coco" parameter')
        model_dir = args["model_repository"]
        # Validated before anything is read: a typo fails here, naming the setting.
        settings = LoaderConfig.parse(json.loads(params["coco"])).resolve(model_dir)
        sealed = os.path.join(model_dir, args["model_version"], params.get("sealed", "model.sealed"))
        if args.get("model_instance_kind") == "GPU":
            self.device = f"cuda:{args['model_instance_device_id']}"
        else:
            self.device = None  # numpy arrays on the CPU
        weights = dict(
            coco.safetensors.iter_tensors(
                sealed,
                settings.key(),
                device=self.device,
                vendor_key=settings.vendor_key,
                threads=settings.threads,
            )
        )
        self.weight = weights["classifier.weight"]
        self.bias = weights["classifier.bias"]

    def _forward(self, x):
        """LOGITS for one request's INPUT (numpy, float32, [batch, features])."""
        if self.device is None:
            return x @ self.weight.T + self.bias
        import torch

        with torch.inference_mode():
            y = torch.from_numpy(x).to(self.device) @ self.weight.T + self.bias
        return y.cpu().numpy()

    def execute(self, requests):
        responses = []
        features = self.weight.shape[1]
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            if x.ndim != 2 or x.shape[1] != features:
                error = pb_utils.TritonError(
                    f"INPUT: shape {list(x.shape)}, expected [batch, {features}]"
                )
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            logits = np.ascontiguousarray(self._forward(x), dtype=np.float32)
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("LOGITS", logits)])
            )
        return responses

    def finalize(self):
        self.weight = self.bias = None
