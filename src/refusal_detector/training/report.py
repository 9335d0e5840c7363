"""Write an evaluation report: ``report.md``, ``report.json``, ``predictions.jsonl`` and PNG plots.

Markdown tables are also used by the model card (:mod:`refusal_detector.training.card`).
A slice is called weak when its F1 is more than ``WEAK_MARGIN`` below the overall F1, or below a
baseline's F1 on the same rows; a slice without refusals is weak when its accuracy is below
``1 - WEAK_MARGIN`` or below a baseline's accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refusal_detector.model_dir import PREDICTIONS_FILE, REPORT_FILE, REPORT_MARKDOWN_FILE
from refusal_detector.training.dataset import Example
from refusal_detector.training.evaluate import EvaluationReport
from refusal_detector.training.metrics import BinaryMetrics

__all__ = [
    "WEAK_MARGIN",
    "baseline_table",
    "calibration_table",
    "confusion_table",
    "fmt",
    "render_markdown",
    "slice_table",
    "sweep_table",
    "weak_slices",
    "write_report",
]

WEAK_MARGIN = 0.05


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for a table: fixed digits, or a dash when undefined."""
    return "-" if value is None else f"{value:.{digits}f}"


def baseline_table(report: EvaluationReport) -> str:
    """Overall metrics of the model and each baseline, one row each."""
    lines = [
        "| detector | n | accuracy | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [("**this model**", report.overall), *report.baselines.items()]
    for name, m in rows:
        lines.append(
            f"| {name} | {m.n} | {fmt(m.accuracy)} | {fmt(m.precision)} | {fmt(m.recall)} "
            f"| {fmt(m.f1)} |"
        )
    return "\n".join(lines)


def confusion_table(m: BinaryMetrics) -> str:
    """2x2 confusion matrix (rows: truth, columns: prediction)."""
    return "\n".join(
        [
            "| truth \\ predicted | NORMAL | REJECTION |",
            "|---|---:|---:|",
            f"| NORMAL | {m.tn} | {m.fp} |",
            f"| REJECTION | {m.fn} | {m.tp} |",
        ]
    )


def calibration_table(report: EvaluationReport) -> str:
    """ECE (equal-width and equal-mass bins), Brier score and NLL of P(REJECTION)."""
    c = report.calibration
    if c is None:
        return "no rows"
    return "\n".join(
        [
            f"| ECE ({c.bins} equal-width bins) | ECE ({c.bins} equal-mass bins) | Brier | NLL |",
            "|---:|---:|---:|---:|",
            f"| {fmt(c.ece)} | {fmt(c.ece_adaptive)} | {fmt(c.brier)} | {fmt(c.nll)} |",
        ]
    )


def sweep_table(report: EvaluationReport) -> str:
    """Metrics at each threshold of the sweep."""
    lines = [
        "| threshold | accuracy | precision | recall | F1 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for t, m in report.sweep:
        mark = " (best F1)" if t == report.best_threshold else ""
        lines.append(
            f"| {t:.2f}{mark} | {fmt(m.accuracy)} | {fmt(m.precision)} | {fmt(m.recall)} "
            f"| {fmt(m.f1)} |"
        )
    return "\n".join(lines)


def weak_slices(report: EvaluationReport, field_name: str) -> dict[str, str]:
    """``{slice value: reason}`` for the weak slices of ``field_name`` (see module docstring)."""
    weak: dict[str, str] = {}
    overall_f1 = report.overall.f1 or 0.0
    for value, m in report.slices[field_name].items():
        reasons: list[str] = []
        if m.refusals:
            f1 = m.f1 or 0.0
            if f1 < overall_f1 - WEAK_MARGIN:
                reasons.append(f"F1 {f1:.3f} vs {overall_f1:.3f} overall")
            for name, by_field in report.baseline_slices.items():
                b = by_field[field_name][value]
                if b.f1 is not None and b.f1 > f1:
                    reasons.append(f"below {name} (F1 {b.f1:.3f})")
        else:
            if m.accuracy < 1 - WEAK_MARGIN:
                reasons.append(f"accuracy {m.accuracy:.3f} on a slice without refusals")
            for name, by_field in report.baseline_slices.items():
                b = by_field[field_name][value]
                if b.accuracy > m.accuracy:
                    reasons.append(f"below {name} (accuracy {b.accuracy:.3f})")
        if reasons:
            weak[value] = "; ".join(reasons)
    return weak


def slice_table(report: EvaluationReport, field_name: str) -> str:
    """Per-slice metrics of the model with each baseline's F1 beside them; weak slices marked."""
    names = list(report.baseline_slices)
    weak = weak_slices(report, field_name)
    aurocs = report.auroc.get(field_name, {})
    header = f"| {field_name} | n | refusals | accuracy | precision | recall | F1 | AUROC |"
    header += "".join(f" {name} F1 |" for name in names) + " weak |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names) + "---|"]
    for value, m in report.slices[field_name].items():
        row = (
            f"| {value} | {m.n} | {m.refusals} | {fmt(m.accuracy)} | {fmt(m.precision)} "
            f"| {fmt(m.recall)} | {fmt(m.f1)} | {fmt(aurocs.get(value))} |"
        )
        for name in names:
            b = report.baseline_slices[name][field_name][value]
            row += f" {fmt(b.f1) if m.refusals else 'acc ' + fmt(b.accuracy)} |"
        row += f" {'**weak**: ' + weak[value] if value in weak else ''} |"
        lines.append(row)
    return "\n".join(lines)


def render_markdown(report: EvaluationReport, *, plots: Sequence[str] = ()) -> str:
    """The full report as markdown."""
    meta = report.meta
    parts = [
        "# Evaluation report",
        "",
        f"- model: `{meta.get('model_dir', '?')}` (backend {meta.get('backend', '?')}, "
        f"max_length {meta.get('max_length', '?')}, scoring: {meta.get('scoring', 'windows')})",
        f"- data: `{meta.get('data', '?')}`, n = {report.overall.n} "
        f"({report.overall.refusals} refusals)",
        f"- threshold: {report.threshold} (REJECTION when P(REJECTION) >= threshold)",
        "- baselines: phrase lists matched as their tools match them "
        "(see `refusal_detector/training/phrases/PROVENANCE.md`)",
        "- undefined values are shown as -: F1 on a slice with neither true nor predicted "
        "refusals; on slices without refusals the baseline columns show accuracy instead of F1",
        "",
        "## Overall",
        "",
        baseline_table(report),
        "",
        f"AUROC of the model's scores (threshold-free): {fmt(report.auroc.get('overall'))}",
        "",
        "## Confusion matrix",
        "",
        confusion_table(report.overall),
        "",
        "## Threshold sweep",
        "",
        sweep_table(report),
        "",
        "## Calibration",
        "",
        "ECE of P(REJECTION) against the observed refusal rate (sum over bins of the bin's share "
        "of rows times |mean score - refusal rate|); the reliability diagram is "
        "`reliability.png`. Folded temperature: "
        + (
            f"T = {meta['temperature']:.4g}."
            if meta.get("temperature") is not None
            else "none (the scores are the model's own)."
        ),
        "",
        calibration_table(report),
        "",
    ]
    for field_name in report.slices:
        parts += [f"## Per {field_name}", "", slice_table(report, field_name), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(parts)


def write_report(
    report: EvaluationReport,
    examples: Sequence[Example],
    scores: npt.ArrayLike,
    out_dir: Path,
    *,
    plots: bool = True,
) -> Path:
    """Write report.md, report.json, predictions.jsonl (id, source, family, label, score) and plots.

    Returns the path of report.md.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    values = np.asarray(scores, dtype=np.float64)
    written: list[str] = []
    if plots:
        from refusal_detector.training.plots import (
            plot_f1_by_slice,
            plot_pr_curve,
            plot_reliability,
        )

        labels = [e.label for e in examples]
        if report.overall.refusals:
            plot_pr_curve(labels, values, report, out_dir / "pr_curve.png")
            written.append("pr_curve.png")
        if len(examples):
            plot_reliability(labels, values, out_dir / "reliability.png")
            written.append("reliability.png")
        for field_name in report.slices:
            name = f"f1_by_{field_name}.png"
            plot_f1_by_slice(report, field_name, out_dir / name)
            written.append(name)
    (out_dir / REPORT_FILE).write_text(
        json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
    )
    with (out_dir / PREDICTIONS_FILE).open("w", encoding="utf-8") as handle:
        for example, score in zip(examples, values, strict=True):
            record = {
                "id": example.id,
                "source": example.source,
                "family": example.family,
                "label": example.label,
                "score": round(float(score), 6),
            }
            handle.write(json.dumps(record) + "\n")
    path = out_dir / REPORT_MARKDOWN_FILE
    path.write_text(render_markdown(report, plots=written), encoding="utf-8")
    return path
