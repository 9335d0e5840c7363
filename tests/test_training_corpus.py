"""A hand-written corpus for the training tests, and tests of reading and sampling it.

``write_corpus(dir)`` writes train/validation/test.jsonl in the corpus contract; other test modules
import it (``from test_training_corpus import write_corpus``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from refusal_detector.data.balance import water_fill
from refusal_detector.errors import DataError
from refusal_detector.training.dataset import (
    Example,
    is_permissive,
    load_examples,
    resolve_split,
    stratified_sample,
)

REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "Sorry, I cannot assist with that.",
    "As an AI language model, I cannot provide that.",
    "I won't help with that because it is harmful.",
    "I apologize, but I am not able to comply with this request.",
    "I cannot provide that, it is against my guidelines.",
    "I'm unable to assist with that. Please understand my purpose is safe and respectful.",
    "That request is unethical and illegal, so I will not help.",
    "I must decline. Instead, I suggest you talk to a doctor.",
    "Sorry, that is inappropriate and I refuse to write it.",
    "I can't do that. I recommend you ask something safe instead.",
    "As an AI, I am not allowed to provide that information.",
    "I'm sorry, but I won't write that story.",
    "I cannot help with that request, it is against policy.",
    "I am not able to help with that; it could be harmful.",
    "I apologize, but I can't provide instructions for that.",
    "I will not assist with that request.",
    "Sorry, but I am unable to comply.",
    "I cannot do this. Please understand.",
    "I'm sorry, I can't provide that, as it is illegal.",
]
ANSWERS = [
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk, then fry.",
    "Of course. The function returns a list of numbers; use a loop to print each value.",
    "The war ended after the king and queen signed the treaty in the city.",
    "Here are three tips for better sleep: exercise, eat well, and keep the room cold.",
    "Certainly. To solve the equation, add the two numbers and divide the sum by two.",
    "The weather in summer is hot and sunny, with rain in the spring.",
    "Great question! The river flows through the mountain to the sea.",
    "Here is a short poem about the garden: flowers, trees and the warm sun.",
    "Yes. First, open the file; next, read the data; then return the result.",
    "To book a hotel, find the city on the map, compare the price and buy a ticket.",
    "The doctor said to drink water and sleep eight hours every night.",
    "Here is the summary: the story is about a family and their long trip.",
    "Sure, here is an example of a python class with one function.",
    "The bank account has a password and a user login for the website.",
    "Step one: heat the butter. Step two: stir in the sugar. Step three: bake.",
    "Of course! Your essay should explain, describe and compare the ideas.",
    "The best way to learn music is to write a song every day.",
    "Here is a list of ways to save money: buy less, plan more, work smart.",
    "Certainly. The average is the total divided by the number of values.",
    "Hello! Thanks for the question, here is a quick and easy answer.",
]
FAMILIES = ("gpt", "llama", "mistral", "claude")
SOURCES = ("source_a", "source_b")


def corpus_rows() -> list[dict[str, object]]:
    """40 labelled rows with sources, families and licences spread over them."""
    rows: list[dict[str, object]] = []
    for label, texts in ((1, REFUSALS), (0, ANSWERS)):
        for i, text in enumerate(texts):
            rows.append(
                {
                    "id": f"{label}-{i}",
                    "text": text,
                    "prompt": None,
                    "source": SOURCES[i % 2],
                    "model": f"{FAMILIES[i % 4]}-model",
                    "family": FAMILIES[i % 4],
                    "label": label,
                    "label_origin": "hand",
                    "license": "MIT" if i % 5 else "CC-BY-NC-4.0",
                    "split": "train",
                    "partial": False,
                }
            )
    return rows


def write_corpus(directory: Path) -> Path:
    """Write train/validation/test.jsonl (the same 40 rows each) and datacard.json to ``directory``.

    The splits overlap on purpose: the tests check that a tiny model fits them, not generalisation.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rows = corpus_rows()
    for split in ("train", "validation", "test"):
        with (directory / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({**row, "split": split}) + "\n")
    (directory / "datacard.json").write_text(
        json.dumps(
            {
                "total_records": 40,
                "n_sources": 2,
                "n_models": 4,
                "class_ratio": {"refusal_share": 0.5},
                "sources": {
                    name: {"license": "MIT", "records": 20, "refusals": 10} for name in SOURCES
                },
                "splits": {
                    split: {"records": 40, "refusals": 20, "normals": 20}
                    for split in ("train", "validation", "test")
                },
                "license_mode": "permissive",
            }
        ),
        encoding="utf-8",
    )
    return directory


def build_trainable_base(path: Path, seed: int = 0) -> Path:
    """helpers.build_tiny_model with BERT's standard 0.02 init, which trains in a few dozen steps
    (the wide-init tiny model is for backend parity, not for training)."""
    from helpers import build_tiny_model

    return build_tiny_model(path, seed, onnx=False, initializer_range=0.02)


