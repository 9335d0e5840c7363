"""Fold a temperature into the classifier head of every weight file in a model directory.

Temperature scaling divides the logits by T. The logits are the output of the classifier's final
linear layer, ``W x + b``, so dividing ``W`` and ``b`` by T gives exactly ``(W x + b) / T``: the
ranking is unchanged and every consumer of the directory reads calibrated scores with no run-time
step (the torch and ONNX backends, ``transformers.pipeline(dir)``, optimum, LLM Guard).

- ``model.safetensors``: the head is the one ``<prefix>.weight`` (num_labels x hidden) with a
  ``<prefix>.bias`` (num_labels), e.g. ``classifier`` (BERT, DistilBERT) or
  ``classifier.out_proj`` (RoBERTa); the dtype is kept (float16 stays float16).
- each ``onnx/*.onnx``: the nodes that make ``logits`` are followed back to the head's
  initializers. fp32 exports, the fused graph that ``export`` writes (``Attention``,
  ``BiasGelu``, ...) as well as an unfused one, end in ``Gemm(x, W, b)`` (or
  ``MatMul`` + ``Add``); int8 dynamic
  quantisation leaves ``Add(Mul(Cast(MatMulInteger(...)), Mul(x_scale, W_scale)), b)``, where the
  int8 weights stay as they are and the float weight scale and the bias are divided by T.

Every folded file is checked before it replaces the original: its logits on a mixed-length batch
must equal the original's divided by T (within ``atol``; float16 weights round, so a looser bound
applies to them). ``calibration.json`` records T last; a directory that already has a temperature
is refused, so T is never applied twice.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.calibration import read_calibration, write_calibration
from refusal_detector.errors import ConfigError, ExportValidationError, ModelLoadError
from refusal_detector.model_dir import (
    CALIBRATION_FILE,
    ONNX_SUBDIR,
    SAFETENSORS_FILE,
    check_model_dir,
)

__all__ = ["FoldResult", "fold_onnx_head", "fold_temperature", "safetensors_head"]

logger = logging.getLogger(__name__)

_LOW_PRECISION_ATOL = 5e-3
"""Relative bound for float16/bfloat16 weights, whose W / T is rounded again (2^-11 per weight)."""


@dataclass(frozen=True)
class FoldResult:
    """What :func:`fold_temperature` changed.

    Attributes:
        temperature: the folded T.
        files: weight files rewritten (relative to the model directory) with the max
            |folded logits - original logits / T| each showed on the check batch.
        dropped_threshold: a threshold chosen on the unfolded scores, removed (None if none).
    """

    temperature: float
    files: dict[str, float]
    dropped_threshold: float | None


def fold_temperature(
    model_dir: Path,
    temperature: float,
    *,
    info: Mapping[str, Any] | None = None,
    atol: float = 1e-4,
) -> FoldResult:
    """Divide the classifier head of every weight file in ``model_dir`` by ``temperature``.

    ``info`` (how T was fitted) is stored with T in ``calibration.json``. A threshold already in
    that file was chosen on unfolded scores and is removed (and reported).

    Raises:
        ConfigError: ``temperature`` is not a positive finite number, or the directory already has
            a folded temperature (folding twice would apply it twice).
        ModelLoadError: no weight file, or a head that cannot be found.
        ExportValidationError: a folded file's logits are not the original's divided by T.
    """
    model_dir = Path(model_dir)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature must be a positive finite number, got {temperature}")
    current = read_calibration(model_dir)
    if current.temperature is not None:
        raise ConfigError(
            f"{model_dir / CALIBRATION_FILE}: a temperature (T = {current.temperature:.4g}) is "
            "already folded into this model's weights; folding again would apply it twice. "
            "To choose a threshold only, run refusal-detector calibrate with --no-temperature"
        )
    weights = model_dir / SAFETENSORS_FILE
    onnx_files = sorted((model_dir / ONNX_SUBDIR).glob("*.onnx"))
    if not weights.is_file() and not onnx_files:
        raise ModelLoadError(f"{model_dir}: no {SAFETENSORS_FILE} and no {ONNX_SUBDIR}/*.onnx")
    # config.json and the weights the directory is loaded from must be sound before any is changed.
    check_model_dir(model_dir, backend="torch" if weights.is_file() else "onnx")
    staged: list[tuple[Path, Path]] = []
    diffs: dict[str, float] = {}
    try:
        if weights.is_file():
            tmp = _temp_beside(weights)
            staged.append((tmp, weights))
            diffs[SAFETENSORS_FILE] = _fold_safetensors(model_dir, tmp, temperature, atol=atol)
        for path in onnx_files:
            tmp = _temp_beside(path)
            staged.append((tmp, path))
            diffs[str(path.relative_to(model_dir))] = _fold_onnx_file(
                model_dir, path, tmp, temperature, atol=atol
            )
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    record = {**dict(info or {}), "files": sorted(diffs)}
    write_calibration(
        model_dir,
        replace(
            current,
            temperature=float(temperature),
            temperature_info=record,
            threshold=None,
            threshold_info={},
        ),
    )
    if current.threshold is not None:
        logger.warning(
            "removed the threshold %.4g from %s: it was chosen on the scores before folding",
            current.threshold,
            CALIBRATION_FILE,
        )
    logger.info("folded T = %.4f into %s", temperature, ", ".join(sorted(diffs)))
    return FoldResult(float(temperature), diffs, current.threshold)


def _temp_beside(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".fold.tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def safetensors_head(tensors: Mapping[str, Any], num_labels: int) -> str:
    """The prefix of the classifier head's final linear layer among ``tensors`` (name -> tensor).

    Raises:
        ModelLoadError: not exactly one ``<prefix>.weight`` (num_labels x d) with a matching
            ``<prefix>.bias`` (num_labels).
    """
    found = [
        name.removesuffix(".weight")
        for name, t in tensors.items()
        if name.endswith(".weight")
        and tuple(t.shape)[:1] == (num_labels,)
        and len(t.shape) == 2
        and name.removesuffix(".weight") + ".bias" in tensors
        and tuple(tensors[name.removesuffix(".weight") + ".bias"].shape) == (num_labels,)
    ]
    if len(found) != 1:
        raise ModelLoadError(
            f"{SAFETENSORS_FILE}: expected one classifier head (a {num_labels} x d weight with a "
            f"{num_labels}-bias), found {found or 'none'}; cannot fold a temperature"
        )
    return found[0]


def _fold_safetensors(model_dir: Path, target: Path, temperature: float, *, atol: float) -> float:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForSequenceClassification

    source = model_dir / SAFETENSORS_FILE
    with safe_open(str(source), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(source))
    prefix = safetensors_head(tensors, num_labels=2)
    low_precision = False
    for name in (f"{prefix}.weight", f"{prefix}.bias"):
        original = tensors[name]
        low_precision |= original.dtype in (torch.float16, torch.bfloat16)
        tensors[name] = (original.to(torch.float32) / temperature).to(original.dtype)
    save_file(tensors, str(target), metadata=metadata or {"format": "pt"})

    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, use_safetensors=True, trust_remote_code=False, local_files_only=True
    ).eval()
    batch = _check_batch(model_dir)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in batch]
    from refusal_detector.backends.torch import forward_input_names

    inputs = {n: torch.from_numpy(batch[n]) for n in forward_input_names(model) if n in names}
    try:
        head = model.get_submodule(prefix)
    except AttributeError as exc:
        raise ModelLoadError(
            f"{source}: the tensors {prefix}.weight/.bias are not a module of the loaded model"
        ) from exc
    with torch.inference_mode():
        before = model(**inputs).logits.numpy().astype(np.float64)
        head.weight.copy_(tensors[f"{prefix}.weight"].to(head.weight.dtype))
        head.bias.copy_(tensors[f"{prefix}.bias"].to(head.bias.dtype))
        after = model(**inputs).logits.numpy().astype(np.float64)
    bound = _LOW_PRECISION_ATOL * max(1.0, float(np.abs(before).max())) if low_precision else atol
    return _check_scaled(source, before, after, temperature, bound)


def _check_scaled(
    path: Path,
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    temperature: float,
    atol: float,
) -> float:
    diff = float(np.max(np.abs(after - before / temperature)))
    if not diff <= atol:  # also catches NaN
        raise ExportValidationError(
            f"{path}: after folding T = {temperature:.4g} the logits differ from the original "
            f"logits / T by up to {diff:.3g}, more than the tolerance {atol:.3g}; "
            "the file was left unchanged"
        )
    return diff


def _check_batch(model_dir: Path) -> dict[str, npt.NDArray[np.int64]]:
    from transformers import AutoTokenizer

    from refusal_detector.model_dir import model_max_length, read_config, read_tokenizer_config
    from refusal_detector.training.export import parity_batch

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    max_length = model_max_length(read_config(model_dir), read_tokenizer_config(model_dir))
    return parity_batch(
        tokenizer, ["input_ids", "attention_mask", "token_type_ids"], max_length=max_length
    )


def _fold_onnx_file(
    model_dir: Path, source: Path, target: Path, temperature: float, *, atol: float
) -> float:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(source))
    fold_onnx_head(model, temperature, name=str(source))
    onnx.save(model, str(target))
    batch = _check_batch(model_dir)

    def run(path: Path) -> npt.NDArray[np.float64]:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = [o.name for o in session.get_outputs()]
        output = "logits" if "logits" in outputs else outputs[0]
        feed = {i.name: batch[i.name] for i in session.get_inputs()}
        return np.asarray(session.run([output], feed)[0], dtype=np.float64)

    return _check_scaled(source, run(source), run(target), temperature, atol)


def fold_onnx_head(model: Any, temperature: float, *, name: str = "model.onnx") -> list[str]:
    """Divide the head's float initializers in an ``onnx.ModelProto`` by T, in place.

    Returns the names of the initializers changed. See the module docstring for the graph
    patterns recognised.

    Raises:
        ModelLoadError: the graph does not end in a recognised linear head.
    """
    from onnx import numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {init.name: init for init in graph.initializer}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for value in node.input:
            consumers[value] = consumers.get(value, 0) + 1
    outputs = [o.name for o in graph.output]
    output = "logits" if "logits" in outputs else outputs[0]

    def unsupported(why: str) -> ModelLoadError:
        return ModelLoadError(
            f"{name}: cannot fold a temperature: {why}; expected the logits to come from "
            "Gemm(x, W, b), Add(MatMul(x, W), b) or an int8 Add(Mul(..., W_scale), b)"
        )

    def node_of(value: str) -> Any:
        node = producer.get(value)
        while node is not None and node.op_type == "Identity":
            node = producer.get(node.input[0])
        if node is None:
            raise unsupported(f"{value!r} is not produced by a node")
        return node

    def own(value: str) -> str:
        if value not in initializers:
            raise unsupported(f"{value!r} is not an initializer")
        if consumers.get(value, 0) != 1:
            raise unsupported(f"initializer {value!r} is shared by {consumers.get(value)} nodes")
        return value

    def split_constant(node: Any) -> tuple[str, str]:
        first, second = node.input[0], node.input[1]
        if second in initializers:
            return own(second), first
        if first in initializers:
            return own(first), second
        raise unsupported(f"{node.op_type} {node.name!r} has no initializer input")

    head = node_of(output)
    if head.op_type == "Gemm":
        changed = [own(head.input[1]), *([own(head.input[2])] if len(head.input) > 2 else [])]
    elif head.op_type == "Add":
        bias, rest = split_constant(head)
        inner = node_of(rest)
        if inner.op_type == "MatMul":
            changed = [bias, own(inner.input[1])]
        elif inner.op_type == "Mul":
            scale_a, scale_b = inner.input[0], inner.input[1]
            scale = scale_b if scale_b in initializers else scale_a
            if scale in initializers:
                changed = [bias, own(scale)]
            else:
                scales = node_of(scale_b)
                if scales.op_type != "Mul":
                    scales = node_of(scale_a)
                if scales.op_type != "Mul":
                    raise unsupported(f"Mul {inner.name!r} has no weight scale")
                changed = [bias, split_constant(scales)[0]]
        else:
            raise unsupported(f"the bias Add is fed by {inner.op_type} {inner.name!r}")
    else:
        raise unsupported(f"{output!r} comes from {head.op_type} {head.name!r}")

    for init_name in changed:
        init = initializers[init_name]
        values = numpy_helper.to_array(init)
        if not np.issubdtype(values.dtype, np.floating):
            raise unsupported(f"initializer {init_name!r} is {values.dtype}, not float")
        folded = (values.astype(np.float64) / temperature).astype(values.dtype)
        init.CopyFrom(numpy_helper.from_array(folded, init_name))
    return changed
