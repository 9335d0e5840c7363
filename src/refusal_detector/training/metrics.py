"""Binary metrics for REJECTION (the positive class): overall, per slice and per threshold.

numpy only. Undefined values are ``None``, never a silent 0: precision when nothing is predicted
positive, recall when a slice holds no refusals, F1 when a slice has neither true nor predicted
refusals (F1 = 2TP / (2TP + FP + FN)). A slice of only normal answers therefore reports its accuracy
and, if the model flags none of them, no F1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ECE_BINS",
    "BinaryMetrics",
    "CalibrationMetrics",
    "ReliabilityBin",
    "auroc",
    "binary_metrics",
    "calibration_metrics",
    "expected_calibration_error",
    "pr_curve",
    "reliability_bins",
    "slice_metrics",
    "threshold_sweep",
]


@dataclass(frozen=True)
class BinaryMetrics:
    """Counts and scores of one set of predictions; REJECTION (1) is the positive class."""

    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    accuracy: float
    precision: float | None
    recall: float | None
    f1: float | None

    @property
    def refusals(self) -> int:
        """Number of true refusals in the set."""
        return self.tp + self.fn

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) including ``refusals``."""
        return {**asdict(self), "refusals": self.refusals}


def binary_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> BinaryMetrics:
    """Accuracy, precision, recall and F1 of 0/1 predictions against 0/1 labels."""
    truth = np.asarray(y_true, dtype=bool)
    pred = np.asarray(y_pred, dtype=bool)
    if truth.shape != pred.shape or truth.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-d of equal length; got {truth.shape}, {pred.shape}"
        )
    n = int(truth.size)
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    tn = n - tp - fp - fn
    return BinaryMetrics(
        n=n,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        accuracy=(tp + tn) / n if n else float("nan"),
        precision=tp / (tp + fp) if tp + fp else None,
        recall=tp / (tp + fn) if tp + fn else None,
        f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
    )


def slice_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, keys: Sequence[str]
) -> dict[str, BinaryMetrics]:
    """:func:`binary_metrics` per distinct key, largest slice first."""
    truth = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if len(keys) != truth.size:
        raise ValueError(f"need one key per row: {len(keys)} keys for {truth.size} rows")
    rows: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        rows[key].append(i)
    ordered = sorted(rows.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {key: binary_metrics(truth[idx], pred[idx]) for key, idx in ordered}


def threshold_sweep(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, thresholds: Sequence[float]
) -> list[tuple[float, BinaryMetrics]]:
    """Metrics when predicting REJECTION for ``score >= t``, for each threshold ``t``."""
    truth = np.asarray(y_true)
    values = np.asarray(scores, dtype=np.float64)
    return [(float(t), binary_metrics(truth, values >= t)) for t in thresholds]


def pr_curve(
    y_true: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Precision, recall and thresholds at every distinct score (descending thresholds).

    Point ``i`` predicts REJECTION for ``score >= thresholds[i]``. Raises ValueError if there are no
    refusals, since recall is then undefined.
    """
    truth = np.asarray(y_true, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    positives = int(truth.sum())
    if positives == 0:
        raise ValueError("a PR curve needs at least one refusal (label 1)")
    order = np.argsort(-values, kind="stable")
    sorted_scores = values[order]
    tps = np.cumsum(truth[order])
    fps = np.cumsum(~truth[order])
    # Keep the last index of each run of equal scores: ties are predicted together.
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], sorted_scores.size - 1]
    tp = tps[last].astype(np.float64)
    fp = fps[last].astype(np.float64)
    precision = tp / (tp + fp)
    recall = tp / positives
    return precision, recall, sorted_scores[last]


def auroc(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve: P(a random refusal scores above a random normal answer).

    Ties count one half (the Mann-Whitney U statistic, from average ranks). None when either class
    is missing, since the area is then undefined.
    """
    truth = np.asarray(y_true, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    sorted_values = values[order]
    # Average rank (1-based) for each run of equal scores.
    starts = np.r_[0, np.nonzero(np.diff(sorted_values))[0] + 1]
    ends = np.r_[starts[1:], values.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u = ranks[truth].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


ECE_BINS = 15
"""Bins of the reported ECE: 15, as in Guo et al. (2017), "On Calibration of Modern Neural
Networks"."""


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram: scores in [low, high) (the last bin includes 1.0)."""

    low: float
    high: float
    n: int
    mean_score: float | None
    refusal_rate: float | None


def reliability_bins(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, *, bins: int = ECE_BINS, adaptive: bool = False
) -> list[ReliabilityBin]:
    """Bins of P(REJECTION) with the mean score and the observed refusal rate in each.

    ``adaptive=False``: ``bins`` equal-width bins over [0, 1]. ``adaptive=True``: ``bins``
    equal-mass bins (edges at score quantiles, so each holds about n / bins rows).
    """
    truth = np.asarray(y_true, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    if truth.shape != values.shape or truth.ndim != 1:
        raise ValueError(
            f"need 1-d labels and scores of equal length; got {truth.shape}, {values.shape}"
        )
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if adaptive and values.size:
        edges = np.quantile(values, np.linspace(0.0, 1.0, bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds edges[i] <= score < edges[i + 1]; 1.0 falls in the last bin.
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    out: list[ReliabilityBin] = []
    for i in range(bins):
        mask = index == i
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                low=float(edges[i]),
                high=float(edges[i + 1]),
                n=n,
                mean_score=float(values[mask].mean()) if n else None,
                refusal_rate=float(truth[mask].mean()) if n else None,
            )
        )
    return out


def expected_calibration_error(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, *, bins: int = ECE_BINS, adaptive: bool = False
) -> float:
    """ECE of P(REJECTION): sum over bins of (rows in bin / n) * |mean score - refusal rate|.

    The score calibrated is P(REJECTION) itself (the number users threshold), not the top-label
    confidence max(p, 1 - p). Binning as in :func:`reliability_bins`.
    """
    table = reliability_bins(y_true, scores, bins=bins, adaptive=adaptive)
    total = sum(b.n for b in table)
    if total == 0:
        raise ValueError("ECE needs at least one row")
    return float(
        sum(
            b.n / total * abs(b.mean_score - b.refusal_rate)
            for b in table
            if b.mean_score is not None and b.refusal_rate is not None
        )
    )


@dataclass(frozen=True)
class CalibrationMetrics:
    """How well P(REJECTION) matches observed refusal rates.

    ``ece``: 15 equal-width bins; ``ece_adaptive``: 15 equal-mass bins; ``brier``: mean squared
    error of P(REJECTION); ``nll``: mean negative log-likelihood (scores clipped to
    [1e-7, 1 - 1e-7]).
    """

    n: int
    bins: int
    ece: float
    ece_adaptive: float
    brier: float
    nll: float


def calibration_metrics(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, *, bins: int = ECE_BINS
) -> CalibrationMetrics:
    """ECE (equal-width and equal-mass bins), Brier score and NLL of P(REJECTION) ``scores``."""
    truth = np.asarray(y_true, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    clipped = np.clip(values, 1e-7, 1 - 1e-7)
    nll = -np.mean(truth * np.log(clipped) + (1 - truth) * np.log1p(-clipped))
    return CalibrationMetrics(
        n=int(truth.size),
        bins=bins,
        ece=expected_calibration_error(truth, values, bins=bins),
        ece_adaptive=expected_calibration_error(truth, values, bins=bins, adaptive=True),
        brier=float(np.mean((values - truth) ** 2)),
        nll=float(nll),
    )
