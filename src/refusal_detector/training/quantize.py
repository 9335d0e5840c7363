"""Int8 dynamic quantisation of the ONNX export, validated on labelled data before it is kept.

``onnxruntime.quantization.quantize_dynamic`` stores MatMul/Gemm weights as int8 and quantises
activations on the fly, which shrinks a MiniLM export about four times. Weights are signed int8
(``QInt8``) and activations unsigned: that is the u8 x s8 product that ONNX Runtime's MLAS kernels
compute with AVX-512 VNNI (``vpdpbusd``) or AVX-VNNI when the CPU has them, chosen at run time from
cpuid, so the same file uses VNNI where it exists and AVX2 elsewhere. On the fused export
(:func:`~refusal_detector.training.export.fuse_transformer_graph`) each layer's ``Attention``
becomes one ``QAttention``. The int8 model must agree
with the fp32 export on at least ``min_agreement`` of the validation labels and lose at most
``max_f1_drop`` F1 (0.003 = 0.3 points); otherwise :class:`ExportValidationError` is raised with the
figures, and the int8 file is removed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.errors import ExportValidationError
from refusal_detector.io.files import atomic_path
from refusal_detector.model_dir import ONNX_FILE
from refusal_detector.training.dataset import Example
from refusal_detector.training.metrics import binary_metrics

__all__ = ["QuantizationReport", "quantize_int8", "validate_int8", "write_report"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizationReport:
    """How the int8 model compares with the fp32 export on labelled rows.

    ``agreement`` is the share of rows where both predict the same label at threshold 0.5;
    ``f1_drop`` is ``f1_fp32 - f1_int8`` (positive = int8 is worse).
    """

    n: int
    agreement: float
    f1_fp32: float
    f1_int8: float
    f1_drop: float
    max_abs_score_diff: float
    fp32_bytes: int
    int8_bytes: int
    min_agreement: float
    max_f1_drop: float
    data: str
    per_channel: bool = False
    n_available: int | None = None
    """Labelled validation rows before any subsampling (None: not recorded)."""
    scoring: str = ""
    """How texts were scored: all windows reduced (as predict_proba) or the first window only."""

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``quantization_report.json``."""
        return asdict(self)


def quantize_int8(fp32_path: Path, int8_path: Path, *, per_channel: bool = False) -> Path:
    """Write a dynamically quantised (int8 weights) copy of ``fp32_path`` to ``int8_path``."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(int8_path) as tmp:
        quantize_dynamic(
            fp32_path,
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            # The fused graph's com.microsoft nodes have no ONNX shape inference; their outputs
            # are float tensors.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    logger.info(
        "quantised %s (%.1f MB) -> %s (%.1f MB)",
        fp32_path,
        fp32_path.stat().st_size / 1e6,
        int8_path,
        int8_path.stat().st_size / 1e6,
    )
    return int8_path


def validate_int8(
    model_dir: Path,
    int8_path: Path,
    examples: Sequence[Example],
    *,
    min_agreement: float = 0.995,
    max_f1_drop: float = 0.003,
    batch_size: int = 32,
    data_name: str = "",
    per_channel: bool = False,
    first_window: bool = False,
) -> QuantizationReport:
    """Score ``examples`` with ``model_dir/onnx/model.onnx`` (fp32) and ``int8_path``; compare.

    Both go through :class:`~refusal_detector.RefusalDetector`, so tokenisation, truncation and
    batching are exactly what users get; ``first_window=True`` compares the first ``max_length``
    tokens of each text (one model call per text) instead of every window of long texts.

    Raises:
        ExportValidationError: agreement below ``min_agreement`` or F1 drop above ``max_f1_drop``.
    """
    from refusal_detector.backends.onnx import OnnxBackend
    from refusal_detector.detector import RefusalDetector

    if not examples:
        raise ExportValidationError("int8 validation needs labelled rows; got none")
    texts = [e.text for e in examples]
    labels = np.fromiter((e.label for e in examples), dtype=np.int64, count=len(examples))
    detector = RefusalDetector.from_pretrained(model_dir, backend="onnx", batch_size=batch_size)

    def score() -> npt.NDArray[np.float32]:
        if first_window:
            return detector.score_token_sequences(detector.encode(texts))
        return detector.predict_proba(texts)

    fp32 = score()
    detector.backend = OnnxBackend(int8_path)
    int8 = score()
    m32 = binary_metrics(labels, fp32 >= 0.5)
    m8 = binary_metrics(labels, int8 >= 0.5)
    report = QuantizationReport(
        n=len(examples),
        agreement=float(np.mean((fp32 >= 0.5) == (int8 >= 0.5))),
        f1_fp32=m32.f1 or 0.0,
        f1_int8=m8.f1 or 0.0,
        f1_drop=(m32.f1 or 0.0) - (m8.f1 or 0.0),
        max_abs_score_diff=float(np.max(np.abs(fp32 - int8))),
        fp32_bytes=(model_dir / ONNX_FILE).stat().st_size,
        int8_bytes=int8_path.stat().st_size,
        min_agreement=min_agreement,
        max_f1_drop=max_f1_drop,
        data=data_name,
        per_channel=per_channel,
        scoring="first window" if first_window else f"windows ({detector.reduction})",
    )
    logger.info(
        "int8 vs fp32 on %d rows: agreement %.4f, F1 %.4f -> %.4f",
        report.n,
        report.agreement,
        report.f1_fp32,
        report.f1_int8,
    )
    if report.agreement < min_agreement or report.f1_drop > max_f1_drop:
        raise ExportValidationError(
            f"{int8_path}: the int8 model agrees with fp32 on {report.agreement:.2%} of "
            f"{report.n} labels (need >= {min_agreement:.2%}) and its F1 drops by "
            f"{report.f1_drop * 100:.2f} points (allowed <= {max_f1_drop * 100:.2f}); "
            "keep the fp32 export, or retry with per-channel quantisation (--per-channel)"
        )
    return report


def write_report(report: QuantizationReport, path: Path) -> Path:
    """Write the report as JSON to ``path``."""
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return path
