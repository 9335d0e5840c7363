"""Evaluate a model directory on a labelled split, overall and per slice, beside phrase baselines.

Scores come from :class:`~refusal_detector.RefusalDetector` (the ONNX or torch backend), so the
figures measure what users of the directory get. The phrase-list baselines are scored on the same
rows. :func:`evaluate_scores` is the pure part (scores in, report out) and is what the tests use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.training.baselines import PhraseBaseline, default_baselines
from refusal_detector.training.dataset import Example, load_examples, resolve_split
from refusal_detector.training.metrics import (
    BinaryMetrics,
    CalibrationMetrics,
    auroc,
    binary_metrics,
    calibration_metrics,
    slice_metrics,
    threshold_sweep,
)

__all__ = [
    "SWEEP_THRESHOLDS",
    "EvaluationReport",
    "evaluate_model",
    "evaluate_scores",
    "score_examples",
]

logger = logging.getLogger(__name__)

SWEEP_THRESHOLDS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
_CHUNK = 256


@dataclass(frozen=True)
class EvaluationReport:
    """Everything the evaluation report shows.

    Attributes:
        overall: the model's metrics at ``threshold``.
        slices: ``{field: {value: metrics}}`` for each slicing field, largest slice first.
        baselines: ``{baseline name: overall metrics}``.
        baseline_slices: ``{baseline name: {field: {value: metrics}}}``.
        sweep: metrics at each threshold of SWEEP_THRESHOLDS.
        best_threshold: the sweep threshold with the highest F1 (reported, never applied).
        calibration: ECE (15 equal-width and 15 equal-mass bins), Brier score and NLL of the
            scores; None when there are no rows.
        auroc: threshold-free ranking quality, ``{"overall": x, field: {value: x}}`` (None
            where a slice lacks one of the labels).
    """

    threshold: float
    overall: BinaryMetrics
    slices: dict[str, dict[str, BinaryMetrics]]
    baselines: dict[str, BinaryMetrics]
    baseline_slices: dict[str, dict[str, dict[str, BinaryMetrics]]]
    sweep: list[tuple[float, BinaryMetrics]]
    best_threshold: float
    meta: dict[str, Any] = field(default_factory=dict)
    calibration: CalibrationMetrics | None = None
    auroc: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "meta": self.meta,
            "threshold": self.threshold,
            "overall": self.overall.as_dict(),
            "slices": _nested(self.slices),
            "baselines": {name: m.as_dict() for name, m in self.baselines.items()},
            "baseline_slices": {
                name: _nested(slices) for name, slices in self.baseline_slices.items()
            },
            "sweep": [{"threshold": t, **m.as_dict()} for t, m in self.sweep],
            "best_threshold": self.best_threshold,
            "calibration": None if self.calibration is None else asdict(self.calibration),
            "auroc": self.auroc,
        }


def evaluate_scores(
    examples: Sequence[Example],
    scores: npt.ArrayLike,
    *,
    by: Sequence[str] = ("source", "family"),
    threshold: float = 0.5,
    baselines: Sequence[PhraseBaseline] = (),
    meta: dict[str, Any] | None = None,
) -> EvaluationReport:
    """Build the report from P(REJECTION) ``scores`` aligned with ``examples``."""
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (len(examples),):
        raise ValueError(f"need one score per example: {values.shape} for {len(examples)}")
    labels = np.fromiter((e.label for e in examples), dtype=np.int64, count=len(examples))
    predicted = values >= threshold
    slices = {
        name: slice_metrics(labels, predicted, [e.field(name) for e in examples]) for name in by
    }
    texts = [e.text for e in examples]
    baseline_overall: dict[str, BinaryMetrics] = {}
    baseline_slices: dict[str, dict[str, dict[str, BinaryMetrics]]] = {}
    for baseline in baselines:
        hits = baseline.predict(texts)
        baseline_overall[baseline.name] = binary_metrics(labels, hits)
        baseline_slices[baseline.name] = {
            name: slice_metrics(labels, hits, [e.field(name) for e in examples]) for name in by
        }
    sweep = threshold_sweep(labels, values, SWEEP_THRESHOLDS)
    best = max(sweep, key=lambda item: (item[1].f1 or 0.0, -abs(item[0] - 0.5)))[0]
    return EvaluationReport(
        threshold=threshold,
        overall=binary_metrics(labels, predicted),
        slices=slices,
        baselines=baseline_overall,
        baseline_slices=baseline_slices,
        sweep=sweep,
        best_threshold=best,
        meta=dict(meta or {}),
        calibration=calibration_metrics(labels, values) if len(examples) else None,
        auroc=_auroc_by_slice(labels, values, examples, slices),
    )


def _auroc_by_slice(
    labels: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    examples: Sequence[Example],
    slices: dict[str, dict[str, BinaryMetrics]],
) -> dict[str, Any]:
    """AUROC overall and per slice value, in the slices' order."""
    result: dict[str, Any] = {"overall": auroc(labels, values)}
    for name, per_value in slices.items():
        keys = np.asarray([e.field(name) for e in examples], dtype=object)
        result[name] = {k: auroc(labels[keys == k], values[keys == k]) for k in per_value}
    return result


