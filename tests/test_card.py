"""Model card: front matter parses, figures come from the inputs, sections are present."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from refusal_detector.errors import DataError
from refusal_detector.training.baselines import default_baselines
from refusal_detector.training.card import CardInputs, render_card, write_card
from refusal_detector.training.dataset import Example
from refusal_detector.training.evaluate import evaluate_scores

TRAINING_LOG = {
    "base_model_name": "sentence-transformers/all-MiniLM-L6-v2",
    "max_length": 64,
    "config": {"data": "build/corpus", "output_dir": "runs/default", "max_train_samples": 4500},
    "training_arguments": {
        "learning_rate": 5e-05,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 8,
        "seed": 42,
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "adam_epsilon": 1e-08,
        "optim": "adamw_torch",
        "weight_decay": 0.0,
        "lr_scheduler_type": "linear",
        "warmup_steps": 50,
        "num_train_epochs": 2.0,
        "save_steps": 50,
    },
    "train_examples": 4500,
    "train_examples_available": 37774,
    "eval_examples": 500,
    "eval_examples_available": 4252,
    "train_sample": {"by_source": {"s1": {"n": 3, "refusals": 1}}, "by_family": {}},
    "epochs": [
        {
            "epoch": 1.0,
            "step": 282,
            "training_loss": 0.2,
            "validation_loss": 0.1,
            "accuracy": 0.97,
            "recall": 0.95,
            "precision": 0.96,
            "f1": 0.955,
        },
        {
            "epoch": 2.0,
            "step": 564,
            "training_loss": None,
            "validation_loss": 0.08,
            "accuracy": 0.98,
            "recall": 0.97,
            "precision": 0.97,
            "f1": 0.97,
        },
    ],
    "hardware": {"device": "cpu", "torch_threads": 2},
    "framework_versions": {"transformers": "4.57.6", "torch": "2.13.0"},
}
EMISSIONS = {
    "sessions": [{"emissions_kg": 0.002, "energy_kwh": 0.005, "duration_s": 3600,
                  "country_iso_code": "USA", "cpu_model": "AMD EPYC"}],
    "total_emissions_kg": 0.002,
    "total_energy_kwh": 0.005,
    "total_duration_s": 3600,
}  # fmt: skip
DATACARD = {
    "total_records": 6,
    "n_sources": 2,
    "n_models": 2,
    "class_ratio": {"refusal_share": 0.33},
    "splits": {"train": {"records": 4}, "validation": {"records": 1}, "test": {"records": 1}},
    "sources": {"s1": {"license": "MIT", "records": 3, "refusals": 1},
                "s2": {"license": "Apache-2.0", "records": 3, "refusals": 1}},
    "license_mode": "permissive",
    "known_limitations": ["English only."],
}  # fmt: skip


@pytest.fixture
def inputs(tmp_path: Path) -> CardInputs:
    examples = [
        Example("I'm sorry, I can't.", 1, source="s1", family="gpt"),
        Example("Here is the answer.", 0, source="s1", family="gpt"),
        Example("I won't do that.", 1, source="s2", family="llama"),
        Example("Sure: step one.", 0, source="s2", family="llama"),
    ]
    report = evaluate_scores(
        examples, np.array([0.9, 0.1, 0.3, 0.2]), baselines=default_baselines()
    )
    held_out = {"n": 2, "refusals": 1, "accuracy": 0.5, "precision": None, "recall": 0.0, "f1": 0.0}
    lofo = {"settings": {"epochs": 1}, "families": {"llama": held_out}}
    (tmp_path / "model.safetensors").write_bytes(b"x" * 1000)
    return CardInputs(
        model_dir=tmp_path,
        training_log=TRAINING_LOG,
        emissions=EMISSIONS,
        evaluation=report.to_json(),
        datacard=DATACARD,
        lofo=lofo,
    )


def test_front_matter_is_yaml_with_the_card_keys(inputs: CardInputs) -> None:
    yaml = pytest.importorskip("yaml")
    card = render_card(inputs)
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "apache-2.0"
    assert front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert front["pipeline_tag"] == "text-classification"
    assert front["datasets"] == ["s1", "s2"]
    assert front["co2_eq_emissions"]["emissions"] == pytest.approx(2.0)  # grams
    metrics = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    assert metrics["f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_card_tables_come_from_the_inputs(inputs: CardInputs) -> None:
    card = render_card(inputs)
    assert "| 0.2000 | 1.0 | 282 | 0.1000 | 0.9700 | 0.9500 | 0.9600 | 0.9550 |" in card
    assert "| No log | 2.0 | 564 |" in card
    assert "| s1 | MIT | 3 | 1 | 3 (1) |" in card
    assert "| llama | 2 | 1 | 0.5000 | - | 0.0000 | 0.0000 |" in card  # LOFO row
    assert "**weak**" in card  # llama's refusal is missed
    assert "0.0050 kWh" in card
    for heading in ("## Intended uses & limitations", "## Results on a family left out of training",
                    "## Framework versions", "### Integrate with LLM Guard"):  # fmt: skip
        assert heading in card


def test_lofo_of_a_first_stage_says_the_shipped_model_is_a_second_stage(
    inputs: CardInputs,
) -> None:
    log = {**TRAINING_LOG, "config": {**TRAINING_LOG["config"], "num_layers": 4}}  # type: ignore[dict-item]
    staged = render_card(CardInputs(model_dir=inputs.model_dir, training_log=log, lofo=inputs.lofo))
    assert "bottom 4 layers of a trained run fine-tuned again" in staged
    assert "fine-tuned again" not in render_card(inputs)
    second = {**TRAINING_LOG, "config": {**TRAINING_LOG["config"], "base_model": "runs/first"}}  # type: ignore[dict-item]
    card = render_card(
        CardInputs(model_dir=inputs.model_dir, training_log=second, lofo=inputs.lofo)
    )
    assert "later round, not run per family here: a trained run fine-tuned again" in card


def test_every_lofo_file_gets_a_table_and_a_multi_round_one_says_it_measures_the_recipe(
    inputs: CardInputs, tmp_path: Path
) -> None:
    second = {**TRAINING_LOG, "config": {**TRAINING_LOG["config"], "base_model": "runs/first"}}  # type: ignore[dict-item]
    (tmp_path / "training_log.json").write_text(json.dumps(second))
    first_round = tmp_path / "lofo.json"
    first_round.write_text(json.dumps(inputs.lofo))
    rounds = {
        "settings": {"epochs": 1, "rounds": 3, "seeds": [42, 42, 43]},
        "command": "python benchmarks/lofo.py --rounds 3",
        "families": {
            "gemma": {"n": 9, "refusals": 3, "accuracy": 0.9, "precision": 0.8, "recall": 1.0,
                      "f1": 0.8889, "auroc": 0.99},
        },
    }  # fmt: skip
    all_rounds = tmp_path / "lofo-3r.json"
    all_rounds.write_text(json.dumps(rounds))
    card = render_card(CardInputs.from_paths(model_dir=tmp_path, lofo=[first_round, all_rounds]))
    section = card.split("(leave-one-family-out)")[1].split("\n## ")[0]
    assert section.count("| held-out family |") == 2
    assert "so these rows measure the first round" in section  # the first file's caveat
    assert "whole 3-round recipe" in section and "seeds 42, 42, 43" in section
    assert "| gemma | 9 | 3 | 0.9000 |" in section
    assert "\npython benchmarks/lofo.py --rounds 3\n" in card  # both commands are reproduced


def test_missing_inputs_are_said_not_invented(inputs: CardInputs, tmp_path: Path) -> None:
    bare = CardInputs(model_dir=tmp_path, training_log=TRAINING_LOG)
    card = render_card(bare)
    assert "_No evaluation report was given" in card
    assert "model-index" not in card


def test_from_paths_requires_the_training_log(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"training_log\.json: file not found"):
        CardInputs.from_paths(model_dir=tmp_path)
    (tmp_path / "training_log.json").write_text(json.dumps(TRAINING_LOG))
    path = write_card(CardInputs.from_paths(model_dir=tmp_path), tmp_path)
    assert path.read_text().startswith("---\n")


def test_reproduce_section_writes_the_train_flags_from_the_config(inputs: CardInputs) -> None:
    card = render_card(inputs)
    assert "refusal-detector train --data build/corpus --out runs/default " in card
    reproduce = card.split("## Reproduce")[1]
    line = next(x for x in reproduce.splitlines() if x.startswith("refusal-detector train"))
    assert (
        line
        == "refusal-detector train --data build/corpus --out runs/default --max-train-samples 4500"
    )
    lofo = {"settings": {"epochs": 1}, "command": "python benchmarks/lofo.py --data d --out o"}
    with_command = render_card(
        CardInputs(model_dir=inputs.model_dir, training_log=TRAINING_LOG, lofo=lofo)
    )
    assert "\npython benchmarks/lofo.py --data d --out o\n" in with_command


EXTERNAL_GOLD = {
    "rows": 929,
    "threshold": 0.5,
    "threshold_origin": "given",
    "partial": {"n": 87},
    "skipped": 3,
    "slices": {
        "overall": {
            "n": 839,
            "refusals": 434,
            "precision": 0.95,
            "recall": 0.88,
            "f1": 0.916,
            "auroc": 0.97,
            "ece": 0.031,
        },
        "family=mistral": {
            "n": 353,
            "refusals": 135,
            "precision": 0.86,
            "recall": 0.76,
            "f1": 0.808,
            "auroc": 0.922,
        },
        "lf_stratum=soft": {"n": 209, "refusals": 122, "f1": 0.8},
    },
    "baselines": {"overall": {"XSTest prefixes": 0.712}, "family=mistral": {}},
}


def test_external_gold_section_leads_with_per_family_figures() -> None:
    from refusal_detector.training.card_external import external_gold_section

    report = EXTERNAL_GOLD
    text = external_gold_section(report)
    assert "| mistral | 353 | 135 | 0.860 | 0.760 | 0.808 | 0.922 | - | - |" in text
    assert "| overall | 839 | 434 | 0.950 | 0.880 | 0.916 | 0.970 | 0.031 | 0.712 |" in text
    assert "lf_stratum" not in text
    assert "95% intervals" not in text  # an older report has none
    assert external_gold_section(None) == ""
    overall = {
        **report["slices"]["overall"],
        "interval_95": {"f1": [0.9, 0.93], "auroc": [0.96, 0.98], "ece": [0.026, 0.053]},
    }  # type: ignore[dict-item]
    text = external_gold_section({**report, "slices": {"overall": overall}})
    assert "overall F1 0.900-0.930, AUROC 0.960-0.980, ECE 0.026-0.053." in text


def test_card_leads_with_unseen_families_then_the_test_split(inputs: CardInputs) -> None:
    card = render_card(dataclasses.replace(inputs, external_gold=EXTERNAL_GOLD))
    order = [
        card.index(heading)
        for heading in (
            "## Results on families the corpus never had (external gold set)",
            "## Results on a family left out of training (leave-one-family-out)",
            "## Results on the corpus test split",
            "## Model description",
            "## Evaluation",
        )
    ]
    assert order == sorted(order)
    assert card.count("| held-out family |") == 1  # the LOFO table, once


def test_hyperparameters_say_what_a_distilled_second_round_started_from(
    inputs: CardInputs,
) -> None:
    config = {
        **TRAINING_LOG["config"],  # type: ignore[dict-item]
        "base_model": "runs/l6",
        "num_layers": 4,
        "teacher": "runs/l6",
        "distill_weight": 0.7,
        "distill_temperature": 2.0,
    }
    card = render_card(dataclasses.replace(inputs, training_log={**TRAINING_LOG, "config": config}))
    assert "starting weights: the trained classifier `runs/l6`" in card
    assert "encoder layers kept: the bottom 4" in card
    assert "knowledge distillation from `runs/l6`: loss (1 - 0.7)" in card
    assert "starting weights" not in render_card(inputs)
