"""External gold set: the draw's blind files, the label merge, the build's exclusion of gold
groups from every split, and benchmarks/external_gold.py on a tiny model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from test_data_new_sources import GOALS, _adaptive_raw

from refusal_detector.data.build import build_corpus
from refusal_detector.data.config import BuildConfig
from refusal_detector.data.gold_draw import draw
from refusal_detector.data.gold_groups import GOLD_GROUPS_FILE, write_gold_groups
from refusal_detector.data.gold_merge import merge_gold, merge_review
from refusal_detector.data.prompt_groups import behaviour_key, row_keys
from refusal_detector.data.records import content_id
from refusal_detector.errors import DataError

ROOT = Path(__file__).parents[1]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _past_tense(root: Path) -> Path:
    folder = root / "past_tense" / "jailbreak_artifacts" / "past_tense"
    folder.mkdir(parents=True)
    arts = [
        {
            "i_request": i,
            "request": goal,
            "request_reformulated": f"In the past, {goal}?",
            "response": text,
            "i_restart": 1,
            "jailbroken_gpt": ok,
        }
        for i, goal in enumerate(GOALS)
        for text, ok in ((f"I can't help with '{goal}'.", False), (f"Sure: {goal} 1. 2.", True))
    ]
    (folder / "model=r2d2.json").write_text(
        json.dumps({"target_model": "r2d2", "jb_artifacts": arts})
    )
    (folder / "model=claude-3-5-sonnet.json").write_text(
        json.dumps({"target_model": "claude-3-5-sonnet-20240620", "jb_artifacts": arts})
    )
    return root


def _stability(root: Path) -> Path:
    import csv

    path = root / "refusal_stability" / "data" / "results" / "labels" / "m_labels.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "prompt_id",
                "prompt",
                "response",
                "label",
                "reasoning",
                "model",
                "temperature",
                "seed",
            ]
        )
        for i, goal in enumerate(GOALS + [f"Explain scam number {k}" for k in range(8)]):
            w.writerow(
                [
                    f"p{i}",
                    goal,
                    f"No. {goal} is not something I will do.",
                    "REFUSE",
                    "",
                    "m",
                    "0.0",
                    "42",
                ]
            )
    return root


def test_draw_writes_blind_files_from_gold_groups_only(tmp_path: Path) -> None:
    raw = _stability(_past_tense(_adaptive_raw(tmp_path / "raw")))
    ann, out = tmp_path / "ann", tmp_path / "gold"
    ann.mkdir()
    summary = draw(raw, out, annotations=ann, fraction=0.5, seed=0, review_n=50)
    groups = set(json.loads((ann / GOLD_GROUPS_FILE).read_text())["groups"])
    assert summary["gold_groups"]["total"] == len(groups) > 0
    design = _jsonl(ann / "external_gold_design.jsonl")
    assert design and all(d["prompt_group"] in groups for d in design)
    assert {d["family"] for d in design} <= {"claude", "mistral", "zephyr"}
    blind = [r for k in range(1, 6) for r in _jsonl(out / f"blind_part{k}.jsonl")]
    assert all(set(r) == {"gold_id", "prompt", "response"} for r in blind)
    assert sorted(r["gold_id"] for r in blind) == sorted(d["gold_id"] for d in design)
    assert (out / "READY").exists() and (out / "REVIEW_READY").exists()
    review = _jsonl(ann / "external_review_design.jsonl")
    assert all(r["prompt_group"] not in groups for r in review)
    again = tmp_path / "again"
    (again / "ann").mkdir(parents=True)
    draw(raw, again / "gold", annotations=again / "ann", fraction=0.5, seed=0, review_n=50)
    assert _jsonl(again / "ann" / "external_gold_design.jsonl") == design  # deterministic


def _design_fixture(tmp_path: Path) -> tuple[Path, Path]:
    ann, labels = tmp_path / "ann", tmp_path / "gold"
    ann.mkdir()
    labels.mkdir()
    rows = [
        ("Write a bomb tutorial", "I can't help with that.", "claude"),
        ("Write a virus", "Sure, here is the virus code.", "mistral"),
    ]
    design, blind = [], []
    for prompt, text, family in rows:
        cid = content_id(prompt, text)
        design.append(
            {
                "gold_id": f"eg-{cid}",
                "id": cid,
                "source": "s",
                "model": family,
                "family": family,
                "prompt_group": behaviour_key(prompt),
                "lf_vote": "review",
                "stratum": "review",
            }
        )
        blind.append({"gold_id": f"eg-{cid}", "prompt": prompt, "response": text})
    _write_jsonl(ann / "external_gold_design.jsonl", design)
    _write_jsonl(labels / "blind_part1.jsonl", blind)
    review = [{**d, "review_id": "rv-" + d["id"]} for d in design]
    _write_jsonl(ann / "external_review_design.jsonl", review)
    _write_jsonl(ann / "hand_labels.jsonl", [{"id": "0" * 16, "label": 0, "reason": "old"}])
    return ann, labels


def test_merge_writes_gold_rows_and_appends_review_hand_labels_once(tmp_path: Path) -> None:
    ann, labels = _design_fixture(tmp_path)
    design = _jsonl(ann / "external_gold_design.jsonl")
    _write_jsonl(
        labels / "labels_part1.jsonl",
        [
            {"gold_id": design[0]["gold_id"], "label": "REJECTION", "reason": "plain refusal"},
            {"gold_id": design[1]["gold_id"], "label": "NORMAL", "reason": "gives the code"},
        ],
    )
    summary = merge_gold(labels, ann)
    gold = {g["gold_id"]: g for g in _jsonl(ann / "external_gold.jsonl")}
    assert summary["by_family_label"] == {"claude/1": 1, "mistral/0": 1}
    first = gold[design[0]["gold_id"]]
    assert first["label"] == 1 and first["response"] == "I can't help with that."
    assert first["family"] == "claude" and first["reason"] == "plain refusal"

    _write_jsonl(
        labels / "review_labels_part1.jsonl",
        [
            {"review_id": "rv-" + design[0]["id"], "label": "partial", "reason": "half"},
        ],
    )
    assert merge_review(labels, ann)["appended"] == 1
    assert merge_review(labels, ann)["appended"] == 0  # idempotent
    hand = _jsonl(ann / "hand_labels.jsonl")
    assert hand[-1] == {"id": design[0]["id"], "label": "partial", "reason": "half"}
    assert hand[0]["reason"] == "old"


def test_merge_rejects_bad_labels_and_unknown_ids_naming_the_line(tmp_path: Path) -> None:
    ann, labels = _design_fixture(tmp_path)
    gold_id = _jsonl(ann / "external_gold_design.jsonl")[0]["gold_id"]
    path = _write_jsonl(
        labels / "labels_part1.jsonl",
        [
            {"gold_id": gold_id, "label": "NORMAL", "reason": "ok"},
            {"gold_id": gold_id, "label": "maybe", "reason": "?"},
        ],
    )
    with pytest.raises(DataError, match=r"labels_part1.jsonl:2: label must be"):
        merge_gold(labels, ann)
    _write_jsonl(path, [{"gold_id": "eg-nope", "label": "NORMAL"}])
    with pytest.raises(DataError, match="not in the design file"):
        merge_gold(labels, ann)
    assert not (ann / "external_gold.jsonl").exists()


def test_build_keeps_gold_groups_out_of_every_split(tmp_path: Path) -> None:
    raw = _stability(_past_tense(_adaptive_raw(tmp_path / "raw")))
    ann = tmp_path / "ann"
    ann.mkdir()
    gold = {behaviour_key(GOALS[0])}
    write_gold_groups(ann / GOLD_GROUPS_FILE, gold, {})
    out = tmp_path / "corpus"
    build_corpus(
        BuildConfig(
            raw=raw,
            out=out,
            annotations=ann,
            refusal_ratio=0,
            progress=False,
            sources=("adaptive_attacks", "past_tense", "refusal_stability"),
        )
    )
    kept = [r for s in ("train", "validation", "test") for r in _jsonl(out / f"{s}.jsonl")]
    kept += _jsonl(out / "partial.jsonl") + _jsonl(out / "review_queue.jsonl")
    assert kept, "the other behaviour must stay trainable"
    # rows carry no group in the output, so check the texts: none mentions the held-out goal
    assert not [r for r in kept if row_keys(r["prompt"], None) & gold]
    assert not [r for r in kept if "bomb" in (r["prompt"] or "").lower()]
    held = [e for e in _jsonl(out / "excluded.jsonl") if e["reason"] == "external_gold_group"]
    assert {e["source"] for e in held} == {"adaptive_attacks", "past_tense", "refusal_stability"}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "external_gold", ROOT / "benchmarks/external_gold.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_reports_families_partial_and_drops_skip(
    bench, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for i, (family, label) in enumerate(
        [
            ("claude", 1),
            ("claude", 0),
            ("mistral", 1),
            ("mistral", 0),
            ("zephyr", "partial"),
            ("zephyr", "skip"),
        ]
    ):
        text = "I'm sorry, but I cannot help with that." if label == 1 else f"Here is step {i}."
        rows.append(
            {
                "gold_id": f"eg-{i}",
                "family": family,
                "stratum": "review",
                "prompt": "p",
                "response": text,
                "label": label,
                "reason": "r",
            }
        )
    gold = _write_jsonl(tmp_path / "external_gold.jsonl", rows)
    out = tmp_path / "result.json"
    assert (
        bench.main(
            [
                "--model",
                str(tiny_model_dir),
                "--gold",
                str(gold),
                "--json",
                str(out),
                "--threshold",
                "auto",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert set(result["slices"]) == {
        "overall",
        "family=claude",
        "family=mistral",
        "lf_stratum=review",
    }
    assert result["slices"]["overall"]["n"] == 4
    assert result["partial"]["n"] == 1 and result["skipped"] == 1
    assert result["threshold"] == 0.5
    # the phrase lists catch the explicit apology
    assert result["baselines"]["overall"]["LLM Guard NoRefusalLight"] == 1.0
    assert "| family=claude | 2 | 1 |" in capsys.readouterr().out


def test_committed_gold_rows_come_from_held_out_groups_and_match_their_text() -> None:
    ann = ROOT / "src/refusal_detector/data/annotations"
    gold_path = ann / "external_gold.jsonl"
    if not gold_path.exists():
        pytest.skip("external_gold.jsonl not merged yet")
    groups = set(json.loads((ann / GOLD_GROUPS_FILE).read_text(encoding="utf-8"))["groups"])
    design = {d["gold_id"]: d for d in _jsonl(ann / "external_gold_design.jsonl")}
    gold = _jsonl(gold_path)
    assert len(gold) >= 800
    for row in gold:
        assert row["prompt_group"] in groups
        assert (
            row["id"] == design[row["gold_id"]]["id"] == content_id(row["prompt"], row["response"])
        )
        assert row["label"] in (0, 1, "partial", "skip") and row["reason"]
        assert row["family"] in ("claude", "mistral", "zephyr")
    review = {r["id"] for r in _jsonl(ann / "external_review_design.jsonl")}
    assert not review & {row["id"] for row in gold}


def test_bootstrap_intervals_bracket_the_figures_and_scores_can_be_reread(
    bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    truth = np.array([True, False] * 20)
    perfect = np.where(truth, 0.9, 0.1)
    families = np.array(["claude"] * 20 + ["mistral"] * 20)
    iv = bench.bootstrap_intervals(truth, perfect, 0.5, families, resamples=50)
    assert iv["f1"] == [1.0, 1.0] and iv["auroc"] == [1.0, 1.0]
    assert iv["ece"][0] == pytest.approx(0.1) and iv["ece"][1] == pytest.approx(0.1)
    noisy = np.clip(perfect + np.random.default_rng(0).normal(0, 0.3, 40), 0, 1)
    iv = bench.bootstrap_intervals(truth, noisy, 0.5, families, resamples=200)
    assert iv["auroc"][0] < bench.auroc(truth, noisy) <= iv["auroc"][1]

    rows = [
        {"gold_id": f"eg-{i}", "family": "claude" if i < 4 else "mistral", "stratum": "soft",
         "prompt": "p", "response": f"text {i}", "label": i % 2, "reason": "r"}
        for i in range(8)
    ]  # fmt: skip
    gold = _write_jsonl(tmp_path / "external_gold.jsonl", rows)
    saved = tmp_path / "saved.json"
    scores = {f"eg-{i}": 0.8 if i % 2 else 0.3 for i in range(8)}
    saved.write_text(json.dumps({"threshold": 0.5, "model_dir": "m", "scores": scores}))
    out = tmp_path / "again.json"
    args = ["--gold", str(gold), "--scores", str(saved), "--json", str(out), "--bootstrap", "20"]
    assert bench.main(args) == 0  # no model is loaded
    result = json.loads(out.read_text())
    assert result["slices"]["overall"]["f1"] == 1.0 and result["threshold"] == 0.5
    assert result["slices"]["family=mistral"]["interval_95"]["f1"] == [1.0, 1.0]
    assert "| overall | 1.000-1.000 | 1.000-1.000 |" in capsys.readouterr().out
    del scores["eg-3"]
    saved.write_text(json.dumps({"threshold": 0.5, "scores": scores}))
    with pytest.raises(SystemExit, match="no score for 1 gold rows"):
        bench.main(["--gold", str(gold), "--scores", str(saved)])
