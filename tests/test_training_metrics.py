"""Metrics (REJECTION = positive) and the phrase-list baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refusal_detector.errors import DataError
from refusal_detector.training.baselines import PhraseBaseline, default_baselines, load_phrases
from refusal_detector.training.metrics import (
    auroc,
    binary_metrics,
    pr_curve,
    slice_metrics,
    threshold_sweep,
)


def test_binary_metrics_counts_and_scores() -> None:
    m = binary_metrics([1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0, 0])
    assert (m.tp, m.fp, m.fn, m.tn) == (2, 1, 1, 4)
    assert m.accuracy == pytest.approx(6 / 8)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.refusals == 3


def test_undefined_metrics_are_none_not_zero() -> None:
    clean = binary_metrics([0, 0, 0], [0, 0, 0])
    assert clean.accuracy == 1.0
    assert clean.precision is None and clean.recall is None and clean.f1 is None
    flagged = binary_metrics([0, 0, 0], [1, 0, 0])
    assert flagged.f1 == 0.0 and flagged.recall is None and flagged.precision == 0.0


def test_binary_metrics_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="equal length"):
        binary_metrics([1, 0], [1])


def test_slice_metrics_orders_largest_first() -> None:
    slices = slice_metrics([1, 0, 1, 0, 1], [1, 0, 0, 0, 1], ["a", "b", "b", "b", "a"])
    assert list(slices) == ["b", "a"]
    assert slices["a"].f1 == 1.0
    assert slices["b"].recall == 0.0


def test_threshold_sweep_trades_recall_for_precision() -> None:
    labels = [1, 1, 0, 0]
    scores = [0.9, 0.4, 0.6, 0.1]
    (low, m_low), (high, m_high) = threshold_sweep(labels, scores, [0.3, 0.7])
    assert (low, high) == (0.3, 0.7)
    assert m_low.recall == 1.0 and m_low.precision == pytest.approx(2 / 3)
    assert m_high.recall == 0.5 and m_high.precision == 1.0


def test_pr_curve_points_and_ties() -> None:
    precision, recall, thresholds = pr_curve([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1])
    np.testing.assert_allclose(thresholds, [0.9, 0.5, 0.1])
    np.testing.assert_allclose(recall, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(precision, [1.0, 2 / 3, 0.5])
    with pytest.raises(ValueError, match="at least one refusal"):
        pr_curve([0, 0], [0.1, 0.2])


@pytest.fixture(scope="module")
def baselines() -> dict[str, PhraseBaseline]:
    return {b.name: b for b in default_baselines()}


@pytest.mark.parametrize(
    ("baseline", "text", "refusal"),
    [
        # LLM Guard NoRefusalLight: case-insensitive substring anywhere.
        ("LLM Guard NoRefusalLight", "Here you go. SORRY for the delay.", True),
        ("LLM Guard NoRefusalLight", "As an example, consider a list.", True),
        ("LLM Guard NoRefusalLight", "Paris is the capital of France.", False),
        # garak MitigationBypass: mitigation phrases anywhere, case-insensitive.
        ("garak MitigationBypass", "As an AI language model, I cannot do that.", True),
        ("garak MitigationBypass", "Here is the recipe you asked for.", False),
        # XSTest: lower-cased, stripped prefix only.
        ("XSTest prefixes", "  I'm sorry, but I can't help.", True),
        ("XSTest prefixes", "Sure! I'm sorry to hear that, here is help.", False),
        ("XSTest prefixes", "No, that is not possible.", True),
    ],
)
def test_baselines_match_like_their_tools(
    baselines: dict[str, PhraseBaseline], baseline: str, text: str, refusal: bool
) -> None:
    assert bool(baselines[baseline].predict([text])[0]) is refusal


def test_baseline_lists_are_the_provenance_counts(baselines: dict[str, PhraseBaseline]) -> None:
    assert len(baselines["LLM Guard NoRefusalLight"].phrases) == 28
    assert len(baselines["garak MitigationBypass"].phrases) == 156
    assert len(baselines["XSTest prefixes"].phrases) == 21


def test_case_sensitive_baseline() -> None:
    b = PhraseBaseline("cs", ("I cannot",), "substring", case_sensitive=True, origin="test")
    assert b.predict(["I cannot", "i cannot"]).tolist() == [True, False]


def test_load_phrases_keeps_trailing_spaces_and_rejects_empty(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("As an \n\nSorry\n", encoding="utf-8")
    assert load_phrases(path) == ("As an ", "Sorry")
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_phrases(path)


@pytest.mark.parametrize(
    ("truth", "scores", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1], [0.5, 0.5], 0.5),
        # 4 refusal/normal pairs: 0.7>0.3, 0.7>0.6, 0.4>0.3, 0.4<0.6 -> 3/4
        ([1, 0, 1, 0], [0.7, 0.3, 0.4, 0.6], 0.75),
    ],
)
def test_auroc_counts_ordered_pairs(truth: list[int], scores: list[float], expected: float) -> None:
    assert auroc(truth, scores) == pytest.approx(expected)


def test_auroc_is_undefined_with_one_class() -> None:
    assert auroc([1, 1], [0.2, 0.9]) is None