def score_examples(
    detector: Any,
    examples: Sequence[Example],
    *,
    first_window: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> npt.NDArray[np.float32]:
    """P(REJECTION) for each example from a RefusalDetector, in chunks (reporting progress).

    By default this is ``detector.predict_proba``: long texts are scored window by window and
    reduced, as users get them. ``first_window=True`` scores only the first ``max_length`` tokens
    (what the model saw in training), which is much faster on long texts.
    """
    scores = np.empty(len(examples), dtype=np.float32)
    for start in range(0, len(examples), _CHUNK):
        chunk = examples[start : start + _CHUNK]
        texts = [e.text for e in chunk]
        if first_window:
            values = detector.score_token_sequences(detector.encode(texts))
        else:
            values = detector.predict_proba(texts)
        scores[start : start + len(chunk)] = values
        if progress is not None:
            progress(start + len(chunk), len(examples))
    return scores


def evaluate_model(
    model_dir: Path,
    data: Path,
    *,
    split: str = "test",
    backend: str = "auto",
    by: Sequence[str] = ("source", "family"),
    threshold: float | str = 0.5,
    batch_size: int = 32,
    max_length: int | None = None,
    baselines: Sequence[PhraseBaseline] | None = None,
    first_window: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[EvaluationReport, list[Example], npt.NDArray[np.float32]]:
    """Score ``split`` of ``data`` (a corpus directory or a .jsonl file) with ``model_dir``.

    Returns the report, the examples and their scores (for plots and error analysis).
    ``threshold="auto"`` uses the threshold ``refusal-detector calibrate`` wrote into the model.

    Raises:
        DataError: the data file is missing or malformed.
        ModelLoadError: the model directory is invalid.
    """
    from refusal_detector.detector import RefusalDetector

    path = resolve_split(data, split)
    examples = load_examples(path)
    detector = RefusalDetector.from_pretrained(
        model_dir, backend=backend, batch_size=batch_size, max_length=max_length
    )
    threshold = detector.resolve_threshold(threshold)
    scores = score_examples(detector, examples, first_window=first_window, progress=progress)
    report = evaluate_scores(
        examples,
        scores,
        by=by,
        threshold=threshold,
        baselines=default_baselines() if baselines is None else baselines,
        meta={
            "model_dir": str(model_dir),
            "backend": detector.backend_name,
            "max_length": detector.max_length,
            "scoring": "first window" if first_window else f"windows ({detector.reduction})",
            "data": str(path),
            "temperature": detector.calibration.temperature,
        },
    )
    return report, examples, scores


def _nested(slices: dict[str, dict[str, BinaryMetrics]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: {k: m.as_dict() for k, m in values.items()} for name, values in slices.items()}
