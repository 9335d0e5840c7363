"""Export a model directory to ONNX (``onnx/model.onnx``) and check it against torch.

:func:`export_model` is what ``refusal-detector export`` runs: the fp32 export and its parity check
(:func:`export_onnx`), then the int8 variant validated on labelled rows (kept only if it passes),
its report, and optionally the shipping layout. Benchmarks and users call it to export exactly as
the command line does.

The export uses torch's TorchScript-based exporter (``dynamo=False``) with explicit opset and
dynamic batch/sequence axes: in torch 2.13 it is still available (deprecated), needs no onnxscript,
takes well under a second for small models and gives a graph that onnxruntime's transformer
optimisations and int8 quantisation understand. The file is written beside its target, checked
against torch on a mixed-length batch, and only then renamed into place, so a failed export never
replaces a good one.

The saved graph is the fused one (:func:`fuse_transformer_graph`): onnxruntime's transformer
optimiser replaces each layer's attention subgraph by one ``Attention`` node, and the embeddings
and bias+GELU by ``EmbedLayerNormalization`` and ``BiasGelu``. ONNX Runtime would apply the GELU
fusion at load time anyway, but not the attention fusion of an int8 graph: quantising the fused
graph gives ``QAttention`` (one kernel per layer instead of about twenty nodes). The residual
LayerNorms are left as ``Add`` + ``LayerNormalization`` on purpose: ONNX Runtime 1.32's CPU
``SkipLayerNormalization`` kernel was slower than the two standard ops (the shipped int8 model
scored 64 short texts per call 9-18% faster without it in interleaved runs), so
:class:`~refusal_detector.backends.onnx.OnnxBackend` also disables the load-time
``SkipLayerNormFusion``. The fused graph is checked against torch like the raw one.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from refusal_detector.errors import ConfigError, ExportValidationError
from refusal_detector.io.files import atomic_copy, atomic_path
from refusal_detector.model_dir import (
    CONFIG_FILE,
    INT8_FILE,
    ONNX_FILE,
    ONNX_SUBDIR,
    QUANTIZATION_REPORT_FILE,
    TOKENIZER_FILES,
    check_model_dir,
    model_max_length,
    read_tokenizer_config,
)

if TYPE_CHECKING:
    from refusal_detector.training.quantize import QuantizationReport
    from refusal_detector.training.ship import ShipReport

__all__ = [
    "FUSABLE_MODEL_TYPES",
    "PARITY_TEXTS",
    "ExportResult",
    "check_onnx_parity",
    "export_model",
    "export_onnx",
    "fuse_transformer_graph",
    "parity_batch",
]

logger = logging.getLogger(__name__)

# Mixed lengths, including an empty text and one longer than any model window, so that padding,
# attention masks and the last position embeddings are all exercised.
PARITY_TEXTS = (
    "Sorry, but I can't assist with that.",
    "",
    "Sure! Here is a simple recipe for pancakes. Mix flour, eggs and milk, then fry. " * 3,
    "I cannot help with that request because it could cause harm. " * 200,
)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote: the fp32 export, the validated int8 variant, the ship."""

    fp32: Path
    int8: Path | None = None
    int8_validation: QuantizationReport | None = None
    ship: ShipReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary ``refusal-detector export`` prints."""
        result: dict[str, Any] = {"fp32": str(self.fp32)}
        if self.int8 is not None and self.int8_validation is not None:
            result["int8"] = str(self.int8)
            result["int8_validation"] = self.int8_validation.to_json()
        if self.ship is not None:
            result["ship"] = {"dir": str(self.ship.out_dir), "bytes": self.ship.total_bytes}
        return result


def export_model(
    model_dir: Path,
    *,
    data: Path | None = None,
    int8: bool = True,
    opset: int = 17,
    atol: float = 1e-4,
    per_channel: bool = False,
    min_agreement: float = 0.995,
    max_f1_drop: float = 0.003,
    max_validation_samples: int | None = None,
    first_window: bool = False,
    ship: Path | None = None,
) -> ExportResult:
    """Export ``model_dir`` as ``refusal-detector export`` does.

    Writes ``onnx/model.onnx`` (fp32, within ``atol`` of torch); with ``int8``, also
    ``onnx/model_quantized.onnx``, validated on the validation split of ``data`` (a corpus
    directory or a ``.jsonl``; a stratified sample of ``max_validation_samples`` rows) against
    ``min_agreement`` and ``max_f1_drop``, and ``quantization_report.json``. A failing int8 file is
    deleted. With ``ship``, the validated int8 model also goes into the shipping layout there.

    Raises:
        ConfigError: ``int8`` without ``data``, or ``ship`` without ``int8``.
        ModelLoadError: ``model_dir`` is not a valid torch model directory.
        DataError: the validation data is missing or malformed.
        ExportValidationError: the fp32 parity check or the int8 validation failed.
    """
    from refusal_detector.training.dataset import load_examples, resolve_split, stratified_sample
    from refusal_detector.training.quantize import quantize_int8, validate_int8, write_report

    if int8 and data is None:
        raise ConfigError(
            "the int8 variant is validated on labelled data: pass --data CORPUS_DIR (its "
            "validation split is used) or --no-int8"
        )
    if ship is not None and not int8:
        raise ConfigError("--ship needs the validated int8 model; drop --no-int8")
    model_dir = Path(model_dir)
    fp32 = export_onnx(model_dir, opset=opset, atol=atol)
    if not int8 or data is None:
        return ExportResult(fp32=fp32)
    path = resolve_split(data, "validation")
    examples = load_examples(path)
    available = len(examples)
    if max_validation_samples:
        examples = stratified_sample(examples, max_total=max_validation_samples)
    int8_path = quantize_int8(fp32, model_dir / INT8_FILE, per_channel=per_channel)
    try:
        report = validate_int8(
            model_dir,
            int8_path,
            examples,
            min_agreement=min_agreement,
            max_f1_drop=max_f1_drop,
            data_name=str(path),
            per_channel=per_channel,
            first_window=first_window,
        )
    except Exception:
        int8_path.unlink(missing_ok=True)
        raise
    report = dataclasses.replace(report, n_available=available)
    write_report(report, model_dir / QUANTIZATION_REPORT_FILE)
    shipped = None
    if ship is not None:
        from refusal_detector.training.ship import ship_model

        shipped = ship_model(model_dir, ship, int8_path=int8_path)
    return ExportResult(fp32=fp32, int8=int8_path, int8_validation=report, ship=shipped)


# Encoder families whose attention onnxruntime's BERT optimiser recognises.
FUSABLE_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "distilbert", "electra")


def export_onnx(model_dir: Path, *, opset: int = 17, atol: float = 1e-4, fuse: bool = True) -> Path:
    """Export ``model_dir``'s torch model to ``model_dir/onnx/model.onnx`` and return that path.

    Input names follow the tokenizer's ``model_input_names`` that the model's forward accepts
    (``input_ids``, ``attention_mask``, ``token_type_ids`` for BERT); the output is ``logits``;
    batch and sequence axes are dynamic. ``config.json`` and the tokenizer files are copied into
    ``onnx/``. With ``fuse`` (the default) the saved graph is the fused one of
    :func:`fuse_transformer_graph`, checked against torch as well; a model type outside
    ``FUSABLE_MODEL_TYPES`` is saved unfused, and the log says so.

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
        if fuse and fuse_transformer_graph(tmp, config):
            diff = check_onnx_parity(model, tmp, batch, atol=atol)
    for name in (CONFIG_FILE, *TOKENIZER_FILES):
        if (model_dir / name).is_file():
            atomic_copy(model_dir / name, model_dir / ONNX_SUBDIR / name)
    logger.info("exported %s (opset %d, max |onnx - torch| = %.2e)", target, opset, diff)
    return target


