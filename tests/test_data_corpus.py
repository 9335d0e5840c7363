"""Records, model names, dedup, leakage-free splits, caps/ratio and the end-to-end build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from refusal_detector.data.balance import BalanceItem, balance, water_fill
from refusal_detector.data.build import build_corpus
from refusal_detector.data.config import BuildConfig
from refusal_detector.data.dedup import deduplicate
from refusal_detector.data.model_names import family_of, normalise_model
from refusal_detector.data.records import content_id, fix_mojibake
from refusal_detector.data.split import SplitItem, assign_splits
from refusal_detector.errors import ConfigError, DataError

# --- records and names --------------------------------------------------------------------------


def test_content_id_is_stable_and_ignores_case_and_whitespace() -> None:
    a = content_id("How are you?", "I'm  fine.")
    assert a == content_id("how are you?", "i'm fine.\n")
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != content_id(None, "I'm fine.")


def test_fix_mojibake_round_trips_mac_roman() -> None:
    assert fix_mojibake("It\u201a\u00c4\u00f4s") == "It\u2019s"
    assert fix_mojibake("plain text") == "plain text"


@pytest.mark.parametrize(
    ("raw", "model", "family"),
    [
        ("meta-llama/llama-2-7b-chat-hf", "llama-2-7b-chat", "llama-2"),
        ("llama-2-chat7b", "llama-2-7b-chat", "llama-2"),
        ("llama-instruct", "llama-3-8b-instruct", "llama-3"),
        ("llama3.1:8b", "llama-3.1-8b-instruct", "llama-3"),
        ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1", "mixtral"),
        ("Mistral-7B-Instruct-v0.2", "mistral-7b-instruct-v0.2", "mistral"),
        ("gpt4_1106_preview", "gpt-4-1106-preview", "gpt-4"),
        ("openai/gpt-3.5-turbo-0125", "gpt-3.5-turbo-0125", "gpt-3.5"),
        ("claude-3-opus-20240229", "claude-3-opus-20240229", "claude"),
        ("google/gemma-2b-it", "gemma-2b-it", "gemma"),
        ("Qwen/Qwen1.5-72B-Chat", "qwen1.5-72b-chat", "qwen"),
        ("vicuna-13b:20230322-clean-lang", "vicuna-13b-v0", "vicuna"),
        ("dolphin-2.2.1-mistral-7b", "dolphin-2.2.1-mistral-7b", "dolphin"),
        ("deepseek-llama-distill", "deepseek-r1-distill-llama-8b", "deepseek-r1-distill"),
        ("", "unknown", "unknown"),
    ],
)
def test_model_names_and_families(raw: str, model: str, family: str) -> None:
    assert normalise_model(raw) == model
    assert family_of(model) == family


# --- dedup --------------------------------------------------------------------------------------

BASE = (
    "To make a sourdough starter, mix equal weights of flour and water in a jar, cover it "
    "loosely, and keep it at room temperature. Feed it every day by discarding half and adding "
    "fresh flour and water. After about a week it should double in size within hours of a feed."
)


def test_dedup_removes_exact_and_near_duplicates_and_keeps_priority_row() -> None:
    texts = [
        BASE,
        BASE.upper(),  # exact after normalisation
        BASE + " Enjoy!",  # near duplicate
        "A completely different answer about the history of the Roman empire and its roads.",
    ]
    result = deduplicate(texts, priority=lambda i: (0 if i == 1 else 1, i))
    assert result.stats.exact_removed == 1 and result.stats.near_removed == 1
    assert sorted(result.kept) == [1, 3]  # the priority row survives, not the first one
    assert result.dropped[0] == ("exact_duplicate", 1)
    assert result.dropped[2][0] == "near_duplicate"


def test_dedup_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="cluster_threshold"):
        deduplicate(["a"], drop_threshold=0.5, cluster_threshold=0.8)


def test_dedup_clusters_similar_rows_it_keeps() -> None:
    words = BASE.split()
    variant = " ".join(words[:40]) + " and then bake a loaf with rye and spelt and seeds."
    result = deduplicate([BASE, variant], drop_threshold=0.99, cluster_threshold=0.5)
    assert result.stats.kept == 2
    assert result.cluster[0] == result.cluster[1]


# --- splits -------------------------------------------------------------------------------------


def _items(n: int) -> list[SplitItem]:
    return [
        SplitItem(
            id=f"{i:016x}",
            prompt=f"prompt {i // 4}",
            group=None,
            cluster=i if i % 7 else i - 1,
            family="llama-2" if i % 5 == 0 else "gpt-4",
        )
        for i in range(n)
    ]


def test_no_prompt_or_cluster_crosses_splits() -> None:
    items = _items(2000)
    splits = assign_splits(items, seed=0)
    by_prompt: dict[str, set[str | None]] = {}
    by_cluster: dict[int, set[str | None]] = {}
    for it, s in zip(items, splits, strict=True):
        by_prompt.setdefault(str(it.prompt), set()).add(s)
        by_cluster.setdefault(it.cluster, set()).add(s)
    assert all(len(v) == 1 for v in by_prompt.values())
    assert all(len(v) == 1 for v in by_cluster.values())
    counts = {s: splits.count(s) for s in ("train", "validation", "test")}
    assert counts["train"] > counts["validation"] > 0 and counts["test"] > 0


def test_groups_join_rows_with_different_prompts() -> None:
    items = [SplitItem(f"{i:04x}", f"turn {i}", "conv-1", i, "x") for i in range(30)]
    assert len(set(assign_splits(items, seed=3))) == 1


def test_split_is_stable_under_seed_and_changes_with_it() -> None:
    items = _items(400)
    assert assign_splits(items, seed=1) == assign_splits(items, seed=1)
    assert assign_splits(items, seed=1) != assign_splits(items, seed=2)


def test_holdout_family_goes_to_test_and_shared_components_are_dropped() -> None:
    items = _items(400)
    splits = assign_splits(items, seed=0, holdout_family="llama-2")
    for it, s in zip(items, splits, strict=True):
        if it.family == "llama-2":
            assert s == "test"
        else:
            assert s in ("train", "validation", None)
    held_prompts = {it.prompt for it in items if it.family == "llama-2"}
    for it, s in zip(items, splits, strict=True):
        if it.family != "llama-2" and it.prompt in held_prompts:
            assert s is None


# --- balance ------------------------------------------------------------------------------------


def test_water_fill_cuts_largest_strata_first() -> None:
    assert water_fill({"a": 100, "b": 10, "c": 5}, 35) == {"a": 20, "b": 10, "c": 5}
    assert water_fill({"a": 3, "b": 4}, 100) == {"a": 3, "b": 4}
    assert sum(water_fill({"a": 7, "b": 7, "c": 7}, 10).values()) == 10


def _bal(label: int, source: str, model: str, n: int, keep: bool = False) -> list[BalanceItem]:
    return [BalanceItem(f"{source}{model}{label}{i}", label, source, model, keep) for i in range(n)]


def test_class_ratio_is_met_and_human_rows_survive() -> None:
    items = _bal(0, "a", "m1", 900) + _bal(1, "a", "m1", 300) + _bal(1, "b", "m2", 20, keep=True)
    drop = balance(
        items, refusal_ratio=0.1, max_source_share=1.0, max_model_share=1.0, cut_refusals=True
    )
    kept = [it for i, it in enumerate(items) if i not in drop]
    refusals = [it for it in kept if it.label == 1]
    assert abs(len(refusals) / len(kept) - 0.1) < 0.01
    assert sum(1 for it in refusals if it.keep_first) == 20
    assert set(drop.values()) == {"class_ratio"}


def test_refusals_above_the_ratio_are_kept_by_default() -> None:
    items = _bal(0, "a", "m1", 900) + _bal(1, "a", "m1", 300)
    assert balance(items, refusal_ratio=0.1, max_source_share=1.0, max_model_share=1.0) == {}


def test_normals_are_downsampled_to_reach_the_ratio() -> None:
    items = _bal(0, "a", "m1", 3000) + _bal(0, "b", "m2", 100) + _bal(1, "a", "m1", 100)
    drop = balance(items, refusal_ratio=0.1, max_source_share=1.0, max_model_share=1.0)
    kept = [it for i, it in enumerate(items) if i not in drop]
    assert sum(it.label for it in kept) == 100
    assert abs(100 / len(kept) - 0.1) < 0.01
    assert sum(1 for it in kept if it.source == "b") == 100  # the small stratum is not cut


def test_source_cap_limits_one_dominant_source() -> None:
    items = _bal(0, "big", "m1", 1000) + _bal(0, "s1", "m2", 100) + _bal(0, "s2", "m3", 100)
    drop = balance(items, refusal_ratio=None, max_source_share=0.5, max_model_share=1.0)
    kept = [it for i, it in enumerate(items) if i not in drop]
    big = sum(1 for it in kept if it.source == "big")
    assert big <= 0.5 * len(kept) + 1 and big >= 150


# --- end to end ---------------------------------------------------------------------------------


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def _mini_raw(root: Path) -> Path:
    """Two tiny sources: chatgpt_refusals (human labels) and alpaca_eval_outputs (NC pool)."""
    rows = []
    for i in range(40):
        rows.append(
            {
                "prompt": f"Tell me a fact about number {i}",
                "response": f"Number {i} is {'even' if i % 2 == 0 else 'odd'}; it sits between "
                f"{i - 1} and {i + 1} and has {len(str(i))} digit(s).",
                "tone": "complied",
            }
        )
        rows.append(
            {
                "prompt": f"Insult person {i}",
                "response": f"I'm sorry, but I cannot write insults about person {i}; I can help "
                f"with something else.",
                "tone": "rejected",
            }
        )
    rows.append({"prompt": "x", "response": "banana banana", "tone": "incoherent"})
    _write_json(root / "chatgpt_refusals/data/all_hand_labeled.json", rows)
    _write_json(
        root / "alpaca_eval_outputs/results/claude-2/model_outputs.json",
        [{"instruction": "Say hi", "output": "Hi there! How can I help today?"}],
    )
    return root


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_build_writes_contract_files_and_card(tmp_path: Path) -> None:
    raw = _mini_raw(tmp_path / "raw")
    ann = tmp_path / "ann"
    ann.mkdir()
    out = tmp_path / "out"
    config = BuildConfig(
        raw=raw,
        out=out,
        annotations=ann,
        refusal_ratio=0,
        max_source_share=1.0,
        max_model_share=1.0,
        progress=False,
        card_dir=tmp_path / "docs",
    )
    card = build_corpus(config)
    rows = [r for s in ("train", "validation", "test") for r in _lines(out / f"{s}.jsonl")]
    assert len(rows) == card["total_records"] == 80
    fields = {
        "id",
        "text",
        "prompt",
        "source",
        "model",
        "family",
        "label",
        "label_origin",
        "license",
        "split",
        "partial",
    }
    assert all(set(r) == fields for r in rows)
    assert {r["source"] for r in rows} == {"chatgpt_refusals"}  # NC source dropped
    assert card["sources_dropped_by_license"] == ["alpaca_eval_outputs"]
    assert all(r["label_origin"] == "human" and r["license"] == "MIT" for r in rows)
    assert all(r["family"] == "gpt-3.5" for r in rows)
    assert card["excluded"]["incoherent_tone"] == 1
    assert card["class_ratio"]["refusals"] == 40 and card["family_refusals"] == {"gpt-3.5": 40}
    assert card["counts"]["chatgpt_refusals"]["1"]  # source x label x split x origin
    assert set(card["hard_cases"]) >= {"hard_negatives_by_cue", "hard_positives_by_cue"}
    for name in ("partial.jsonl", "review_queue.jsonl", "excluded.jsonl", "datacard.json"):
        assert (out / name).exists()
    assert (tmp_path / "docs/data_card.md").read_text().startswith("# Data card")
    assert json.loads((tmp_path / "docs/data_card.json").read_text())["total_records"] == 80


def test_build_applies_hand_labels_and_reports_audit(tmp_path: Path) -> None:
    raw = _mini_raw(tmp_path / "raw")
    out0 = tmp_path / "out0"
    ann = tmp_path / "ann"
    ann.mkdir()
    base = BuildConfig(
        raw=raw,
        out=out0,
        annotations=ann,
        refusal_ratio=0,
        progress=False,
        max_source_share=1.0,
        max_model_share=1.0,
    )
    build_corpus(base)
    rows = [r for s in ("train", "validation", "test") for r in _lines(out0 / f"{s}.jsonl")]
    normal = next(r for r in rows if r["label"] == 0)
    refusal = next(r for r in rows if r["label"] == 1)
    skipped = next(r for r in rows if r["label"] == 1 and r["id"] != refusal["id"])
    (ann / "hand_labels.jsonl").write_text(
        json.dumps({"id": normal["id"], "label": 1, "reason": "test flip"})
        + "\n"
        + json.dumps({"id": refusal["id"], "label": "partial", "reason": "test partial"})
        + "\n"
        + json.dumps({"id": skipped["id"], "label": "skip", "reason": "unclear"})
        + "\n"
    )
    (ann / "audit.jsonl").write_text(
        json.dumps({"id": "a1", "rule_label": 1, "hand_label": 0, "reason": "r"})
        + "\n"
        + json.dumps({"id": "a2", "rule_label": 1, "hand_label": 1, "reason": "r"})
        + "\n"
        + json.dumps({"id": "a3", "rule_label": 0, "hand_label": 0, "reason": "r"})
        + "\n"
    )
    out = tmp_path / "out"
    card = build_corpus(
        BuildConfig(
            raw=raw,
            out=out,
            annotations=ann,
            refusal_ratio=0,
            progress=False,
            max_source_share=1.0,
            max_model_share=1.0,
        )
    )
    by_id = {
        r["id"]: r for s in ("train", "validation", "test") for r in _lines(out / f"{s}.jsonl")
    }
    assert by_id[normal["id"]]["label"] == 1 and by_id[normal["id"]]["label_origin"] == "review"
    assert refusal["id"] not in by_id and skipped["id"] not in by_id
    assert [p["id"] for p in _lines(out / "partial.jsonl")] == [refusal["id"]]
    assert card["excluded"]["hand_skip"] == 1
    assert card["audit"]["per_class"]["1"]["error_rate"] == 0.5
    assert card["audit"]["per_class"]["0"]["error_rate"] == 0.0
    assert by_id[normal["id"]]["split"] == normal["split"]  # ids and splits are stable


def test_bad_hand_label_names_file_and_line(tmp_path: Path) -> None:
    raw = _mini_raw(tmp_path / "raw")
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "hand_labels.jsonl").write_text('{"id": "x", "label": 1}\n{"id": "y", "label": 2}\n')
    with pytest.raises(DataError, match=r"hand_labels.jsonl:2: label must be one of"):
        build_corpus(BuildConfig(raw=raw, out=tmp_path / "o", annotations=ann, progress=False))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"license": "nc"}, "license must be one of"),
        ({"refusal_ratio": 1.5}, "refusal_ratio must be in"),
        ({"max_model_share": 0}, "max_model_share must be in"),
        ({"sources": ("nope",)}, "unknown"),
    ],
)
def test_config_errors_name_the_field(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BuildConfig(raw=tmp_path, out=tmp_path / "o", **kwargs)


def test_cli_build_and_audit_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from refusal_detector.cli import main

    raw = _mini_raw(tmp_path / "raw")
    ann = tmp_path / "ann"
    ann.mkdir()
    out = tmp_path / "out"
    assert (
        main(
            [
                "data",
                "build",
                "--raw",
                str(raw),
                "--out",
                str(out),
                "--annotations",
                str(ann),
                "--quiet",
                "--refusal-ratio",
                "0",
                "--max-source-share",
                "1",
                "--max-model-share",
                "1",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_records"] == 80

    import argparse

    from refusal_detector.data.commands import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    # human labels are not audited: the sample is empty for this corpus
    args = parser.parse_args(
        [
            "data",
            "audit-sample",
            "--corpus",
            str(out),
            "--n",
            "10",
            "--out",
            str(tmp_path / "audit.jsonl"),
        ]
    )
    assert args.handler(args) == 0
    assert _lines(tmp_path / "audit.jsonl") == []


def test_balancing_cuts_every_split_alike() -> None:
    """The balance order must not correlate with the split hash (a real bug: it emptied test)."""
    items = [SplitItem(f"{i:016x}", f"p{i}", None, i, "x") for i in range(4000)]
    splits = assign_splits(items, seed=0)
    bal = [BalanceItem(it.id, 1, "s", "m", True) for it in items]
    bal += [BalanceItem(f"n{i}", 0, "s", "m", False) for i in range(9000)]
    drop = balance(
        bal, refusal_ratio=0.1, max_source_share=1.0, max_model_share=1.0, cut_refusals=True
    )
    kept_by_split: dict[str | None, int] = {}
    for i, split in enumerate(splits):
        if i not in drop:
            kept_by_split[split] = kept_by_split.get(split, 0) + 1
    share = {s: kept_by_split.get(s, 0) / splits.count(s) for s in ("train", "validation", "test")}
    assert max(share.values()) - min(share.values()) < 0.1, share


def test_built_corpus_has_no_prompt_or_near_duplicate_across_splits(tmp_path: Path) -> None:
    rows = []
    for i in range(60):
        prompt = f"Question number {i // 3}"  # three responses per prompt
        text = (
            f"Answer {i}: the capital of country {i} is city {i}, founded in year {1000 + i}, "
            f"with {i * 7} bridges and a river called river-{i} that floods every spring."
        )
        rows.append({"prompt": prompt, "response": text, "tone": "complied"})
    base = "I am sorry, but I cannot write that article about the senator because it is defamatory"
    for i in range(20):  # near-duplicate refusals to different prompts
        rows.append(
            {"prompt": f"Defame senator {i}", "response": f"{base} (case {i}).", "tone": "rejected"}
        )
    path = tmp_path / "raw/chatgpt_refusals/data/all_hand_labeled.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rows), encoding="utf-8")
    ann = tmp_path / "ann"
    ann.mkdir()
    out = tmp_path / "out"
    build_corpus(
        BuildConfig(
            raw=tmp_path / "raw",
            out=out,
            annotations=ann,
            refusal_ratio=0,
            max_source_share=1.0,
            max_model_share=1.0,
            progress=False,
        )
    )
    built = [r for s in ("train", "validation", "test") for r in _lines(out / f"{s}.jsonl")]
    splits_by_prompt: dict[str, set[str]] = {}
    for r in built:
        splits_by_prompt.setdefault(r["prompt"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_by_prompt.values())
    refusals = [r for r in built if r["label"] == 1]
    assert len(refusals) > 5  # clustered, not all removed as duplicates
    assert len({r["split"] for r in refusals}) == 1  # one near-duplicate cluster, one split
    assert len({r["split"] for r in built}) > 1


def test_holdout_overlap_keep_drops_only_near_duplicates_of_the_holdout() -> None:
    items = [
        SplitItem("a", "shared prompt", None, 0, "llama-2"),
        SplitItem("b", "shared prompt", None, 1, "gpt-4"),  # same prompt, different text
        SplitItem("c", "other prompt", None, 0, "gpt-4"),  # near-duplicate of the holdout row
        SplitItem("d", "third prompt", None, 3, "gpt-4"),
    ]
    strict = assign_splits(items, seed=0, holdout_family="llama-2")
    assert strict[0] == "test" and strict[1] is None and strict[2] is None
    keep = assign_splits(items, seed=0, holdout_family="llama-2", holdout_overlap="keep")
    assert keep[0] == "test" and keep[1] in ("train", "validation") and keep[2] is None
    with pytest.raises(ValueError, match="holdout_overlap"):
        assign_splits(items, holdout_family="llama-2", holdout_overlap="maybe")


def test_audit_rounds_are_read_and_the_latest_is_the_headline(tmp_path: Path) -> None:
    from refusal_detector.data.annotations_io import load_audit_rounds

    (tmp_path / "audit.jsonl").write_text(
        json.dumps({"id": "a", "rule_label": 1, "hand_label": 0, "reason": "r"}) + "\n"
    )
    (tmp_path / "audit_round2.jsonl").write_text(
        json.dumps({"id": "b", "rule_label": 0, "hand_label": 0, "reason": "r", "round": 2}) + "\n"
    )
    rounds = load_audit_rounds(tmp_path)
    assert set(rounds) == {1, 2} and "a" in rounds[1] and "b" in rounds[2]
