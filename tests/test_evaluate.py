"""Evaluation report from fixed scores: slices, baselines side by side, weak slices, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from refusal_detector.training.baselines import default_baselines
from refusal_detector.training.dataset import Example
from refusal_detector.training.evaluate import evaluate_scores
from refusal_detector.training.report import render_markdown, weak_slices, write_report

EXAMPLES = [
    Example("I'm sorry, but I can't help with that.", 1, source="s1", family="gpt"),
    Example("It is not appropriate to discuss this. Instead, talk to someone.", 1, "s1", "llama"),
    Example("Here is a pancake recipe: flour, eggs, milk.", 0, source="s1", family="gpt"),
    Example("As an example, a list holds values.", 0, source="s2", family="llama"),
    Example("Sure, the capital of France is Paris.", 0, source="s2", family="gpt"),
    Example("I cannot stress this enough: back up first. Step 1...", 0, "s2", "llama"),
]


@pytest.fixture
def report():  # type: ignore[no-untyped-def]
    scores = np.array([0.95, 0.2, 0.1, 0.05, 0.02, 0.7])
    return evaluate_scores(EXAMPLES, scores, baselines=default_baselines())


def test_overall_and_slices(report) -> None:  # type: ignore[no-untyped-def]
    assert (report.overall.tp, report.overall.fn, report.overall.fp) == (1, 1, 1)
    assert report.slices["family"]["gpt"].f1 == 1.0
    assert report.slices["family"]["llama"].f1 == 0.0
    assert report.slices["source"]["s2"].refusals == 0
    assert report.slices["source"]["s2"].accuracy == pytest.approx(2 / 3)


def test_baselines_are_scored_on_the_same_rows(report) -> None:  # type: ignore[no-untyped-def]
    light = report.baselines["LLM Guard NoRefusalLight"]
    assert light.n == len(EXAMPLES)
    # "As an example" and "I cannot stress" are false positives of the substring list.
    assert light.fp == 2
    assert report.baseline_slices["XSTest prefixes"]["family"]["llama"].tp == 1


def test_weak_slices_name_the_reason(report) -> None:  # type: ignore[no-untyped-def]
    weak = weak_slices(report, "family")
    assert "llama" in weak and "gpt" not in weak
    assert "below XSTest prefixes" in weak["llama"]
    assert "accuracy" in weak_slices(report, "source")["s2"]


def test_sweep_and_best_threshold(report) -> None:  # type: ignore[no-untyped-def]
    thresholds = [t for t, _ in report.sweep]
    assert thresholds == sorted(thresholds) and 0.5 in thresholds
    best = dict(report.sweep)[report.best_threshold]
    assert best.f1 == max(m.f1 or 0 for _, m in report.sweep)


def test_markdown_and_files(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    markdown = render_markdown(report)
    assert "| **this model** |" in markdown and "garak MitigationBypass F1" in markdown
    assert "**weak**" in markdown
    path = write_report(report, EXAMPLES, [0.95, 0.2, 0.1, 0.05, 0.02, 0.7], tmp_path)
    assert path.name == "report.md"
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["overall"]["n"] == 6 and data["slices"]["family"]["gpt"]["f1"] == 1.0
    assert (tmp_path / "pr_curve.png").stat().st_size > 1000
    assert (tmp_path / "f1_by_family.png").stat().st_size > 1000


def test_scores_must_align_with_examples() -> None:
    with pytest.raises(ValueError, match="one score per example"):
        evaluate_scores(EXAMPLES, [0.5])


def test_calibration_is_reported_and_drawn(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # scores 0.95, 0.2, 0.1, 0.05, 0.02, 0.7 against labels 1, 1, 0, 0, 0, 0; 15 equal-width bins:
    # each row is alone in its bin except 0.02 and 0.05 (bin 0): |0.035 - 0| * 2/6 + ...
    expected = (0.05 + 0.8 + 0.1 + 2 * 0.035 + 0.7) / 6
    assert report.calibration.ece == pytest.approx(expected)
    assert report.calibration.bins == 15
    assert "## Calibration" in render_markdown(report)
    write_report(report, EXAMPLES, [0.95, 0.2, 0.1, 0.05, 0.02, 0.7], tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["calibration"]["ece"] == pytest.approx(expected)
    assert set(data["calibration"]) >= {"ece", "ece_adaptive", "brier", "nll"}
    assert (tmp_path / "reliability.png").stat().st_size > 1000


def test_auroc_overall_and_per_slice(report) -> None:  # type: ignore[no-untyped-def]
    # refusals score 0.95 and 0.2; normal answers 0.1, 0.05, 0.02 and 0.7: 7 of 8 pairs ordered
    assert report.auroc["overall"] == pytest.approx(0.875)
    assert report.auroc["source"] == {"s1": 1.0, "s2": None}  # s2 has no refusal
    assert report.auroc["family"] == {"gpt": 1.0, "llama": 0.5}
    assert report.to_json()["auroc"]["overall"] == pytest.approx(0.875)
    text = render_markdown(report)
    assert "AUROC of the model's scores (threshold-free): 0.8750" in text
    assert "| s1 | 3 | 2 |" in text and "| 1.0000 |" in text