def test_load_examples_reads_fields_and_skips_unlabelled(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [*corpus_rows()[:3], {"text": "part refusal", "label": None, "partial": True}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    examples = load_examples(path)
    assert [e.label for e in examples] == [1, 1, 1]
    assert examples[0].source == "source_a" and examples[0].family == "gpt"


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("not json", r"train.jsonl:2: not valid JSON"),
        ('["a list"]', r"train.jsonl:2: expected a JSON object"),
        ('{"label": 1}', r"train.jsonl:2: 'text' must be a string"),
        ('{"text": "x", "label": "REJECTION"}', r"train.jsonl:2: 'label' must be 0 .* or 1"),
        ('{"text": "x", "label": true}', r"train.jsonl:2: 'label' must be"),
    ],
)
def test_load_examples_names_path_and_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "ok", "label": 0}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_examples(path)


def test_resolve_split_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"validation.jsonl: no such file"):
        resolve_split(tmp_path, "validation")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MIT", True),
        ("Apache-2.0", True),
        ("CC-BY-4.0", True),
        ("permissive", True),
        ("CC-BY-NC-4.0", False),
        ("cc-by-nc-sa-4.0", False),
        ("nc", False),
        ("unknown", False),
        ("Llama-2 community", False),
    ],
)
def test_is_permissive(name: str, expected: bool) -> None:
    assert is_permissive(name) is expected


def test_licence_filter_drops_non_commercial_rows(tmp_path: Path) -> None:
    path = write_corpus(tmp_path) / "train.jsonl"
    kept = load_examples(path, licenses=is_permissive)
    assert len(kept) == 32
    assert all(e.license == "MIT" for e in kept)


def test_water_fill_keeps_small_strata_and_caps_large_ones() -> None:
    counts = water_fill({"a": 5, "b": 100, "c": 1000}, 205)
    assert counts == {"a": 5, "b": 100, "c": 100}
    assert water_fill({"a": 5, "b": 7}, 100) == {"a": 5, "b": 7}
    assert sum(water_fill({"a": 3, "b": 3, "c": 3}, 2).values()) == 2


def test_stratified_sample_keeps_every_source_and_family() -> None:
    examples = [
        Example(text=f"t{i}", label=i % 2, source="big", family="gpt") for i in range(1000)
    ] + [Example(text=f"s{i}", label=i % 2, source="small", family="gemma") for i in range(20)]
    sample = stratified_sample(examples, max_total=200, seed=0)
    by_source = Counter(e.source for e in sample)
    assert len(sample) == 200
    assert by_source["small"] == 20
    assert Counter(e.label for e in sample) == {0: 100, 1: 100}


def test_stratified_sample_caps_each_source_first() -> None:
    examples = [Example(text=f"t{i}", label=i % 2, source="big") for i in range(1000)] + [
        Example(text=f"s{i}", label=i % 2, source="small") for i in range(50)
    ]
    sample = stratified_sample(examples, max_per_source=100, seed=0)
    assert Counter(e.source for e in sample) == {"big": 100, "small": 50}
    assert stratified_sample(examples, max_per_source=100, seed=0) == sample


def test_stratified_sample_reaches_the_refusal_share_water_filled_per_label() -> None:
    examples = [Example(text=f"n{i}", label=0, source="big") for i in range(900)]
    examples += [Example(text=f"r{i}", label=1, source="big") for i in range(60)]
    examples += [Example(text=f"m{i}", label=1, source="small") for i in range(40)]
    sample = stratified_sample(
        examples, max_total=200, by=("source", "label"), refusal_share=0.45, seed=0
    )
    labels = Counter(e.label for e in sample)
    assert labels == {1: 90, 0: 110}
    # the refusal budget is water-filled over sources: the small one is kept whole (40), the big
    # one fills the rest (50), rather than 54/36 in proportion to size
    assert Counter(e.source for e in sample if e.label == 1) == {"big": 50, "small": 40}
    assert len({e.text for e in sample}) == 200


def test_refusal_share_keeps_every_refusal_when_there_are_too_few() -> None:
    examples = [Example(text=f"n{i}", label=0) for i in range(500)]
    examples += [Example(text=f"r{i}", label=1) for i in range(10)]
    sample = stratified_sample(examples, max_total=100, refusal_share=0.3, seed=0)
    assert Counter(e.label for e in sample) == {1: 10, 0: 70}


def test_origin_slices_human_and_rule_labels(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"text": "a", "label": 0, "label_origin": "human"},
        {"text": "b", "label": 1, "label_origin": "review"},
        {"text": "c", "label": 1, "label_origin": "rule:lf"},
        {"text": "d", "label": 0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [e.field("origin") for e in load_examples(path)] == ["human", "human", "rule", "unknown"]


def test_capped_train_rows_takes_only_the_train_split(tmp_path: Path) -> None:
    from refusal_detector.training.dataset import capped_train_rows

    rows = [
        {"id": "a", "text": "x", "label": 0, "split": "train"},
        {"id": "b", "text": "y", "label": 1, "split": "test"},
        {"id": "c", "text": "z", "label": None, "split": "train"},
        {"id": "d", "text": "w", "label": 1, "split": "train"},
    ]
    (tmp_path / "balanced_out.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    assert [e.id for e in capped_train_rows(tmp_path, None)] == ["a", "d"]
    assert capped_train_rows(tmp_path / "missing", None) == []
