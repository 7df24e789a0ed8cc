"""A vLLM model loader for sealed models: ``--load-format coco``.

Installed with the wheel as the ``vllm.general_plugins`` entry point ``coco``, which vLLM
calls at start-up (``register``). Then::

    vllm serve ./model.sealed --load-format coco \\
        --model-loader-extra-config '{"key_file": "/run/coco/dek", "vendor_key": "vendor.pem.pub"}'

The loader checks the sealed directory's manifest (and its signature with ``vendor_key``), gets
the data key (``coco.loaders.LoaderConfig``: a file, an environment variable, or released to
this attested machine by a coco service or a KBS), and hands vLLM the weights shard by shard
(``coco.safetensors.iter_tensors``), each shard authenticated before any of its tensors is
used. A checkpoint saved per tensor-parallel rank (vLLM's ``save_sharded_state``, file names
``model-rank-{rank}-part-{part}.safetensors`` or the ``pattern`` setting) is recognised by its
file names: each rank then decrypts only its own files and copies them into its parameters, as
vLLM's ``sharded_state`` loader does. vLLM is imported only here, when it calls ``register``.
"""

from __future__ import annotations

import os
from typing import Any

from .loaders import LoaderConfig

__all__ = ["register", "LOAD_FORMAT"]

LOAD_FORMAT = "coco"


def register() -> None:
    """Registers the ``coco`` load format with vLLM (its plugin entry point)."""
    try:
        from vllm.model_executor.model_loader import BaseModelLoader, register_model_loader
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "coco.vllm.register needs vLLM with register_model_loader (0.11 or later)"
        ) from e

    @register_model_loader(LOAD_FORMAT)
    class CocoModelLoader(BaseModelLoader):  # type: ignore[misc, valid-type]
        """Loads a sealed model directory (see the module documentation)."""

        def __init__(self, load_config: Any) -> None:
            super().__init__(load_config)
            # Validated before anything is loaded: a typo fails at start-up.
            self.coco = LoaderConfig.parse(getattr(load_config, "model_loader_extra_config", None))

        def download_model(self, model_config: Any) -> None:
            """A sealed model is a local directory: nothing to download."""

        def load_weights(self, model: Any, model_config: Any) -> None:
            from vllm.distributed import get_tensor_model_parallel_rank
            from vllm.model_executor.model_loader.sharded_state_loader import ShardedStateLoader

            from .loaders import load_state_dict, rank_shards
            from .safetensors import iter_tensors

            import torch

            path = getattr(model_config, "model_weights", None) or model_config.model
            # The sealed files' names select this rank's files; the manifest (checked by
            # iter_tensors) decides what the directory must hold.
            names = [f[: -len(".coco")] for f in os.listdir(path) if f.endswith(".coco")]
            mine = rank_shards(names, get_tensor_model_parallel_rank(), self.coco.pattern)
            device = "cuda" if torch.cuda.is_available() else "cpu"
            tensors = iter_tensors(
                path,
                self.coco.key(),
                device=device,
                vendor_key=self.coco.vendor_key,
                threads=self.coco.threads,
                shards=mine,
            )
            if mine is None:
                model.load_weights(tensors)
            else:
                # Without the parameters that share another's storage (tied weights), which
                # vLLM's save_sharded_state leaves out.
                params = ShardedStateLoader._filter_subtensors(model.state_dict())
                load_state_dict(params, tensors)
