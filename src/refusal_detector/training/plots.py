"""PNG plots of an evaluation: PR curve and F1 per slice (matplotlib, Agg backend, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.training.evaluate import EvaluationReport
from refusal_detector.training.metrics import pr_curve

__all__ = ["plot_f1_by_slice", "plot_pr_curve"]


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
