"""ONNX Runtime backend: onnxruntime and numpy only, so inference never imports torch."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from refusal_detector.errors import ModelLoadError
from refusal_detector.labels import ID2LABEL

__all__ = ["OnnxBackend"]

logger = logging.getLogger(__name__)

_TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# The export keeps each residual as Add + LayerNormalization (see
# refusal_detector.training.export.fuse_transformer_graph). ONNX Runtime's load-time
# SkipLayerNormFusion would merge them back into SkipLayerNormalization, whose CPU kernel is the
# slower of the two here: with it disabled, the shipped int8 graph scored batches of short texts
# 9-18% faster in interleaved runs (AMD EPYC, 2 cores; docs/benchmarks.md).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


class OnnxBackend:
    """Run ``model.onnx`` on the CPU execution provider (or the ``providers`` given).

    ``num_threads`` sets ONNX Runtime's intra-op threads (default: one per physical core), e.g. 1
    per process when several processes share a machine, as Ray actors do.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        providers: list[str] | None = None,
        num_threads: int | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # onnxruntime warnings go to stderr unasked otherwise
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        try:
            self.session = ort.InferenceSession(
                str(model_path),
                sess_options=options,
                providers=providers or ["CPUExecutionProvider"],
                disabled_optimizers=list(DISABLED_OPTIMIZERS),
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelLoadError(f"{model_path}: not a loadable ONNX model ({exc})") from exc
        self.model_path = model_path
        self.input_names: tuple[str, ...] = tuple(i.name for i in self.session.get_inputs())
        unknown = [name for name in self.input_names if name not in _TOKEN_INPUTS]
        if "input_ids" not in self.input_names or unknown:
            raise ModelLoadError(
                f"{model_path}: inputs are {list(self.input_names)}; a sequence classifier takes "
                f"input_ids and optionally {', '.join(_TOKEN_INPUTS[1:])}"
            )
        outputs = {o.name: o for o in self.session.get_outputs()}
        self._output = "logits" if "logits" in outputs else next(iter(outputs))
        shape = outputs[self._output].shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != len(ID2LABEL)):
            raise ModelLoadError(
                f"{model_path}: output {self._output!r} has shape {shape}; expected "
                f"(batch, {len(ID2LABEL)}) logits for {', '.join(ID2LABEL.values())}"
            )
        logger.debug("onnx backend: inputs %s, output %s", self.input_names, self._output)

    def logits(self, batch: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        feed = {
            name: np.ascontiguousarray(batch[name], dtype=np.int64) for name in self.input_names
        }
        try:
            (out,) = self.session.run([self._output], feed)
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelLoadError(
                f"{self.model_path}: inference failed ({exc}); the model file and the tokenizer "
                "or config beside it may not belong together"
            ) from exc
        return np.asarray(out, dtype=np.float32)
