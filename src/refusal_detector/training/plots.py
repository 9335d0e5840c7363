"""PNG plots of an evaluation: PR curve, F1 per slice, reliability diagram (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.training.evaluate import EvaluationReport
from refusal_detector.training.metrics import ECE_BINS, pr_curve, reliability_bins

__all__ = ["plot_f1_by_slice", "plot_pr_curve", "plot_reliability"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pr_curve(
    labels: Sequence[int],
    scores: npt.ArrayLike,
    report: EvaluationReport,
    path: Path,
) -> Path:
    """Precision-recall curve of the model, with each baseline as a point; writes ``path``."""
    plt = _pyplot()
    precision, recall, _ = pr_curve(np.asarray(labels), scores)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(recall, precision, label="model", linewidth=2)
    m = report.overall
    if m.recall is not None and m.precision is not None:
        ax.scatter(
            [m.recall], [m.precision], marker="o", zorder=3, label=f"model @ {report.threshold}"
        )
    for name, b in report.baselines.items():
        if b.recall is not None and b.precision is not None:
            ax.scatter([b.recall], [b.precision], marker="x", s=60, zorder=3, label=name)
    ax.set_xlabel("recall (REJECTION)")
    ax.set_ylabel("precision (REJECTION)")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Precision-recall")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_f1_by_slice(report: EvaluationReport, field_name: str, path: Path) -> Path:
    """Grouped bars: F1 of the model and of each baseline per value of ``field_name``."""
    plt = _pyplot()
    slices = report.slices[field_name]
    names = list(slices)
    series = {"model": [slices[k].f1 for k in names]}
    for baseline, by_field in report.baseline_slices.items():
        series[baseline] = [by_field[field_name][k].f1 for k in names]
    width = 0.8 / len(series)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.5))
    for i, (label, values) in enumerate(series.items()):
        ax.bar(
            x + i * width,
            [np.nan if v is None else v for v in values],
            width,
            label=label,
        )
    ax.set_xticks(x + width * (len(series) - 1) / 2)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("F1 (REJECTION)")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"F1 per {field_name} (no bar: no refusals in the slice)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(
    labels: Sequence[int], scores: npt.ArrayLike, path: Path, *, bins: int = ECE_BINS
) -> Path:
    """Reliability diagram: observed refusal rate against mean P(REJECTION) per bin.

    Equal-width bins (those of the reported ECE) drawn as points sized by their rows, with the
    equal-mass bins as a line, the diagonal as perfect calibration and a histogram of the scores
    below. Writes ``path``.
    """
    from refusal_detector.training.metrics import expected_calibration_error

    plt = _pyplot()
    truth = np.asarray(labels)
    values = np.asarray(scores, dtype=np.float64)
    width = [b for b in reliability_bins(truth, values, bins=bins) if b.n]
    mass = [b for b in reliability_bins(truth, values, bins=bins, adaptive=True) if b.n]
    ece = expected_calibration_error(truth, values, bins=bins)
    ece_mass = expected_calibration_error(truth, values, bins=bins, adaptive=True)
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot(
        [b.mean_score for b in mass],
        [b.refusal_rate for b in mass],
        marker=".",
        linewidth=1,
        label=f"{bins} equal-mass bins (ECE {ece_mass:.3f})",
    )
    sizes = np.asarray([b.n for b in width], dtype=np.float64)
    ax.scatter(
        [b.mean_score for b in width],
        [b.refusal_rate for b in width],
        s=20 + 200 * sizes / sizes.max(),
        alpha=0.7,
        zorder=3,
        label=f"{bins} equal-width bins (ECE {ece:.3f})",
    )
    ax.set_ylabel("observed refusal rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Reliability of P(REJECTION), n = {values.size}")
    hist.hist(values, bins=np.linspace(0, 1, bins + 1), color="grey")
    hist.set_yscale("log")
    hist.set_xlabel("P(REJECTION)")
    hist.set_ylabel("rows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
