"""TrainConfig validation and TrainingArguments mapping; offline emissions tracking."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from refusal_detector.errors import ConfigError
from refusal_detector.training.config import TrainConfig
from refusal_detector.training.emissions import EmissionsSession, EmissionsTracker

BASE = TrainConfig(data=Path("corpus"), output_dir=Path("out"))


def test_defaults_are_the_original_cards_hyperparameters() -> None:
    args = BASE.training_arguments()
    expected = {
        "learning_rate": 2e-5,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 8,
        "seed": 42,
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "adam_epsilon": 1e-8,
        "lr_scheduler_type": "linear",
        "warmup_steps": 500,
        "num_train_epochs": 3.0,
    }
    assert {k: args[k] for k in expected} == expected
    assert args["eval_strategy"] == "epoch" and args["metric_for_best_model"] == "f1"
    assert args["output_dir"] == str(Path("out") / "checkpoints")
    assert args["report_to"] == "none"


def test_training_arguments_are_accepted_by_transformers() -> None:
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(**replace(BASE, save_steps=7).training_arguments())
    assert args.save_steps == 7 and args.warmup_steps == 500


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"per_device_train_batch_size": 0}, "per_device_train_batch_size must be >= 1, got 0"),
        ({"max_length": 4}, r"max_length must be in \[8, 8192\], got 4"),
        ({"learning_rate": 2.0}, r"learning_rate must be in \(0, 1\)"),
        ({"max_train_samples": 0}, "max_train_samples must be >= 1 or None"),
        ({"num_train_epochs": 0.0}, "num_train_epochs must be > 0"),
        ({"extra": {"seed": 1}}, "extra repeats named fields"),
        ({"num_layers": 0}, "num_layers must be >= 1 or None, got 0"),
        ({"distill_weight": 1.5}, r"distill_weight must be in \[0, 1\], got 1.5"),
        ({"distill_temperature": 0.0}, "distill_temperature must be > 0, got 0.0"),
    ],
)
def test_config_errors_name_field_and_value(change: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        replace(BASE, **change)  # type: ignore[arg-type]


def test_country_code_is_validated() -> None:
    with pytest.raises(ConfigError, match="3-letter ISO 3166 code"):
        EmissionsTracker(country_iso_code="United States")
    assert EmissionsTracker(country_iso_code="fra").country_iso_code == "FRA"


def test_sessions_accumulate_in_emissions_json(tmp_path: Path) -> None:
    path = tmp_path / "emissions.json"
    tracker = EmissionsTracker(enabled=False)
    with tracker:
        pass
    tracker.append_to(path)
    assert not path.exists()  # nothing measured, nothing written
    for kg in (0.001, 0.002):
        tracker.session = EmissionsSession(kg, 0.01, 60.0, "USA", "cpu", "", "machine", 0.0)
        tracker.append_to(path)
    record = json.loads(path.read_text())
    assert len(record["sessions"]) == 2
    assert record["total_emissions_kg"] == pytest.approx(0.003)
    assert record["total_duration_s"] == pytest.approx(120.0)


def test_offline_tracker_measures_without_network(tmp_path: Path) -> None:
    pytest.importorskip("codecarbon")
    tracker = EmissionsTracker(country_iso_code="DEU")
    with tracker:
        time.sleep(0.2)
    assert tracker.session is not None
    assert tracker.session.country_iso_code == "DEU"
    assert tracker.session.emissions_kg >= 0.0 and tracker.session.duration_s > 0.0


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"max_length": 128, "max_train_samples": 40000, "include_capped": True},
        {"mid_windows": 0.15, "max_train_samples": 50, "refusal_share": 0.3},
        {"max_train_samples": 100, "sample_by": ("source", "label"), "group_by_length": True},
        {"track_emissions": False, "country_iso_code": "FRA", "learning_rate": 5e-5},
        {"num_train_epochs": 1.0, "permissive_only": True, "base_model": "distilroberta-base"},
    ],
)
def test_to_cli_args_parses_back_to_the_same_config(change: dict[str, object]) -> None:
    from refusal_detector.cli import build_parser
    from refusal_detector.training.train_command import config_from_args

    config = replace(BASE, disable_tqdm=True, **change)
    argv = config.to_cli_args()
    assert argv[:4] == ["--data", "corpus", "--out", "out"]
    parsed = config_from_args(build_parser().parse_args(["train", *argv, "--quiet"]))
    assert parsed == config


def test_to_cli_args_writes_only_what_differs_from_the_defaults() -> None:
    config = replace(BASE, max_length=128, save_total_limit=2, group_by_length=True)
    assert config.to_cli_args() == [
        "--data", "corpus", "--out", "out", "--max-length", "128",
        "--save-total-limit", "2", "--group-by-length",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"extra TrainingArguments .* have no train flags"):
        replace(BASE, extra={"fp16": True}).to_cli_args()
    with pytest.raises(ConfigError, match="--save-total-limit cannot express None"):
        replace(BASE, save_total_limit=None).to_cli_args()


def test_from_dict_reads_a_logged_config() -> None:
    logged = json.loads(json.dumps({**BASE.__dict__, "data": "corpus", "output_dir": "out"}))
    logged["sample_by"] = ["source", "label"]
    config = TrainConfig.from_dict(logged)
    assert config == replace(BASE, sample_by=("source", "label"))
