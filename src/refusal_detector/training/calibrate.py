"""Calibrate a model directory: fit a temperature, fold it in, choose a threshold for a target.

The temperature T minimises the negative log-likelihood of the labels under
``P(REJECTION) = sigmoid(m / T)``, where ``m`` is a text's logit margin (REJECTION minus NORMAL
logit) read through :class:`~refusal_detector.RefusalDetector` exactly as users get it: every
token window scored, the max margin kept (the max of the window scores, the default reduction).
The NLL is convex in ``1 / T``, so bisection on its derivative finds the optimum. T is then
folded into the classifier head of every weight file (:mod:`refusal_detector.training.fold`).

Isotonic regression is fitted too, and reported only: it can fit more shapes than one
temperature, but it cannot be folded into the weights, so shipping it would need a run-time step
every consumer (pipeline, LLM Guard) would have to know about. The comparison is out-of-fold
(5 folds), because isotonic regression is calibrated on its own fitting rows by construction.

The threshold is the lowest one whose precision on the rows reaches the target (the most recall
at that precision), or the highest one whose recall reaches the target, chosen on the scores of
the directory as written (after folding), so it meets the target on those rows exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.calibration import read_calibration, write_calibration
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.training.dataset import Example, load_examples, resolve_split
from refusal_detector.training.metrics import (
    BinaryMetrics,
    binary_metrics,
    calibration_metrics,
    expected_calibration_error,
    pr_curve,
)

__all__ = [
    "CalibrationResult",
    "ThresholdChoice",
    "calibrate_model",
    "fit_isotonic",
    "fit_temperature",
    "score_margins",
    "select_threshold",
]

logger = logging.getLogger(__name__)

_T_BOUNDS = (0.01, 100.0)
_FOLDS = 5


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def fit_temperature(labels: npt.ArrayLike, margins: npt.ArrayLike) -> float:
    """The T in [0.01, 100] minimising the NLL of ``labels`` under ``sigmoid(margins / T)``.

    Raises:
        DataError: fewer than one row of each label (T is then not identifiable).
    """
    y = np.asarray(labels, dtype=np.float64)
    z = np.asarray(margins, dtype=np.float64)
    if y.shape != z.shape or y.ndim != 1:
        raise ValueError(f"need 1-d labels and margins of equal length; got {y.shape}, {z.shape}")
    if not (y == 1).any() or not (y == 0).any():
        raise DataError(
            f"fitting a temperature needs both labels; got {int((y == 1).sum())} refusals and "
            f"{int((y == 0).sum())} normal rows"
        )

    def slope(a: float) -> float:  # d NLL / d a at a = 1 / T; increasing in a
        return float(np.mean((_sigmoid(a * z) - y) * z))

    low, high = 1.0 / _T_BOUNDS[1], 1.0 / _T_BOUNDS[0]
    if slope(low) >= 0:
        return _T_BOUNDS[1]
    if slope(high) <= 0:
        return _T_BOUNDS[0]
    for _ in range(100):  # geometric bisection: 2^-100 of the log range
        mid = float(np.sqrt(low * high))
        if slope(mid) > 0:
            high = mid
        else:
            low = mid
    return float(1.0 / np.sqrt(low * high))


def fit_isotonic(
    labels: npt.ArrayLike, scores: npt.ArrayLike
) -> Callable[[npt.ArrayLike], npt.NDArray[np.float64]]:
    """Isotonic regression of labels on scores (pool adjacent violators); returns the map.

    Rows with equal scores are pooled first; the map interpolates linearly between the ends of
    the fitted blocks and is constant beyond them, as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")`` does.
    """
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    unique, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=y)
    means: list[float] = []
    weights: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    for xi, total, count in zip(unique, sums, counts, strict=True):
        means.append(float(total / count))
        weights.append(float(count))
        lows.append(float(xi))
        highs.append(float(xi))
        while len(means) > 1 and means[-2] >= means[-1]:
            w = weights[-2] + weights[-1]
            m = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w
            means[-2:], weights[-2:], highs[-2:], lows[-2:] = [m], [w], [highs[-1]], [lows[-2]]
    knots_x = np.ravel(np.column_stack([lows, highs]))
    knots_y = np.repeat(means, 2)

    def apply(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.asarray(np.interp(np.asarray(values, dtype=np.float64), knots_x, knots_y))

    return apply


def _out_of_fold_ece(
    labels: npt.NDArray[np.int64], margins: npt.NDArray[np.float64], *, seed: int = 0
) -> dict[str, float]:
    """ECE (15 equal-width bins) of temperature and isotonic fits, each scored out of fold."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(labels.size) % _FOLDS
    temp = np.empty(labels.size)
    iso = np.empty(labels.size)
    raw = _sigmoid(margins)
    for k in range(_FOLDS):
        train, held = fold != k, fold == k
        t = fit_temperature(labels[train], margins[train])
        temp[held] = _sigmoid(margins[held] / t)
        iso[held] = fit_isotonic(labels[train], raw[train])(raw[held])
    return {
        "folds": _FOLDS,
        "ece_temperature": expected_calibration_error(labels, temp),
        "ece_isotonic": expected_calibration_error(labels, iso),
    }


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and what it gives on the rows it was chosen on."""

    threshold: float
    target: str
    target_value: float
    metrics: BinaryMetrics

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``calibration.json`` (without the threshold value itself)."""
        m = self.metrics.as_dict()
        kept = {key: m[key] for key in ("n", "refusals", "precision", "recall", "f1")}
        return {"target": self.target, "target_value": self.target_value, **kept}


