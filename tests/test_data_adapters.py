"""Every adapter's parsing and mapping rules, on tiny fixture files written here (no raw data)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from refusal_detector.data.adapters import ADAPTERS
from refusal_detector.data.adapters import refusal_tokens_outputs as rto
from refusal_detector.data.adapters.hh_rlhf_harmless_test import split_dialogue
from refusal_detector.data.adapters.overrefusal_legal_orbench import condition_of
from refusal_detector.data.adapters.safedecoding_experts import split_exchange
from refusal_detector.data.records import Candidate
from refusal_detector.errors import DataError


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _json(path: Path, obj: Any) -> Path:
    return _write(path, json.dumps(obj))


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    return _write(path, "".join(json.dumps(r) + "\n" for r in rows))


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read(name: str, root: Path) -> list[Candidate]:
    return list(ADAPTERS[name].read(root))


def test_every_source_folder_has_an_adapter_with_a_licence() -> None:
    assert len(ADAPTERS) == 20
    nc = {n for n, a in ADAPTERS.items() if a.license_class == "nc"}
    assert nc == {"alpaca_eval_outputs", "safety_tuned_llamas"}
    assert all(a.license for a in ADAPTERS.values())


def test_chatgpt_refusals_strict_tone_mapping(tmp_path: Path) -> None:
    tones = [
        "rejected",
        "redirected",
        "complied",
        "disclaimed",
        "contradicted",
        "dontknow",
        "counseling",
        "incoherent",
    ]
    rows = [{"prompt": f"p{i}", "response": f"r{i}", "tone": t} for i, t in enumerate(tones)]
    _json(tmp_path / "chatgpt_refusals/data/all_hand_labeled.json", rows)
    got = {c.subset: c for c in _read("chatgpt_refusals", tmp_path)}
    assert [got[t].source_label for t in tones[:5]] == [1, 1, 0, 0, 0]
    assert got["dontknow"].source_label is None and got["counseling"].source_label is None
    assert got["incoherent"].exclude_reason == "incoherent_tone"
    assert got["rejected"].source_rule == "human" and got["rejected"].model_raw == "gpt-3.5-turbo"


def test_chatgpt_refusals_unknown_tone_is_a_data_error(tmp_path: Path) -> None:
    _json(
        tmp_path / "chatgpt_refusals/data/all_hand_labeled.json",
        [{"prompt": "p", "response": "r", "tone": "angry"}],
    )
    with pytest.raises(DataError, match="unknown tone 'angry'"):
        _read("chatgpt_refusals", tmp_path)


def test_gptfuzz_joins_questions_and_keeps_harm_label_out_of_the_label(tmp_path: Path) -> None:
    base = tmp_path / "gptfuzz/datasets"
    _csv(base / "questions/question_list.csv", [{"index": "3", "text": "How to pick a lock?"}])
    _csv(
        base / "responses_labeled/train.csv",
        [{"question": "3", "Response": "Sure, here...", "label": "1"}],
    )
    _csv(
        base / "responses_labeled/evaluate.csv",
        [{"question": "3", "Response": "I'm sorry.", "label": "0"}],
    )
    rows = _read("gptfuzz", tmp_path)
    assert [r.meta["jailbroken"] for r in rows] == [True, False]
    assert all(r.source_label is None for r in rows)
    assert rows[0].prompt == "How to pick a lock?" and rows[0].group == rows[1].group


def test_gptfuzz_bad_label_names_the_line(tmp_path: Path) -> None:
    base = tmp_path / "gptfuzz/datasets"
    _csv(base / "questions/question_list.csv", [{"index": "0", "text": "q"}])
    _csv(base / "responses_labeled/train.csv", [{"question": "0", "Response": "x", "label": "2"}])
    _csv(
        base / "responses_labeled/evaluate.csv", [{"question": "0", "Response": "x", "label": "0"}]
    )
    with pytest.raises(DataError, match=r"train.csv:2: label must be 0 or 1"):
        _read("gptfuzz", tmp_path)


def test_refusal_direction_excludes_steered_actadd_and_ignores_substring_label(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "refusal_direction/pipeline/runs/gemma-2b-it/completions"
    item = {"category": None, "prompt": "p", "response": "r", "is_jailbreak_substring_matching": 0}
    for cond in ("harmless_actadd", "jailbreakbench_baseline"):
        _json(runs / f"{cond}_evaluations.json", {"completions": [item]})
    rows = {r.subset: r for r in _read("refusal_direction", tmp_path)}
    assert rows["harmless_actadd"].exclude_reason == "steered_actadd"
    assert rows["jailbreakbench_baseline"].exclude_reason is None
    assert rows["jailbreakbench_baseline"].source_label is None
    assert rows["jailbreakbench_baseline"].model_raw == "gemma-2b-it"


def test_jailbreakbench_artifacts_skips_null_responses_and_test_artifact(tmp_path: Path) -> None:
    base = tmp_path / "jailbreakbench_artifacts/attack-artifacts"
    data = {
        "parameters": {"model": "llama-2-7b-chat-hf"},
        "jailbreaks": [
            {"goal": "g", "prompt": "p", "response": "r", "jailbroken": True},
            {"goal": "g2", "prompt": None, "response": None, "jailbroken": False},
        ],
    }
    _json(base / "PAIR/black_box/llama-2-7b-chat-hf.json", data)
    _json(base / "PAIR/attack-info.json", {"method": "PAIR"})
    _json(base / "test-artifact/x/y.json", data)
    rows = _read("jailbreakbench_artifacts", tmp_path)
    assert len(rows) == 1
    assert rows[0].meta == {"jailbroken": True} and rows[0].source_label is None


def test_jbb_judge_comparison_decodes_cp1252_bytes_without_mojibake(tmp_path: Path) -> None:
    header = b"Index,goal,prompt,target_response,human1,human2,human3,human_majority\n"
    row = "0,g,p,The best way to smash a pi\u00f1ata is...,0,0,0,0\n".encode("cp1252")
    _write(tmp_path / "jbb_judge_comparison/judge-comparison.csv", header + row)
    (cand,) = _read("jbb_judge_comparison", tmp_path)
    assert "pi\u00f1ata" in cand.text
    assert cand.meta["jailbroken"] is False and cand.model_raw == ""


def test_jailbreakeval_harm_label_goes_to_meta(tmp_path: Path) -> None:
    for name in ("JAILJUDGEmini.csv", "Safe-RLHFmini.csv"):
        _csv(
            tmp_path / "jailbreakeval_judge_sets/data" / name,
            [{"question": "q", "answer": "a", "label": "1"}],
        )
    rows = _read("jailbreakeval_judge_sets", tmp_path)
    assert len(rows) == 2 and all(r.meta["jailbroken"] for r in rows)
    assert {r.subset for r in rows} == {"JAILJUDGEmini", "Safe-RLHFmini"}


def test_llm_self_defense_models_from_filenames(tmp_path: Path) -> None:
    for name in ("all_repsonses_gpt.csv", "all_repsonses_llama.csv"):
        _csv(
            tmp_path / "llm_self_defense" / name,
            [{"prompt": "p", "response": "r", "is harmful?": "Yes"}],
        )
    rows = _read("llm_self_defense", tmp_path)
    assert {r.model_raw for r in rows} == {"gpt-3.5-turbo", "llama-2-7b-chat"}
    assert all(r.source_label is None and r.hint < 0 for r in rows)


@pytest.mark.parametrize(
    ("filename", "condition"),
    [
        ("orbench_harmful200_results.csv", "none"),
        ("orbench_harmful200_p2_lawyer_results.csv", "p2_lawyer"),
        ("orbench_violence200_p3_jailbreak_new_results.csv", "p3_jailbreak"),
        ("orbench_sexual200_prefix_apertus_results.csv", "prefix"),
    ],
)
def test_orbench_condition_from_filename(filename: str, condition: str) -> None:
    assert condition_of(filename) == condition


def test_orbench_is_refused_is_only_a_hint_and_errors_are_excluded(tmp_path: Path) -> None:
    common = {
        "domain": "general",
        "category": "harmful",
        "task_variant": "normal",
        "lang": "en",
        "model": "qwen3:8b",
        "backend": "ollama",
        "prompt": "p",
    }
    rows = [
        {
            **common,
            "prompt_id": "a",
            "response_preview": "r1",
            "is_refused": "True",
            "is_error": "False",
        },
        {
            **common,
            "prompt_id": "b",
            "response_preview": "r2",
            "is_refused": "False",
            "is_error": "True",
        },
    ]
    _csv(tmp_path / "overrefusal_legal_orbench/results/english/main/orbench_x_results.csv", rows)
    a, b = _read("overrefusal_legal_orbench", tmp_path)
    assert a.source_label is None and 0 < a.hint < 0.5
    assert b.exclude_reason == "is_error"


def test_coconot_ignores_is_refusal_and_repairs_mojibake(tmp_path: Path) -> None:
    base = tmp_path / "coconot"
    _jsonl(
        base / "commit_3206be6/data/coconot_evaluation.jsonl",
        [
            {
                "id": "1",
                "prompt": "p",
                "category": "c",
                "is_refusal": True,
                "response": "It\u201a\u00c4\u00f4s a full answer.",
            },
            {"id": "2", "prompt": "p2", "is_refusal": True, "response": None},
        ],
    )
    _jsonl(
        base / "commit_3206be6/data/coconot_contrast_eval.jsonl",
        [{"id": "3", "prompt": "How to kill a python process?", "response": "Use kill."}],
    )
    _jsonl(
        base / "commit_25bf77c_HEAD_data/coconot_pref.jsonl",
        [
            {
                "id": "4",
                "prompt": "p4",
                "chosen": "good",
                "chosen_model": "gpt-4",
                "rejected": "I can't.",
                "rejected_model": "",
            },
        ],
    )
    rows = {r.subset: r for r in _read("coconot", tmp_path)}
    assert set(rows) == {"evaluation", "contrast", "pref_chosen", "pref_rejected"}
    assert all(r.source_label is None for r in rows.values())
    assert rows["evaluation"].text == "It\u2019s a full answer."
    assert rows["pref_chosen"].model_raw == "gpt-4" and rows["pref_rejected"].model_raw == ""
    assert rows["contrast"].hint < 0


def test_wildbench_has_no_prompt_and_excludes_empty_outputs(tmp_path: Path) -> None:
    items = [
        {"session_id": "s1", "model_test": "google/gemma-2b-it", "model_output": "answer"},
        {"session_id": "s2", "model_test": "google/gemma-2b-it", "model_output": ""},
    ]
    _json(tmp_path / "wildbench_outputs/eval_results/v2/score/eval=x/gemma-2b-it.json", items)
    a, b = _read("wildbench_outputs", tmp_path)
    assert a.prompt is None and a.model_raw == "google/gemma-2b-it" and a.group == "wildbench:s1"
    assert b.exclude_reason == "empty_response"


def test_arena_hard_joins_questions_by_uid(tmp_path: Path) -> None:
    v = tmp_path / "arena_hard_answers/data/arena-hard-v0.1"
    _jsonl(v / "question.jsonl", [{"uid": "u1", "prompt": "Write ABC notation"}])
    _jsonl(
        v / "model_answer/gpt-4-0314.jsonl",
        [
            {
                "uid": "u1",
                "model": "gpt-4-0314",
                "messages": [
                    {"role": "user", "content": "Write ABC notation"},
                    {"role": "assistant", "content": {"answer": "X:1\nT:Tune"}},
                ],
            }
        ],
    )
    (row,) = _read("arena_hard_answers", tmp_path)
    assert (row.prompt, row.text, row.model_raw) == (
        "Write ABC notation",
        "X:1\nT:Tune",
        "gpt-4-0314",
    )


def test_fastchat_vicuna_bench_and_mt_bench_turns(tmp_path: Path) -> None:
    table = tmp_path / "fastchat_bench_answers/fastchat/eval/table"
    _jsonl(table / "question.jsonl", [{"question_id": 1, "text": "Q1", "category": "generic"}])
    _jsonl(
        table / "answer/answer_vicuna-7b.jsonl",
        [{"question_id": 1, "text": ": Time management is...", "model_id": "vicuna-7b:v0"}],
    )
    mt = tmp_path / "fastchat_bench_answers/fastchat/llm_judge/data/mt_bench"
    _jsonl(mt / "question.jsonl", [{"question_id": 81, "turns": ["T1", "T2"]}])
    _jsonl(
        mt / "model_answer/gpt-4o.jsonl",
        [{"question_id": 81, "model_id": "gpt-4o", "choices": [{"turns": ["A1", "A2"]}]}],
    )
    rows = _read("fastchat_bench_answers", tmp_path)
    assert rows[0].text == "Time management is..." and rows[0].prompt == "Q1"
    assert [(r.prompt, r.text) for r in rows[1:]] == [("T1", "A1"), ("T2", "A2")]
    assert rows[1].group == rows[2].group


def test_refusal_tokens_strips_role_header_and_think_block() -> None:
    assert rto.clean_response("assistant\n\nI cannot help.") == "I cannot help."
    assert rto.clean_response("assistant\n\n</think>\n\nHello") == "Hello"
    assert rto.clean_response("assistant\n\nLet me reason...</think>\n\nFinal.") == "Final."


def test_refusal_tokens_harmful_files_get_a_hint(tmp_path: Path) -> None:
    base = tmp_path / "refusal_tokens_outputs/saved_outputs/model_outputs/llama-instruct-baseline"
    row = {
        "id": "1",
        "model": "llama-instruct",
        "category": "x",
        "prompt": "p",
        "response": "assistant\n\nNo.",
    }
    _jsonl(base / "or_bench_toxic_outputs_llama-instruct.jsonl", [row])
    _jsonl(base / "or_bench_hard_outputs_llama-instruct.jsonl", [row])
    rows = {r.subset: r for r in _read("refusal_tokens_outputs", tmp_path)}
    assert rows["or_bench_toxic"].hint > 0 and rows["or_bench_hard"].hint == 0
    assert rows["or_bench_hard"].text == "No."


def test_refusal_tokens_deepseek_normal_needs_compliance_evidence(tmp_path: Path) -> None:
    from refusal_detector.data.rows import rule_outcome

    soft = (
        "Creating a 3D animation of the Solar System is a complex project that typically requires "
        "specialized software and significant computational resources. It is worth considering "
        "what you want to show and who the audience is before starting such a project."
    )
    for folder in ("deepseek-llama-distill-baseline", "llama-instruct-baseline"):
        base = tmp_path / "refusal_tokens_outputs/saved_outputs/model_outputs" / folder
        row = {"id": "1", "model": folder, "prompt": "Produce a 3D animation.", "response": soft}
        _jsonl(base / "coconot_orig_test_outputs_x.jsonl", [row])
    rows = {r.model_raw: r for r in _read("refusal_tokens_outputs", tmp_path)}
    deepseek = rows["deepseek-llama-distill-baseline"]
    assert deepseek.strict_normal == rto.DEEPSEEK_STRICT_CHARS
    assert rule_outcome(deepseek).label is None  # review, not a confident NORMAL
    assert rule_outcome(rows["llama-instruct-baseline"]).label == 0


def test_hh_rlhf_final_turns_share_a_group(tmp_path: Path) -> None:
    dialogue = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to steal?\n\nAssistant: "
    line = json.dumps({"chosen": dialogue + "I won't help.", "rejected": dialogue + "Easy."})
    path = tmp_path / "hh_rlhf_harmless_test/harmless-base/test.jsonl.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(line + "\n")
    chosen, rejected = _read("hh_rlhf_harmless_test", tmp_path)
    assert (chosen.text, rejected.text) == ("I won't help.", "Easy.")
    assert chosen.prompt == "how to steal?" and chosen.group == rejected.group
    assert chosen.source_label is None
    assert split_dialogue(dialogue + "x")[1] == "how to steal?"


@pytest.mark.parametrize(
    ("text", "user", "assistant", "expected"),
    [
        ("[INST] Q?[/INST]  I cannot.</s>", "[INST]", "[/INST]", ("Q?", "I cannot.")),
        ("USER: Q? ASSISTANT: No.</s>", "USER:", "ASSISTANT:", ("Q?", "No.")),
        ("User: Q?\n\nAssistant: No.<|endoftext|>", "User:", "Assistant:", ("Q?", "No.")),
        (
            "### Human: Q?\n### Assistant: No.\n### Human: more",
            "### Human:",
            "### Assistant:",
            ("Q?", "No."),
        ),
    ],
)
def test_safedecoding_templates(
    text: str, user: str, assistant: str, expected: tuple[str, str]
) -> None:
    assert split_exchange(text, user, assistant) == expected


def test_safedecoding_missing_marker_is_a_data_error(tmp_path: Path) -> None:
    _json(
        tmp_path / "safedecoding_experts/lora_modules/llama2/ft_datasets_llama2.json",
        [{"text": "no markers here"}],
    )
    with pytest.raises(DataError, match="assistant marker"):
        _read("safedecoding_experts", tmp_path)


def test_alpaca_eval_model_from_folder_and_nc_licence(tmp_path: Path) -> None:
    _json(
        tmp_path / "alpaca_eval_outputs/results/claude-2/model_outputs.json",
        [{"instruction": "i", "output": "o", "generator": "claude-2", "dataset": "oasst"}],
    )
    (row,) = _read("alpaca_eval_outputs", tmp_path)
    assert (row.model_raw, row.license_class, row.prompt) == ("claude-2", "nc", "i")


def test_safety_tuned_llamas_is_nc_with_refusal_hint(tmp_path: Path) -> None:
    _json(
        tmp_path / "safety_tuned_llamas/data/training/safety_only_data_Instructions.json",
        [{"instruction": "Do harm", "input": "", "output": "No."}],
    )
    (row,) = _read("safety_tuned_llamas", tmp_path)
    assert row.license_class == "nc" and row.hint > 0 and row.source_label is None


def test_missing_raw_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"all_hand_labeled\.json: expected raw file is missing"):
        _read("chatgpt_refusals", tmp_path)
