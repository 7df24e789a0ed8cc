"""A TensorRT-LLM (PyTorch backend) checkpoint weight loader for sealed models.

``register()`` registers the weight loader ``COCO`` (call it before building the LLM); then::

    from tensorrt_llm import LLM
    from tensorrt_llm._torch.models.checkpoints.hf.checkpoint_loader import HfCheckpointLoader
    import coco.tensorrt_llm as ct

    ct.register()
    loader = HfCheckpointLoader(weight_loader=ct.CocoWeightLoader({"key_file": "/run/coco/dek"}))
    llm = LLM(model="./model.sealed", checkpoint_loader=loader)

The configuration is the one of ``coco.loaders.LoaderConfig``. TensorRT-LLM is imported only
by ``register`` and by the loader class it defines.
"""

from __future__ import annotations

from typing import Any

from .loaders import LoaderConfig

__all__ = ["register", "CocoWeightLoader", "FORMAT"]

FORMAT = "COCO"

CocoWeightLoader: Any = None


def register() -> Any:
    """Defines and registers ``CocoWeightLoader`` with TensorRT-LLM; returns the class."""
    global CocoWeightLoader
    try:
        from tensorrt_llm._torch.models.checkpoints.base_weight_loader import BaseWeightLoader
        from tensorrt_llm._torch.models.modeling_utils import register_checkpoint_weight_loader
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("coco.tensorrt_llm.register needs TensorRT-LLM (PyTorch backend)") from e

    @register_checkpoint_weight_loader(FORMAT)
    class _CocoWeightLoader(BaseWeightLoader):  # type: ignore[misc, valid-type]
        """Loads every tensor of a sealed checkpoint directory (manifest checked, each shard
        authenticated before its tensors are used)."""

        def __init__(self, config: dict[str, Any] | None = None) -> None:
            self.coco = LoaderConfig.parse(config)

        def load_weights(self, checkpoint_dir: str, mapping: Any = None) -> dict[str, Any]:
            from .safetensors import iter_tensors

            key = self.coco.key()
            return dict(
                iter_tensors(
                    checkpoint_dir,
                    key,
                    device="cpu",
                    vendor_key=self.coco.vendor_key,
                    threads=self.coco.threads,
                )
            )

    CocoWeightLoader = _CocoWeightLoader
    return _CocoWeightLoader
