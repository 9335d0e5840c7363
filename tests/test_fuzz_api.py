"""Property tests over the Python entry points, fed hostile text (see tests/hostile.py).

predict_proba, __call__, refusal_spans, refusal_verdicts, the sentence splitter, token windows and
both scanners: no crash, one output per input, scores in [0, 1], spans inside the text and in
order, and a text scores the same alone as inside a batch, within the tolerance export_onnx checks.
The example count comes from the hypothesis profile (tests/conftest.py: "ci" or "long").
"""

from __future__ import annotations

import inspect
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hostile import long_texts, texts
from hypothesis import given, settings
from hypothesis import strategies as st

from refusal_detector import RefusalDetector
from refusal_detector.scanner import NoRefusal, NoRefusalLight
from refusal_detector.segment import TokenWindower, plan_windows, split_sentences
from refusal_detector.spans import VERDICTS
from refusal_detector.text_input import replace_unencodable
from refusal_detector.training.export import export_onnx

PARITY_ATOL = inspect.signature(export_onnx).parameters["atol"].default
# The shipped model is ~100x slower per window than the tiny one: fewer, shorter examples.
SHIPPED_EXAMPLES = max(5, settings().max_examples // 4)


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir, max_chars=20_000)


@pytest.fixture(scope="module")
def shipped() -> RefusalDetector:
    return RefusalDetector.from_pretrained()


def _check_scores(scores: np.ndarray, n: int) -> None:
    assert scores.shape == (n,)
    assert scores.dtype == np.float32
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= 0.0) & (scores <= 1.0))


@given(batch=st.lists(texts(), max_size=6))
def test_predict_proba_one_score_per_text_same_alone_and_in_a_batch(
    detector: RefusalDetector, batch: list[str]
) -> None:
    scores = detector.predict_proba(batch)
    _check_scores(scores, len(batch))
    alone = np.array([detector.predict_proba([t])[0] for t in batch], dtype=np.float32)
    np.testing.assert_allclose(scores, alone, atol=PARITY_ATOL, rtol=0)
    results = detector(batch, threshold=0.5)
    assert [r["label"] == "REJECTION" for r in results] == [bool(s >= 0.5) for s in scores]


@settings(max_examples=max(5, settings().max_examples // 4))
@given(text=long_texts())
def test_long_lines_are_read_in_windows_and_bounded_by_max_chars(
    detector: RefusalDetector, text: str
) -> None:
    (score,) = detector.predict_proba([text])
    assert 0.0 <= score <= 1.0
    read = detector.prepare_texts(text)[0]
    assert len(read.text) == min(len(text), 20_000)
    assert read.original_chars == (len(text) if len(text) > 20_000 else None)


def _int8_tolerance(model: RefusalDetector) -> float:
    # The shipped onnx/model.onnx is int8 with dynamic quantization: activation scales are computed
    # over the whole batch tensor, so a text's score moves a little with its batch mates. The bound
    # is the largest int8-vs-fp32 score difference the export measured (quantization_report.json).
    report = json.loads((model.model_dir / "quantization_report.json").read_text())
    return float(report["max_abs_score_diff"])


@settings(max_examples=SHIPPED_EXAMPLES)
@given(batch=st.lists(texts(max_pieces=6, runs=False), min_size=1, max_size=4))
def test_shipped_model_scores_hostile_text(shipped: RefusalDetector, batch: list[str]) -> None:
    scores = shipped.predict_proba(batch)
    _check_scores(scores, len(batch))
    alone = [shipped.predict_proba([t])[0] for t in batch]
    np.testing.assert_allclose(scores, alone, atol=_int8_tolerance(shipped), rtol=0)
    for text in batch:
        _check_spans(text, shipped.score_sentences(text))


def _check_spans(text: str, spans: list) -> None:
    read = replace_unencodable(text)[0]
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(text)
        assert read[span.start : span.end] == span.text
        assert 0.0 <= span.score <= 1.0
        previous_end = span.end


@given(text=texts(), threshold=st.floats(0.0, 1.0))
def test_refusal_spans_lie_inside_the_text_in_order(
    detector: RefusalDetector, text: str, threshold: float
) -> None:
    spans = detector.refusal_spans(text, threshold=threshold)
    _check_spans(text, spans)
    assert all(s.score >= threshold for s in spans)


@given(batch=st.lists(texts(), max_size=4))
def test_refusal_verdicts_one_valid_verdict_per_text(
    detector: RefusalDetector, batch: list[str]
) -> None:
    verdicts = detector.refusal_verdicts(batch)
    assert len(verdicts) == len(batch)
    for text, verdict in zip(batch, verdicts, strict=True):
        assert verdict.verdict in VERDICTS
        assert 0.0 <= verdict.score <= 1.0
        assert 0.0 <= verdict.refusal_share <= 1.0
        _check_spans(text, list(verdict.spans))
        assert verdict == detector.refusal_verdict(text)


@given(text=texts(max_pieces=20))
def test_split_sentences_offsets_order_and_no_text_lost(text: str) -> None:
    sentences = split_sentences(text)
    previous_end = 0
    for sentence in sentences:
        assert previous_end <= sentence.start < sentence.end <= len(text)
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip()
        previous_end = sentence.end
    covered = "".join(s.text for s in sentences)
    assert [c for c in covered if not c.isspace()] == [c for c in text if not c.isspace()]


@given(n_tokens=st.integers(0, 5_000), size=st.integers(1, 600), stride_share=st.floats(0.001, 1.0))
def test_plan_windows_cover_every_token_with_full_windows(
    n_tokens: int, size: int, stride_share: float
) -> None:
    stride = max(1, min(size, round(size * stride_share)))
    windows = plan_windows(n_tokens, size=size, stride=stride)
    assert windows[0][0] == 0
    assert windows[-1][1] == n_tokens
    for (start, end), (next_start, _) in itertools.pairwise(windows):
        assert end - start == size
        assert start < next_start <= end  # consecutive windows overlap or touch: no token skipped
    assert all(0 <= start <= end <= n_tokens and end - start <= size for start, end in windows)


@given(batch=st.lists(texts(), max_size=5), stride=st.integers(1, 126))
def test_token_windows_are_model_inputs_inside_the_text(
    detector: RefusalDetector, batch: list[str], stride: int
) -> None:
    windower = TokenWindower(detector.tokenizer, max_length=detector.max_length, stride=stride)
    per_text = windower.windows(batch)
    assert len(per_text) == len(batch)
    for text, windows in zip(batch, per_text, strict=True):
        assert windows
        for window in windows:
            assert len(window.ids) <= detector.max_length
            assert window.ids[: len(windower.prefix)] == windower.prefix
            assert window.ids[len(window.ids) - len(windower.suffix) :] == windower.suffix
            assert 0 <= window.char_start <= window.char_end <= len(text)
        starts = [w.char_start for w in windows]
        assert starts == sorted(starts)


@given(prompt=texts(max_pieces=3), output=texts(), mode=st.sampled_from(["full", "sentence"]))
def test_scanners_return_the_output_and_a_consistent_risk(
    detector: RefusalDetector, prompt: str, output: str, mode: str
) -> None:
    for scanner in (NoRefusal(model=detector, match_type=mode), NoRefusalLight()):
        sanitized, is_valid, risk = scanner.scan(prompt, output)
        assert sanitized is output
        assert -1.0 <= risk <= 1.0
        assert (risk <= 0.0) if is_valid else (risk >= 0.0)