def fuse_transformer_graph(path: Path, config: Mapping[str, object]) -> bool:
    """Rewrite the fp32 graph at ``path`` with onnxruntime's transformer fusions, in place.

    Returns False (and leaves the file alone) when ``config["model_type"]`` is not one of
    ``FUSABLE_MODEL_TYPES``. The caller checks the result against torch.
    """
    model_type = str(config.get("model_type", ""))
    if model_type not in FUSABLE_MODEL_TYPES:
        logger.info(
            "no transformer fusions for model_type %r: the graph is saved unfused", model_type
        )
        return False
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    # Residual LayerNorms stay Add + LayerNormalization: ONNX Runtime's SkipLayerNormalization
    # CPU kernel was slower than the two standard ops on this machine (module docstring).
    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False

    heads = config.get("num_attention_heads", config.get("n_heads"))
    hidden = config.get("hidden_size", config.get("dim"))
    fused = optimize_model(
        str(path),
        model_type="bert",
        num_heads=int(heads) if isinstance(heads, int) else 0,
        hidden_size=int(hidden) if isinstance(hidden, int) else 0,
        opt_level=1,
        use_gpu=False,
        optimization_options=options,
    )
    logger.info(
        "fused graph: %s", {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    )
    fused.save_model_to_file(str(path))
    return True


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
