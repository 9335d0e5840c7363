"""PyTorch backend: transformers' AutoModelForSequenceClassification from safetensors weights."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModelForSequenceClassification

from refusal_detector.errors import ModelLoadError

__all__ = ["MODEL_INPUTS", "TorchBackend", "forward_input_names"]

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def forward_input_names(model: torch.nn.Module) -> tuple[str, ...]:
    """The token inputs (of MODEL_INPUTS) that ``model.forward`` accepts, in MODEL_INPUTS order."""
    params = inspect.signature(model.forward).parameters
    return tuple(name for name in MODEL_INPUTS if name in params)


class TorchBackend:
    """Run a transformers sequence classifier in eval mode under ``torch.inference_mode``."""

    def __init__(self, model_dir: Path, *, device: str = "cpu") -> None:
        try:
            # use_safetensors: never unpickle; trust_remote_code: never run code from the directory.
            model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, use_safetensors=True, trust_remote_code=False, local_files_only=True
            )
        except Exception as exc:  # transformers and safetensors raise many unrelated types here
            raise ModelLoadError(f"{model_dir}: cannot load the torch model ({exc})") from exc
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.input_names: tuple[str, ...] = forward_input_names(self.model)

    def logits(self, batch: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        inputs = {
            name: torch.from_numpy(np.ascontiguousarray(batch[name], dtype=np.int64)).to(
                self.device
            )
            for name in self.input_names
        }
        with torch.inference_mode():
            out = self.model(**inputs).logits
        return out.float().cpu().numpy()
