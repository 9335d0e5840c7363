"""ONNX Runtime backend: onnxruntime and numpy only, so inference never imports torch."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from refusal_detector.errors import ModelLoadError

__all__ = ["OnnxBackend"]

logger = logging.getLogger(__name__)


class OnnxBackend:
    """Run ``model.onnx`` on the CPU execution provider (or the ``providers`` given)."""

    def __init__(self, model_path: Path, *, providers: list[str] | None = None) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # onnxruntime warnings go to stderr unasked otherwise
        try:
            self.session = ort.InferenceSession(
                str(model_path),
                sess_options=options,
                providers=providers or ["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelLoadError(f"{model_path}: not a loadable ONNX model ({exc})") from exc
        self.input_names: tuple[str, ...] = tuple(i.name for i in self.session.get_inputs())
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "logits" if "logits" in outputs else outputs[0]
        logger.debug("onnx backend: inputs %s, output %s", self.input_names, self._output)

    def logits(self, batch: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        feed = {
            name: np.ascontiguousarray(batch[name], dtype=np.int64) for name in self.input_names
        }
        (out,) = self.session.run([self._output], feed)
        return np.asarray(out, dtype=np.float32)
