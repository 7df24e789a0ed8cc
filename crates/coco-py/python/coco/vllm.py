"""A vLLM model loader for sealed models: ``--load-format coco``.

Installed with the wheel as the ``vllm.general_plugins`` entry point ``coco``, which vLLM
calls at start-up (``register``). Then::

    vllm serve ./model.sealed --load-format coco \\
        --model-loader-extra-config '{"key_file": "/run/coco/dek", "vendor_key": "vendor.pem.pub"}'

The loader checks the sealed directory's manifest (and its signature with ``vendor_key``), gets
the data key (``coco.loaders.LoaderConfig``: a file, an environment variable, or released to
this attested machine by a coco service or a KBS), and hands vLLM the weights shard by shard
(``coco.safetensors.iter_tensors``), each shard authenticated before any of its tensors is
used. vLLM is imported only here, when it calls ``register``.
"""

from __future__ import annotations

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
            from .safetensors import iter_tensors

            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
            key = self.coco.key()
            model.load_weights(
                iter_tensors(
                    model_config.model,
                    key,
                    device=device,
                    vendor_key=self.coco.vendor_key,
                    threads=self.coco.threads,
                )
            )
