"""RefusalDetector: agreement with transformers' pipeline, output shape, batching, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refusal_detector import ConfigError, InvalidTextError, RefusalDetector, default_model_dir
from refusal_detector.detector import rejection_probability

# All within the tiny model's 128-token window, where the pipeline's truncation changes nothing.
TEXTS = [
    "Sorry, but I can't assist with that.",
    "I'm sorry, as an AI language model I cannot provide that.",
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk, then fry.",
    "The weather is warm today.",
    "",
    "   \n\t ",
    "python code: def f(): return 1",
    "unknown wörds ünd émojis 🙂",
]


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir, backend="onnx")


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_agrees_with_transformers_pipeline(tiny_model_dir: Path, backend: str) -> None:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(tiny_model_dir), truncation=True)
    detector = RefusalDetector.from_pretrained(tiny_model_dir, backend=backend)
    expected = pipe(TEXTS)
    got = detector(TEXTS)
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    np.testing.assert_allclose([g["score"] for g in got], [e["score"] for e in expected], atol=1e-4)


def test_pipeline_shaped_output(detector: RefusalDetector) -> None:
    results = detector(TEXTS)
    probs = detector.predict_proba(TEXTS)
    assert len(results) == len(TEXTS)
    for result, p in zip(results, probs, strict=True):
        assert set(result) == {"label", "score"}
        expected = ("REJECTION", p) if p >= 0.5 else ("NORMAL", 1 - p)
        assert result["label"] == expected[0]
        assert result["score"] == pytest.approx(expected[1], abs=1e-6)


def test_single_string_returns_a_list(detector: RefusalDetector) -> None:
    assert detector(TEXTS[0]) == detector([TEXTS[0]])
    assert detector.predict_proba(TEXTS[0]).shape == (1,)


def test_threshold_moves_the_label(detector: RefusalDetector) -> None:
    p = float(detector.predict_proba([TEXTS[0]])[0])
    assert detector(TEXTS[0], threshold=p)[0]["label"] == "REJECTION"
    assert detector(TEXTS[0], threshold=min(1.0, p + 1e-3))[0]["label"] == "NORMAL"


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_out_of_range(detector: RefusalDetector, threshold: float) -> None:
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\]"):
        detector(TEXTS, threshold=threshold)


def test_probabilities_in_unit_interval(detector: RefusalDetector) -> None:
    probs = detector.predict_proba(TEXTS)
    assert probs.dtype == np.float32
    assert probs.shape == (len(TEXTS),)
    assert np.all((probs >= 0) & (probs <= 1))


def test_empty_and_whitespace_text_are_classified_as_cls_sep(detector: RefusalDetector) -> None:
    ids = detector.encode(["", "   "])
    cls, sep = detector.tokenizer.token_to_id("[CLS]"), detector.tokenizer.token_to_id("[SEP]")
    assert ids == [[cls, sep], [cls, sep]]
    empty, blank = detector.predict_proba(["", "   "])
    assert empty == blank


def test_encode_truncates_to_the_model_window(detector: RefusalDetector) -> None:
    (ids,) = detector.encode(["word " * 1000])
    assert len(ids) == detector.max_length == 128
    assert ids[0] == detector.tokenizer.token_to_id("[CLS]")
    assert ids[-1] == detector.tokenizer.token_to_id("[SEP]")


def test_order_and_batch_size_do_not_change_scores(tiny_model_dir: Path) -> None:
    one = RefusalDetector.from_pretrained(tiny_model_dir, batch_size=1)
    many = RefusalDetector.from_pretrained(tiny_model_dir, batch_size=64)
    sequences = one.encode(TEXTS)
    scores = one.score_token_sequences(sequences)
    np.testing.assert_allclose(many.score_token_sequences(sequences), scores, atol=1e-6)
    np.testing.assert_allclose(many.score_token_sequences(sequences[::-1]), scores[::-1], atol=1e-6)


def test_model_inputs_are_what_the_backend_scores(detector: RefusalDetector) -> None:
    sequences = detector.encode(["I can't help with that.", "Sure."])
    feed = detector.model_inputs(sequences)
    width = max(map(len, sequences))
    assert feed["input_ids"].shape == feed["attention_mask"].shape == (2, width)
    assert feed["attention_mask"].sum(axis=1).tolist() == [len(s) for s in sequences]
    assert feed["input_ids"][1, len(sequences[1]) :].tolist() == [detector.pad_id] * (
        width - len(sequences[1])
    )
    np.testing.assert_allclose(
        rejection_probability(detector.backend.logits(feed)),
        detector.score_token_sequences(sequences),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="at least one token sequence"):
        detector.model_inputs([])


def test_score_token_sequences_rejects_overlong_input(detector: RefusalDetector) -> None:
    with pytest.raises(ValueError, match="token sequences must hold 1 to 128 ids"):
        detector.score_token_sequences([[1] * 129])
    assert detector.score_token_sequences([]).shape == (0,)


def test_non_string_text_is_an_invalid_text_error_naming_the_index(
    detector: RefusalDetector,
) -> None:
    with pytest.raises(InvalidTextError, match=r"texts\[1\] must be a str, got NoneType") as err:
        detector.predict_proba(["ok", None])  # type: ignore[list-item]
    assert err.value.index == 1
    assert isinstance(err.value, TypeError)  # still caught by `except TypeError`
    with pytest.raises(InvalidTextError, match="got bytes; decode it first"):
        detector.predict_proba(b"sorry")  # type: ignore[arg-type]
    with pytest.raises(InvalidTextError, match="got int"):
        detector.predict_proba(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidTextError, match="texts\\[0\\] must be a str, got int"):
        detector.refusal_verdict(7)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_length", [2, 129])
def test_max_length_out_of_range(tiny_model_dir: Path, max_length: int) -> None:
    with pytest.raises(ConfigError, match=r"max_length must be in \[3, 128\]"):
        RefusalDetector.from_pretrained(tiny_model_dir, max_length=max_length)


def test_batch_size_must_be_positive(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        RefusalDetector.from_pretrained(tiny_model_dir, batch_size=0)


def test_public_attributes(detector: RefusalDetector, tiny_model_dir: Path) -> None:
    assert detector.model_dir == tiny_model_dir
    assert detector.id2label == {0: "NORMAL", 1: "REJECTION"}
    assert detector.pad_id == detector.tokenizer.token_to_id("[PAD]")


def test_default_model_dir_is_inside_the_package() -> None:
    assert default_model_dir().parts[-3:] == (
        "refusal_detector",
        "models",
        "refusal-detector-minilm",
    )
