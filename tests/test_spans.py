"""Refusal spans and the three-way verdict (refusal_detector.spans, RefusalDetector.refusal_*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_detector import fake_detector

from refusal_detector.errors import ConfigError
from refusal_detector.spans import (
    VERDICTS,
    SentenceScore,
    VerdictConfig,
    decide_verdict,
)

ANNOTATIONS = Path(__file__).parents[1] / "src/refusal_detector/data/annotations/partial_eval.jsonl"


def sentences(*pairs: tuple[str, float]) -> list[SentenceScore]:
    out, pos = [], 0
    for text, score in pairs:
        out.append(SentenceScore(pos, pos + len(text), text, score))
        pos += len(text) + 1
    return out


CONTENT = "Mix two cups of flour with three eggs and a cup of milk, then whisk until smooth. " * 3
POINTER = "Please talk to a professional instead."


@pytest.mark.parametrize(
    ("text_score", "scored", "expected"),
    [
        (0.1, sentences(("Sure.", 0.1), (CONTENT, 0.05)), "compliance"),
        (0.9, sentences(("I'm sorry, but I can't help with that.", 0.97)), "full_refusal"),
        (0.9, sentences(("I can't help with that.", 0.95), (POINTER, 0.3)), "full_refusal"),
        (0.9, sentences(("I can't write the exploit.", 0.95), (CONTENT, 0.05)), "partial_refusal"),
        # a refusal sentence buried in an answer: partial
        (0.9, sentences((CONTENT, 0.05), ("I won't name the person.", 0.9)), "partial_refusal"),
        # a refusal span counts even when the text as a whole reads as an answer
        (0.2, sentences((CONTENT, 0.05), ("I won't name the person.", 0.9)), "partial_refusal"),
        # refusal visible only in context (moralising non-answer): every sentence is part of it
        (
            0.9,
            sentences(("It is important to respect privacy.", 0.3), (CONTENT, 0.2)),
            "full_refusal",
        ),
    ],
)
def test_decide_verdict(text_score: float, scored: list[SentenceScore], expected: str) -> None:
    assert decide_verdict(text_score, scored).verdict == expected


def test_verdict_spans_and_refusal_share_follow_the_refusing_sentences() -> None:
    scored = sentences(("I can't write the exploit.", 0.95), (CONTENT, 0.05))
    verdict = decide_verdict(0.9, scored)
    assert verdict.spans == (scored[0],)
    refused = len("Ican'twritetheexploit.")
    content = sum(1 for ch in CONTENT if not ch.isspace())
    assert verdict.refusal_share == pytest.approx(refused / (refused + content))


def test_compliance_has_no_spans() -> None:
    verdict = decide_verdict(0.2, sentences(("Sure, here it is.", 0.1)))
    assert (verdict.verdict, verdict.spans, verdict.refusal_share) == ("compliance", (), 0.0)


def test_min_content_thresholds_move_the_partial_boundary() -> None:
    scored = sentences(("I can't help with that.", 0.95), (POINTER, 0.1))
    assert decide_verdict(0.9, scored).verdict == "full_refusal"
    lenient = VerdictConfig(min_content_chars=10, min_content_share=0.3)
    assert decide_verdict(0.9, scored, lenient).verdict == "partial_refusal"


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", 1.5), ("sentence_threshold", -0.1), ("min_content_share", 2.0)],
)
def test_verdict_config_rejects_out_of_range_values(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"VerdictConfig.{field}"):
        VerdictConfig(**{field: value})


def test_refusal_spans_give_offsets_text_and_score() -> None:
    detector = fake_detector()
    text = "Here are the steps.\n\n- Mix flour and eggs.\n- I am sorry, I cannot help with that.\n"
    [span] = detector.refusal_spans(text)
    assert span.text == "- I am sorry, I cannot help with that."
    assert text[span.start : span.end] == span.text
    assert span.score > 0.9
    assert detector.refusal_spans("Here are the steps. Mix flour.") == []


def test_score_sentences_scores_every_sentence() -> None:
    detector = fake_detector()
    scored = detector.score_sentences("Mix flour. Sorry, no. Bake.")
    assert [s.text for s in scored] == ["Mix flour.", "Sorry, no.", "Bake."]
    assert [s.score > 0.5 for s in scored] == [False, True, False]


def test_refusal_verdicts_on_constructed_texts() -> None:
    detector = fake_detector()
    answer = " ".join(["Here are the steps to bake the recipe with flour and eggs."] * 6)
    texts = [
        answer,
        "I am sorry, I cannot help with that.",
        f"I am sorry, I cannot write that poem. {answer}",
        f"{answer} I am sorry, I cannot help with that. {answer}",
    ]
    verdicts = detector.refusal_verdicts(texts)
    assert [v.verdict for v in verdicts] == [
        "compliance",
        "full_refusal",
        "partial_refusal",
        "partial_refusal",
    ]
    assert verdicts[3].spans[0].text == "I am sorry, I cannot help with that."
    assert detector.refusal_verdict(texts[2]) == verdicts[2]


def test_refusal_spans_rejects_a_bad_threshold() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        fake_detector().refusal_spans("Sorry.", threshold=2.0)


def test_annotation_set_is_well_formed() -> None:
    if not ANNOTATIONS.exists():
        pytest.skip(f"{ANNOTATIONS} not present")
    rows = [json.loads(line) for line in ANNOTATIONS.read_text(encoding="utf-8").splitlines()]
    assert {r["verdict"] for r in rows} == set(VERDICTS)
    assert all(r["text"].strip() and r["reason"].strip() for r in rows)


def test_verdict_types_are_public_api() -> None:
    import refusal_detector
    from refusal_detector import spans

    for name in ("VerdictConfig", "RefusalVerdict", "SentenceScore"):
        assert name in refusal_detector.__all__
        assert getattr(refusal_detector, name) is getattr(spans, name)