def select_threshold(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    target_precision: float | None = None,
    target_recall: float | None = None,
    best_f1: bool = False,
    fixed: float | None = None,
) -> ThresholdChoice:
    """The threshold meeting ``target_precision`` with the most recall, ``target_recall`` with
    the highest threshold, (``best_f1``) the one with the highest F1 on the rows (the highest such
    threshold on a tie), or ``fixed`` as given, with its figures on the rows; REJECTION is
    predicted for ``score >= threshold``.

    Raises:
        ConfigError: not exactly one target, or a target outside (0, 1], or a precision no
            threshold reaches on these rows (the message gives the best there is).
        DataError: no refusals among the labels.
    """
    given = sum(
        (target_precision is not None, target_recall is not None, best_f1, fixed is not None)
    )
    if given != 1:
        raise ConfigError("give exactly one of target_precision, target_recall, best_f1 and fixed")
    truth = np.asarray(labels)
    values = np.asarray(scores, dtype=np.float64)
    try:
        precision, recall, thresholds = pr_curve(truth, values)
    except ValueError as exc:
        raise DataError(f"choosing a threshold needs refusals among the rows ({exc})") from exc
    if fixed is not None:
        if not 0.0 <= fixed <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {fixed}")
        metrics = binary_metrics(truth, values >= fixed)
        return ThresholdChoice(float(fixed), "fixed", float(fixed), metrics)
    if best_f1:
        denominator = precision + recall
        f1 = np.divide(
            2 * precision * recall,
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        index = int(np.argmax(f1))  # thresholds descend: argmax keeps the highest on a tie
        target, goal = "f1", float(f1[index])
    else:
        target = "precision" if target_precision is not None else "recall"
        goal = float(target_precision if target_precision is not None else target_recall or 0.0)
        if not 0.0 < goal <= 1.0:
            raise ConfigError(f"target {target} must be in (0, 1], got {goal}")
        if target == "precision":
            ok = np.nonzero(precision >= goal)[0]
            if ok.size == 0:
                best = int(np.argmax(precision))
                raise ConfigError(
                    f"no threshold reaches precision {goal} on these {truth.size} rows; the "
                    f"highest is {precision[best]:.4f} (recall {recall[best]:.4f}) at threshold "
                    f"{thresholds[best]:.4g}"
                )
            index = int(ok[-1])  # thresholds descend, so the last one has the most recall
        else:
            index = int(np.nonzero(recall >= goal)[0][0])
    threshold = float(thresholds[index])
    metrics = binary_metrics(truth, values >= threshold)
    return ThresholdChoice(threshold, target, goal, metrics)


def score_margins(
    detector: Any,
    examples: Sequence[Example],
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 256,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """Per text: the max window logit margin and P(REJECTION) as ``predict_proba`` gives it."""
    from refusal_detector.detector import rejection_probability

    if detector.reduction != "max":
        raise ConfigError(
            "calibration reads the max over a text's windows; the detector uses "
            f"{detector.reduction!r}"
        )
    margins = np.empty(len(examples), dtype=np.float64)
    scores = np.empty(len(examples), dtype=np.float32)
    for start in range(0, len(examples), chunk):
        part = examples[start : start + chunk]
        for i, logits in enumerate(detector.window_logits([e.text for e in part])):
            margins[start + i] = float(np.max(logits[:, 1].astype(np.float64) - logits[:, 0]))
            scores[start + i] = float(np.max(rejection_probability(logits)))
        if progress is not None:
            progress(start + len(part), len(examples))
    return margins, scores


@dataclass(frozen=True)
class CalibrationResult:
    """What ``calibrate`` measured and wrote (the JSON the command prints)."""

    model_dir: Path
    data: str
    n: int
    refusals: int
    backend: str
    temperature: float | None
    before: dict[str, Any]
    after: dict[str, Any] | None
    out_of_fold: dict[str, Any] | None
    threshold: ThresholdChoice | None
    files: dict[str, float]
    dropped_threshold: float | None
    declined_temperature: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "model_dir": str(self.model_dir),
            "data": self.data,
            "n": self.n,
            "refusals": self.refusals,
            "backend": self.backend,
            "temperature": self.temperature,
            "calibration_before": self.before,
            "calibration_after": self.after,
            "out_of_fold_ece": self.out_of_fold,
            "threshold": None
            if self.threshold is None
            else {"value": self.threshold.threshold, **self.threshold.as_dict()},
            "folded_files": self.files,
            "dropped_threshold": self.dropped_threshold,
            "declined_temperature": self.declined_temperature,
        }


def calibrate_model(
    model_dir: Path,
    data: Path,
    *,
    split: str = "validation",
    temperature: bool = True,
    only_if_better: bool = False,
    target_precision: float | None = None,
    target_recall: float | None = None,
    best_f1: bool = False,
    fixed_threshold: float | None = None,
    backend: str = "auto",
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationResult:
    """Fit and fold a temperature (``temperature=True``; with ``only_if_better``, folded only when
    its out-of-fold ECE on the rows is below the unscaled scores' ECE, else reported as
    ``declined_temperature`` and the weights are kept), then choose a threshold if a target
    is given (``target_precision``, ``target_recall``, ``best_f1`` or ``fixed_threshold``, which
    records that threshold with its figures on the rows); write both into
    ``model_dir/calibration.json``.

    Raises:
        ConfigError: nothing to do, a temperature already folded, or an unreachable target.
        DataError: the data is missing, malformed or lacks one of the labels.
        ModelLoadError: the model directory is invalid.
    """
    from refusal_detector.detector import RefusalDetector
    from refusal_detector.training.fold import fold_temperature

    model_dir = Path(model_dir)
    targets = sum(
        (
            target_precision is not None,
            target_recall is not None,
            best_f1,
            fixed_threshold is not None,
        )
    )
    has_target = targets > 0
    if not temperature and not has_target:
        raise ConfigError(
            "nothing to do: pass --target-precision, --target-recall, --best-f1 or --threshold, "
            "or drop --no-temperature"
        )
    if targets > 1:
        raise ConfigError(
            "give one of --target-precision, --target-recall, --best-f1 and --threshold"
        )
    existing = read_calibration(model_dir)
    if temperature and existing.temperature is not None:
        raise ConfigError(
            f"{model_dir}: a temperature (T = {existing.temperature:.4g}) is already folded into "
            "this model's weights; folding again would apply it twice. Pass --no-temperature to "
            "choose a threshold only"
        )
    path = resolve_split(data, split)
    examples = load_examples(path)
    labels = np.fromiter((e.label for e in examples), dtype=np.int64, count=len(examples))
    detector = RefusalDetector.from_pretrained(model_dir, backend=backend, batch_size=batch_size)
    margins, scores = score_margins(detector, examples, progress=progress)
    before = asdict(calibration_metrics(labels, scores))
    fitted: float | None = None
    after: dict[str, Any] | None = None
    out_of_fold: dict[str, Any] | None = None
    files: dict[str, float] = {}
    dropped: float | None = None
    declined: float | None = None
    if temperature:
        fitted = fit_temperature(labels, margins)
        out_of_fold = _out_of_fold_ece(labels, margins)
        if only_if_better and out_of_fold["ece_temperature"] >= before["ece"]:
            declined, fitted = fitted, None
    if fitted is not None:
        info = {
            "data": str(path),
            "n": len(examples),
            "backend": detector.backend_name,
            "nll_before": before["nll"],
            "ece_before": before["ece"],
        }
        result = fold_temperature(model_dir, fitted, info=info)
        files, dropped = result.files, result.dropped_threshold
        detector = RefusalDetector.from_pretrained(
            model_dir, backend=detector.backend_name, batch_size=batch_size
        )
        margins, scores = score_margins(detector, examples, progress=progress)
        after = asdict(calibration_metrics(labels, scores))
        record = read_calibration(model_dir)
        write_calibration(
            model_dir,
            replace(
                record,
                temperature_info={
                    **record.temperature_info,
                    "nll_after": after["nll"],
                    "ece_after": after["ece"],
                },
            ),
        )
    choice: ThresholdChoice | None = None
    if has_target:
        choice = select_threshold(
            labels,
            scores,
            target_precision=target_precision,
            target_recall=target_recall,
            best_f1=best_f1,
            fixed=fixed_threshold,
        )
        record = read_calibration(model_dir)
        write_calibration(
            model_dir,
            replace(
                record,
                threshold=choice.threshold,
                threshold_info={
                    **choice.as_dict(),
                    "data": str(path),
                    "backend": detector.backend_name,
                },
            ),
        )
    return CalibrationResult(
        model_dir=model_dir,
        data=str(path),
        n=len(examples),
        refusals=int(labels.sum()),
        backend=detector.backend_name,
        temperature=fitted,
        before=before,
        after=after,
        out_of_fold=out_of_fold,
        threshold=choice,
        files=files,
        dropped_threshold=dropped,
        declined_temperature=declined,
    )
