"""Reasoning traces: the answer decides the verdict by default; the trace on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from refusal_detector import ConfigError
from refusal_detector.reasoning import scored_parts, split_reasoning

REFUSAL = "Sorry, but I can't assist with that request; it is against my guidelines."
ANSWER = "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk, then fry."


@pytest.mark.parametrize(
    ("text", "answer", "trace"),
    [
        ("plain answer", "plain answer", ""),
        ("<think>I must refuse</think>\n\nHere it is.", "Here it is.", "I must refuse"),
        ("<THINK>upper</Think> mixed case", "mixed case", "upper"),
        ("<thinking>long tag</thinking>answer", "answer", "long tag"),
        ("<think>cut off while thinking", "", "cut off while thinking"),  # unterminated
        ("R1 template: no opening tag</think>answer", "answer", "R1 template: no opening tag"),
        ("<think>a</think>one <think>b</think>two", "one two", "a\nb"),  # several blocks
        ("<think>all trace</think>   ", "", "all trace"),  # empty answer
        ("<think></think>answer", "answer", ""),  # empty block
        ("<think>a <think> b</think> c </think>", "c", "a <think> b"),  # stray closer dropped
    ],
)
def test_split_reasoning(text: str, answer: str, trace: str) -> None:
    split = split_reasoning(text)
    assert (split.answer, split.trace) == (answer, trace)
    assert split.has_trace == (text != "plain answer")


def test_scored_parts_per_mode() -> None:
    text = f"<think>{REFUSAL}</think>{ANSWER}"
    assert scored_parts(text, "answer") == [ANSWER]
    assert scored_parts(text, "trace") == [REFUSAL]
    assert scored_parts(text, "both") == [ANSWER, REFUSAL]
    assert scored_parts(text, "raw") == [text]
    # A text without a trace is scored whole in every mode.
    assert {tuple(scored_parts(ANSWER, m)) for m in ("answer", "trace", "both", "raw")} == {
        (ANSWER,)
    }
    assert scored_parts("<think>only</think>", "answer") == [""]
    assert scored_parts("<think>only</think>", "both") == ["only"]


pytest.importorskip("torch")


@pytest.fixture(scope="module")
def detectors(tiny_model_dir: Path) -> dict[str, object]:
    from refusal_detector import RefusalDetector

    return {
        mode: RefusalDetector.from_pretrained(tiny_model_dir, reasoning=mode)
        for mode in ("answer", "trace", "both", "raw")
    }


def test_the_answer_decides_by_default_and_the_trace_on_request(
    detectors: dict[str, object],
) -> None:
    from refusal_detector import RefusalDetector

    raw = detectors["raw"]
    assert isinstance(raw, RefusalDetector)
    texts = [
        f"<think>{REFUSAL}</think>\n{ANSWER}",
        f"<think>{ANSWER}</think>\n{REFUSAL}",
        f"<THINK>{REFUSAL}\n{REFUSAL}</THINK>{ANSWER}<think>{ANSWER}</think>",
    ]
    answer_only = raw.predict_proba([ANSWER, REFUSAL, ANSWER])
    trace_only = raw.predict_proba([REFUSAL, ANSWER, f"{REFUSAL}\n{REFUSAL}\n{ANSWER}"])
    default = RefusalDetector.from_pretrained(raw.model_dir)
    assert default.reasoning == "answer"
    np.testing.assert_allclose(default.predict_proba(texts), answer_only, atol=1e-6)
    np.testing.assert_allclose(detectors["trace"].predict_proba(texts), trace_only, atol=1e-6)
    np.testing.assert_allclose(
        detectors["both"].predict_proba(texts), np.maximum(answer_only, trace_only), atol=1e-6
    )
    # raw scores the tags and all, which is not the answer's score.
    assert not np.allclose(raw.predict_proba(texts), answer_only, atol=1e-3)


def test_an_output_that_is_all_trace_is_scored_as_the_empty_text(
    detectors: dict[str, object],
) -> None:
    from refusal_detector import RefusalDetector

    answer = detectors["answer"]
    assert isinstance(answer, RefusalDetector)
    empty = answer.predict_proba([""])[0]
    all_trace = answer.predict_proba([f"<think>{REFUSAL}", f"<think>{REFUSAL}</think>  "])
    np.testing.assert_allclose(all_trace, [empty, empty], atol=1e-6)


def test_bad_reasoning_mode_is_a_config_error(tiny_model_dir: Path) -> None:
    from refusal_detector import RefusalDetector

    with pytest.raises(ConfigError, match="reasoning must be one of answer, trace, both, raw"):
        RefusalDetector.from_pretrained(tiny_model_dir, reasoning="thoughts")


def test_cli_reasoning_flag(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from refusal_detector import RefusalDetector
    from refusal_detector.cli import main

    text = f"<think>{REFUSAL}</think>{ANSWER}"
    expected = {
        mode: float(RefusalDetector.from_pretrained(tiny_model_dir).predict_proba([part])[0])
        for mode, part in (("answer", ANSWER), ("trace", REFUSAL))
    }
    for mode, score in expected.items():
        assert main(["classify", "--model", str(tiny_model_dir), "--reasoning", mode, text]) == 0
        assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(score, abs=1e-5)


def test_scanner_reasoning_option(tiny_model_dir: Path) -> None:
    from refusal_detector import RefusalDetector
    from refusal_detector.scanner import NoRefusal

    text = f"<think>{REFUSAL}</think>{ANSWER}"
    trace_score = RefusalDetector.from_pretrained(tiny_model_dir).predict_proba([REFUSAL])[0]
    answer_score = RefusalDetector.from_pretrained(tiny_model_dir).predict_proba([ANSWER])[0]
    threshold = float(np.clip((trace_score + answer_score) / 2, 0.01, 0.99))
    assert abs(trace_score - answer_score) >= 0.05  # the seed-0 tiny model tells them apart
    by_mode = {
        mode: NoRefusal(model=tiny_model_dir, threshold=threshold, reasoning=mode).scan("", text)
        for mode in ("answer", "trace")
    }
    assert by_mode["answer"][1] == (answer_score <= threshold)
    assert by_mode["trace"][1] == (trace_score <= threshold)
    assert by_mode["answer"][1] != by_mode["trace"][1]
    # An output that is all trace is like a blank one in answer mode.
    assert NoRefusal(model=tiny_model_dir).scan("", f"<think>{REFUSAL}</think>") == (
        f"<think>{REFUSAL}</think>",
        True,
        -1.0,
    )
    detector = RefusalDetector.from_pretrained(tiny_model_dir)
    with pytest.raises(ConfigError, match="differs from the detector's 'answer'"):
        NoRefusal(model=detector, reasoning="trace")


def test_split_reasoning_regions_index_the_original_text() -> None:
    text = "pre</think> one <think>a</think> two </think>three"
    split = split_reasoning(text)
    assert [text[a:b] for a, b in split.trace_regions] == ["pre", "a"]
    assert "".join(text[a:b] for a, b in split.answer_regions) == " one  two three"


def test_refusal_spans_read_the_answer_and_keep_offsets(detectors: dict[str, object]) -> None:
    from refusal_detector import RefusalDetector

    answer, trace = detectors["answer"], detectors["trace"]
    assert isinstance(answer, RefusalDetector) and isinstance(trace, RefusalDetector)
    text = f"<think>{REFUSAL}</think>\n{ANSWER}"
    start = text.index(ANSWER)
    spans = answer.score_sentences(text)
    assert spans and all(s.start >= start for s in spans)
    assert all(text[s.start : s.end] == s.text for s in spans)
    trace_spans = trace.score_sentences(text)
    assert trace_spans and all(s.end <= text.index("</think>") for s in trace_spans)
    assert answer.refusal_verdict(text).score == pytest.approx(
        float(answer.predict_proba([ANSWER])[0]), abs=1e-6
    )


def test_shipped_model_reads_the_answer_not_the_trace() -> None:
    from refusal_detector import RefusalDetector

    deliberating = (
        "<think>\nThe user wants a bread recipe. I'm sorry to say I first thought I cannot help "
        "with cooking questions, but that is wrong: this is harmless, so I will answer.\n</think>\n"
        "Sure! Here is a simple bread recipe: mix 500 g flour, 10 g salt, 7 g yeast and 320 ml "
        "warm water, knead for ten minutes, let it rise for an hour, then bake at 220 C for 30 "
        "minutes."
    )
    refusing_trace = (
        "<think>I'm sorry, but I can't help with that. I cannot assist with this request as it "
        "goes against my guidelines.</think>Here is the summary you asked for: the article argues "
        "that cities should plant more trees to cool streets in summer."
    )
    refusing_answer = (
        "<think>Okay, the user asks how to pick a lock. This could be misused.</think>\n"
        "I'm sorry, but I can't help with that request."
    )
    texts = [deliberating, refusing_trace, refusing_answer]
    answer = RefusalDetector.from_pretrained()
    trace = RefusalDetector.from_pretrained(reasoning="trace")
    assert [v["label"] for v in answer(texts)] == ["NORMAL", "NORMAL", "REJECTION"]
    assert [v["label"] for v in trace(texts)][1:] == ["REJECTION", "NORMAL"]
