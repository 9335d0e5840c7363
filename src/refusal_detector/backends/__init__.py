"""Inference backends: a thin map from token-id batches to logits.

Tokenisation, batching, softmax and labels live in :class:`~refusal_detector.RefusalDetector`, so
both backends see identical token ids. :func:`load_backend` imports backends lazily: the ONNX
backend needs onnxruntime only and never imports torch or transformers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from refusal_detector.errors import BackendUnavailableError, ConfigError
from refusal_detector.model_dir import ONNX_FILE

if TYPE_CHECKING:  # numpy only annotates here: the CLI's parser imports BACKEND_KINDS
    import numpy as np
    import numpy.typing as npt

__all__ = ["BACKEND_KINDS", "Backend", "load_backend", "resolve_backend_kind"]

BACKEND_KINDS = ("auto", "onnx", "torch")


class Backend(Protocol):
    """Map a padded batch of token ids to logits; everything else lives in RefusalDetector."""

    input_names: tuple[str, ...]
    """Model inputs the backend consumes, e.g. ("input_ids", "attention_mask", "token_type_ids")."""

    def logits(self, batch: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        """Return (n, num_labels) float32 logits for a batch holding at least ``input_names``."""
        ...


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def resolve_backend_kind(kind: str, model_dir: Path) -> str:
    """Turn "auto" into "onnx" (``onnx/model.onnx`` exists, onnxruntime installed) or else "torch".

    An explicit "onnx" or "torch" is returned unchanged: a requested backend never falls back.

    Raises:
        ConfigError: ``kind`` is not one of BACKEND_KINDS.
    """
    if kind not in BACKEND_KINDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKEND_KINDS)}; got {kind!r}")
    if kind != "auto":
        return kind
    if (model_dir / ONNX_FILE).is_file() and _importable("onnxruntime"):
        return "onnx"
    return "torch"


def load_backend(kind: str, model_dir: Path, *, num_threads: int | None = None) -> Backend:
    """Load the "onnx" or "torch" backend for ``model_dir`` (already validated by the caller).

    ``num_threads`` (ONNX Runtime intra-op threads) applies to the onnx backend only.

    Raises:
        BackendUnavailableError: the backend's dependencies are not installed.
        ModelLoadError: the model files cannot be loaded.
    """
    if kind == "onnx":
        if not _importable("onnxruntime"):
            raise BackendUnavailableError(
                "the onnx backend needs onnxruntime: pip install onnxruntime"
            )
        from refusal_detector.backends.onnx import OnnxBackend

        return OnnxBackend(model_dir / ONNX_FILE, num_threads=num_threads)
    if kind == "torch":
        if num_threads is not None:
            raise ConfigError(
                "num_threads applies to the onnx backend only; for torch call torch.set_num_threads"
            )
        missing = [m for m in ("torch", "transformers", "safetensors") if not _importable(m)]
        if missing:
            raise BackendUnavailableError(
                f"the torch backend needs {', '.join(missing)}: "
                'pip install "refusal-detector[torch]"'
            )
        from refusal_detector.backends.torch import TorchBackend

        return TorchBackend(model_dir)
    raise ConfigError(f"backend must be 'onnx' or 'torch'; got {kind!r}")
