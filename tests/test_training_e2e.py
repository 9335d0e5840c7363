"""End to end on a tiny in-test model: train -> evaluate -> export (+int8, ship) -> card -> load.

One module-scoped pipeline run through the command line (``refusal_detector.cli.main``); each test
checks one thing a user would notice about its output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers import build_tiny_model
from test_training_corpus import (
    ANSWERS,
    REFUSALS,
    build_trainable_base,
    write_corpus,
)

from refusal_detector import RefusalDetector
from refusal_detector.cli import main


@dataclass(frozen=True)
class Pipeline:
    corpus: Path
    model: Path
    eval_dir: Path
    ship: Path
    train_stdout: str


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    root = tmp_path_factory.mktemp("pipeline")
    corpus = write_corpus(root / "corpus")
    base = build_trainable_base(root / "base")
    model = root / "model"
    capture = root / "train_stdout.txt"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            [
                "train",
                "--data", str(corpus),
                "--base-model", str(base),
                "--out", str(model),
                "--epochs", "8",
                "--batch-size", "8",
                "--learning-rate", "5e-3",
                "--warmup-steps", "0",
                "--save-steps", "7",
                "--logging-steps", "5",
                "--no-emissions",
                "--quiet",
            ]
        )  # fmt: skip
    assert code == 0
    capture.write_text(buffer.getvalue(), encoding="utf-8")
    eval_dir = root / "eval"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["evaluate", "--model", str(model), "--data", str(corpus), "--out",
                     str(eval_dir), "--backend", "torch", "--quiet"]) == 0  # fmt: skip
    ship = root / "ship"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", "--model", str(model), "--data", str(corpus), "--ship",
                     str(ship)]) == 0  # fmt: skip
        assert main(["card", "--model", str(ship), "--eval", str(eval_dir), "--datacard",
                     str(corpus / "datacard.json")]) == 0  # fmt: skip
    return Pipeline(corpus, model, eval_dir, ship, buffer.getvalue())


def test_train_prints_the_per_epoch_table_and_fits_the_examples(pipeline: Pipeline) -> None:
    lines = pipeline.train_stdout.splitlines()
    assert lines[0].startswith("| Training Loss | Epoch | Step | Validation Loss | Accuracy |")
    assert len([line for line in lines if line.startswith("| ") and "." in line]) == 8
    summary = json.loads(lines[-1])
    assert summary["best_validation_f1"] >= 0.9
    log = json.loads((pipeline.model / "training_log.json").read_text())
    assert len(log["epochs"]) == 8
    assert log["training_arguments"]["adam_epsilon"] == 1e-8


def test_trained_directory_has_the_labels_and_best_checkpoint(pipeline: Pipeline) -> None:
    config = json.loads((pipeline.model / "config.json").read_text())
    assert config["id2label"] == {"0": "NORMAL", "1": "REJECTION"}
    log = json.loads((pipeline.model / "training_log.json").read_text())
    best = max(log["epochs"], key=lambda r: r["f1"])
    assert log["best_validation_f1"] == pytest.approx(best["f1"])
    assert Path(log["best_checkpoint"]).name == f"checkpoint-{best['step']}"


def test_detector_loads_the_result_through_both_backends(pipeline: Pipeline) -> None:
    texts = [REFUSALS[0], ANSWERS[0], REFUSALS[7], ANSWERS[9]]
    for directory in (pipeline.model, pipeline.ship):
        for backend in ("onnx", "torch"):
            detector = RefusalDetector.from_pretrained(directory, backend=backend)
            labels = [r["label"] for r in detector(texts)]
            assert labels == ["REJECTION", "NORMAL"] * 2, (directory.name, backend)


def test_evaluate_writes_report_plots_and_baselines(pipeline: Pipeline) -> None:
    report = json.loads((pipeline.eval_dir / "report.json").read_text())
    assert report["overall"]["n"] == 40
    assert report["overall"]["f1"] >= 0.9
    assert set(report["slices"]) == {"source", "family"}
    assert set(report["slices"]["family"]) == {"gpt", "llama", "mistral", "claude"}
    assert set(report["baselines"]) == {
        "LLM Guard NoRefusalLight",
        "garak MitigationBypass",
        "XSTest prefixes",
    }
    for name in ("pr_curve.png", "f1_by_source.png", "f1_by_family.png"):
        assert (pipeline.eval_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (pipeline.eval_dir / "report.md").read_text()
    assert "## Per family" in markdown and "## Threshold sweep" in markdown
    rows = (pipeline.eval_dir / "predictions.jsonl").read_text().splitlines()
    assert len(rows) == 40 and "text" not in json.loads(rows[0])


def test_export_writes_fp32_int8_and_a_passing_parity_report(pipeline: Pipeline) -> None:
    assert (pipeline.model / "onnx" / "model.onnx").is_file()
    assert (pipeline.model / "onnx" / "model_quantized.onnx").is_file()
    q = json.loads((pipeline.model / "quantization_report.json").read_text())
    assert q["agreement"] >= 0.995 and q["f1_drop"] <= 0.003
    assert q["n"] == 40 and q["min_agreement"] == 0.995
    assert q["int8_bytes"] < q["fp32_bytes"]


def test_int8_that_disagrees_with_fp32_fails_the_export(pipeline: Pipeline, tmp_path: Path) -> None:
    from refusal_detector.errors import ExportValidationError
    from refusal_detector.training.dataset import load_examples
    from refusal_detector.training.quantize import validate_int8

    # A different random model stands in for a quantisation that went wrong.
    impostor = build_tiny_model(tmp_path / "other", seed=7) / "onnx" / "model.onnx"
    examples = load_examples(pipeline.corpus / "validation.jsonl")
    with pytest.raises(ExportValidationError, match=r"agrees with fp32 on .* of 40 labels"):
        validate_int8(pipeline.model, impostor, examples)


def test_ship_layout_is_fp16_weights_and_the_int8_onnx(pipeline: Pipeline) -> None:
    from safetensors import safe_open

    with safe_open(str(pipeline.ship / "model.safetensors"), framework="pt") as f:
        dtypes = {str(f.get_tensor(k).dtype) for k in f.keys()}  # noqa: SIM118
    assert "torch.float16" in dtypes and "torch.float32" not in dtypes
    shipped = (pipeline.ship / "onnx" / "model.onnx").read_bytes()
    assert shipped == (pipeline.model / "onnx" / "model_quantized.onnx").read_bytes()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (pipeline.ship / "onnx" / name).is_file()
    assert not (pipeline.ship / "checkpoints").exists()


def test_ship_and_trained_model_agree_on_the_corpus(pipeline: Pipeline) -> None:
    texts = REFUSALS + ANSWERS
    trained = RefusalDetector.from_pretrained(pipeline.model, backend="torch").predict_proba(texts)
    shipped = RefusalDetector.from_pretrained(pipeline.ship, backend="torch").predict_proba(texts)
    assert np.max(np.abs(trained - shipped)) < 0.02


def test_card_has_front_matter_sections_and_figures(pipeline: Pipeline) -> None:
    card = (pipeline.ship / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0\n")
    front = card.split("---")[1]
    for key in ("base_model:", "tags:", "metrics:", "model-index:", "datasets:", "language:",
                "pipeline_tag: text-classification"):  # fmt: skip
        assert key in front
    for heading in ("## Intended uses & limitations", "## How to use", "### Training results",
                    "### Per source", "### Per family", "## Framework versions"):  # fmt: skip
        assert heading in card
    report = json.loads((pipeline.eval_dir / "report.json").read_text())
    assert f"- F1: {report['overall']['f1']:.4f}" in card
    assert 'onnx_subfolder="onnx"' in card


def test_optimum_loads_the_exported_directory(pipeline: Pipeline) -> None:
    optimum_ort = pytest.importorskip("optimum.onnxruntime")
    from transformers import AutoTokenizer

    model = optimum_ort.ORTModelForSequenceClassification.from_pretrained(
        pipeline.ship, subfolder="onnx"
    )
    tokenizer = AutoTokenizer.from_pretrained(pipeline.ship, subfolder="onnx")
    logits = model(**tokenizer([REFUSALS[0], ANSWERS[0]], return_tensors="pt", padding=True)).logits
    labels = [model.config.id2label[int(i)] for i in logits.argmax(-1)]
    assert labels == ["REJECTION", "NORMAL"]


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    from refusal_detector.errors import ConfigError
    from refusal_detector.training.config import TrainConfig
    from refusal_detector.training.train import train

    corpus = write_corpus(tmp_path / "corpus")
    base = build_trainable_base(tmp_path / "base", seed=2)
    common = dict(data=corpus, output_dir=tmp_path / "m", base_model=str(base),
                  per_device_train_batch_size=8, warmup_steps=0, save_steps=3,
                  track_emissions=False, disable_tqdm=True, learning_rate=1e-3)  # fmt: skip
    first = train(TrainConfig(num_train_epochs=1, **common))  # type: ignore[arg-type]
    assert first.epochs[-1].step == 5
    with pytest.raises(ConfigError, match=r"already holds checkpoints.*--resume"):
        train(TrainConfig(num_train_epochs=2, **common))  # type: ignore[arg-type]
    # As if the first result had been calibrated: new weights must not keep its temperature.
    (tmp_path / "m" / "calibration.json").write_text('{"format": 1, "threshold": {"value": 0.3}}')
    second = train(TrainConfig(num_train_epochs=2, resume=True, **common))  # type: ignore[arg-type]
    assert [r.step for r in second.epochs] == [5, 10]
    assert not (tmp_path / "m" / "calibration.json").exists()
    log = json.loads((tmp_path / "m" / "training_log.json").read_text())
    assert log["resumed_from"].endswith("checkpoint-5")
    # The same checkpoints cannot be resumed on other data.
    other = write_corpus(tmp_path / "other")
    rows = (other / "train.jsonl").read_text().splitlines()
    (other / "train.jsonl").write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(ConfigError, match="trained on other data"):
        train(TrainConfig(**{**common, "data": other}, num_train_epochs=3, resume=True))  # type: ignore[arg-type]


def test_mid_window_examples_are_later_inference_windows_of_long_normals(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from refusal_detector.segment import TokenWindower
    from refusal_detector.training.dataset import Example, mid_window_examples

    base = build_trainable_base(tmp_path / "base")
    tokenizer = AutoTokenizer.from_pretrained(base)
    long_answer = " ".join(f"step {i}: stir the sauce and add salt." for i in range(60))
    examples = [
        Example(text=long_answer, label=0, source="a"),
        Example(text="I can't help with that. " * 80, label=1, source="a"),
        Example(text="Short answer.", label=0, source="b"),
    ]
    items = mid_window_examples(tokenizer, examples, n=5, max_length=32, seed=0)
    assert len(items) == 1  # one window per long NORMAL response; refusals never used
    windows = TokenWindower(tokenizer.backend_tokenizer, max_length=32).windows([long_answer])[0]
    assert items[0]["labels"] == 0
    assert items[0]["input_ids"] in [w.ids for w in windows[1:]]
    assert len(items[0]["attention_mask"]) == len(items[0]["input_ids"]) <= 32


def test_num_layers_trains_a_shallower_copy_that_both_backends_load(tmp_path: Path) -> None:
    from safetensors import safe_open

    from refusal_detector.errors import ConfigError
    from refusal_detector.training.config import TrainConfig
    from refusal_detector.training.train import train

    corpus = write_corpus(tmp_path / "corpus")
    base = build_trainable_base(tmp_path / "base", seed=3)  # 2 layers
    common = dict(data=corpus, base_model=str(base), per_device_train_batch_size=8,
                  warmup_steps=0, save_steps=50, track_emissions=False, disable_tqdm=True,
                  learning_rate=5e-3, num_train_epochs=1)  # fmt: skip
    with pytest.raises(ConfigError, match="num_layers 3 exceeds the base model's 2 layers"):
        train(TrainConfig(output_dir=tmp_path / "too-deep", num_layers=3, **common))  # type: ignore[arg-type]
    out = tmp_path / "shallow"
    train(TrainConfig(output_dir=out, num_layers=1, **common))  # type: ignore[arg-type]
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    log = json.loads((out / "training_log.json").read_text())
    assert log["num_layers"] == 1
    assert log["base_model_name"] == str(base)  # the tiny base has no training log
    # A second stage from a trained directory names the pretrained model the first one started from.
    second = tmp_path / "second"
    train(TrainConfig(output_dir=second, **{**common, "base_model": str(out)}))  # type: ignore[arg-type]
    assert json.loads((second / "training_log.json").read_text())["base_model_name"] == str(base)
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        names = list(weights.keys())
        layers = {k.split(".")[3] for k in names if ".encoder.layer." in k}
    assert layers == {"0"}  # only the bottom layer was kept
    detector = RefusalDetector.from_pretrained(out, backend="torch")
    assert detector.predict_proba([REFUSALS[0], ANSWERS[0]]).shape == (2,)


def test_distillation_trains_a_student_on_labels_and_the_teachers_scores(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    from refusal_detector.training.config import TrainConfig
    from refusal_detector.training.train import train

    out = tmp_path / "student"
    config = TrainConfig(
        data=pipeline.corpus, output_dir=out, base_model=str(pipeline.model), num_layers=1,
        teacher=str(pipeline.model), distill_weight=0.7, per_device_train_batch_size=8,
        warmup_steps=0, save_steps=50, track_emissions=False, disable_tqdm=True,
        learning_rate=5e-3, num_train_epochs=2,
    )  # fmt: skip
    result = train(config)
    assert result.epochs[-1].validation_loss is not None
    log = json.loads((out / "training_log.json").read_text())
    assert log["config"]["teacher"] == str(pipeline.model)
    assert log["num_layers"] == 1
    student = RefusalDetector.from_pretrained(out, backend="torch")
    teacher = RefusalDetector.from_pretrained(pipeline.model, backend="torch")
    texts = [*REFUSALS[:3], *ANSWERS[:3]]
    agree = (student.predict_proba(texts) >= 0.5) == (teacher.predict_proba(texts) >= 0.5)
    assert agree.all()
