"""Export a model directory to ONNX (``onnx/model.onnx``) and check it against torch.

The export uses torch's TorchScript-based exporter (``dynamo=False``) with explicit opset and
dynamic batch/sequence axes: in torch 2.13 it is still available (deprecated), needs no onnxscript,
takes well under a second for small models and gives a graph that onnxruntime's transformer
optimisations and int8 quantisation understand. The file is written beside its target, checked
against torch on a mixed-length batch, and only then renamed into place, so a failed export never
replaces a good one.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from refusal_detector.errors import ExportValidationError
from refusal_detector.io.files import atomic_copy, atomic_path
from refusal_detector.model_dir import (
    CONFIG_FILE,
    ONNX_FILE,
    ONNX_SUBDIR,
    TOKENIZER_FILES,
    check_model_dir,
    model_max_length,
    read_tokenizer_config,
)

__all__ = ["PARITY_TEXTS", "check_onnx_parity", "export_onnx", "parity_batch"]

logger = logging.getLogger(__name__)

# Mixed lengths, including an empty text and one longer than any model window, so that padding,
# attention masks and the last position embeddings are all exercised.
PARITY_TEXTS = (
    "Sorry, but I can't assist with that.",
    "",
    "Sure! Here is a simple recipe for pancakes. Mix flour, eggs and milk, then fry. " * 3,
    "I cannot help with that request because it could cause harm. " * 200,
)


def export_onnx(model_dir: Path, *, opset: int = 17, atol: float = 1e-4) -> Path:
    """Export ``model_dir``'s torch model to ``model_dir/onnx/model.onnx`` and return that path.

    Input names follow the tokenizer's ``model_input_names`` that the model's forward accepts
    (``input_ids``, ``attention_mask``, ``token_type_ids`` for BERT); the output is ``logits``;
    batch and sequence axes are dynamic. ``config.json`` and the tokenizer files are copied into
    ``onnx/``.

    Raises:
        ModelLoadError: ``model_dir`` is not a valid torch model directory.
        ExportValidationError: ONNX Runtime and torch logits differ by more than ``atol``.
    """
    model_dir = Path(model_dir)
    config = check_model_dir(model_dir, backend="torch")
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, trust_remote_code=False, local_files_only=True
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    # Graph inputs follow forward()'s parameter order, whatever order the tokenizer lists them in.
    wanted = set(tokenizer.model_input_names)
    input_names = [p for p in inspect.signature(model.forward).parameters if p in wanted]
    max_length = model_max_length(config, read_tokenizer_config(model_dir))
    batch = parity_batch(tokenizer, input_names, max_length=max_length)

    target = model_dir / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        _torch_export(model, batch, input_names, tmp, opset=opset)
        diff = check_onnx_parity(model, tmp, batch, atol=atol)
    for name in (CONFIG_FILE, *TOKENIZER_FILES):
        if (model_dir / name).is_file():
            atomic_copy(model_dir / name, model_dir / ONNX_SUBDIR / name)
    logger.info("exported %s (opset %d, max |onnx - torch| = %.2e)", target, opset, diff)
    return target


def parity_batch(
    tokenizer: PreTrainedTokenizerBase, input_names: list[str], *, max_length: int
) -> dict[str, npt.NDArray[np.int64]]:
    """Tokenise PARITY_TEXTS into a padded int64 batch holding ``input_names``."""
    encoded = tokenizer(
        list(PARITY_TEXTS),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="np",
    )
    batch = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}
    if "token_type_ids" in input_names and "token_type_ids" not in encoded:
        batch["token_type_ids"] = np.zeros_like(batch["input_ids"])
    return batch


def _torch_export(
    model: PreTrainedModel,
    batch: Mapping[str, npt.NDArray[np.int64]],
    input_names: list[str],
    path: Path,
    *,
    opset: int,
) -> None:
    kwargs = {name: torch.from_numpy(batch[name]) for name in input_names}
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes["logits"] = {0: "batch"}
    with warnings.catch_warnings():
        # The TorchScript exporter warns that it is deprecated and that traced constants are
        # constants; neither applies to a fixed-architecture classifier with dynamic axes.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            (),
            str(path),
            kwargs=kwargs,
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def check_onnx_parity(
    model: PreTrainedModel,
    onnx_path: Path,
    batch: Mapping[str, npt.NDArray[np.int64]],
    *,
    atol: float = 1e-4,
) -> float:
    """Max absolute logit difference between ONNX Runtime and torch on ``batch``.

    Raises:
        ExportValidationError: the difference exceeds ``atol``.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {i.name: batch[i.name] for i in session.get_inputs()}
    (onnx_logits,) = session.run(["logits"], feed)
    with torch.inference_mode():
        torch_logits = model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    diff = float(np.max(np.abs(np.asarray(onnx_logits) - torch_logits)))
    if not diff <= atol:  # also catches NaN
        raise ExportValidationError(
            f"{onnx_path}: ONNX Runtime and torch logits differ by up to {diff:.3g}, "
            f"more than the tolerance atol={atol:g}"
        )
    return diff
