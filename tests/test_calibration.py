"""Calibration: temperature fit, ECE, threshold choice, and folding T into every weight file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from refusal_detector import ConfigError, DataError, ModelLoadError
from refusal_detector.calibration import Calibration, read_calibration, write_calibration
from refusal_detector.training.calibrate import fit_isotonic, fit_temperature, select_threshold
from refusal_detector.training.metrics import (
    calibration_metrics,
    expected_calibration_error,
    reliability_bins,
)

TEXTS = [
    "Sorry, but I can't assist with that.",
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk, then fry.",
    "As an AI language model I cannot provide that, it is against my guidelines.",
    "The king of the city had a long war with the queen of the river country.",
    "I am not able to help with that request, please understand.",
    "",
    "Step one: import the data file. Step two: print the list in a loop.",
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(
    true_t: float,
) -> None:
    rng = np.random.default_rng(0)
    margins = rng.normal(0.0, 4.0, size=40_000)
    labels = (rng.random(margins.size) < _sigmoid(margins / true_t)).astype(int)
    assert fit_temperature(labels, margins) == pytest.approx(true_t, rel=0.05)


def test_fit_temperature_lowers_the_nll() -> None:
    rng = np.random.default_rng(1)
    margins = rng.normal(0.0, 6.0, size=5_000)  # overconfident: labels follow margins / 3
    labels = (rng.random(margins.size) < _sigmoid(margins / 3.0)).astype(int)
    t = fit_temperature(labels, margins)
    before = calibration_metrics(labels, _sigmoid(margins))
    after = calibration_metrics(labels, _sigmoid(margins / t))
    assert t > 1.0
    assert after.nll < before.nll
    assert after.ece < before.ece


def test_fit_temperature_needs_both_labels() -> None:
    with pytest.raises(DataError, match="needs both labels; got 3 refusals and 0 normal"):
        fit_temperature([1, 1, 1], [1.0, 2.0, 3.0])


def test_ece_equal_width_and_equal_mass_bins() -> None:
    # 10 rows at 0.8 of which 8 are refusals: perfectly calibrated.
    assert expected_calibration_error([1] * 8 + [0] * 2, [0.8] * 10) == pytest.approx(0.0)
    # 0.9 where half refuse, 0.1 where half refuse: off by 0.4 everywhere.
    labels = [1, 0, 1, 0]
    scores = [0.9, 0.9, 0.1, 0.1]
    assert expected_calibration_error(labels, scores) == pytest.approx(0.4)
    assert expected_calibration_error(labels, scores, adaptive=True) == pytest.approx(0.4)
    bins = reliability_bins([1, 0], [1.0, 0.0], bins=15)
    assert bins[-1].n == 1 and bins[-1].refusal_rate == 1.0  # 1.0 falls in the last bin
    assert bins[0].n == 1 and bins[0].refusal_rate == 0.0
    mass = reliability_bins(list(range(2)) * 50, np.linspace(0, 1, 100), bins=4, adaptive=True)
    assert [b.n for b in mass] == [25, 25, 25, 25]


def test_isotonic_fit_is_monotone_and_pools_violators() -> None:
    iso = fit_isotonic([0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5])
    fitted = iso([0.1, 0.2, 0.3, 0.4, 0.5])
    assert np.all(np.diff(fitted) >= 0)
    assert fitted[1] == pytest.approx(0.5) and fitted[2] == pytest.approx(0.5)
    assert fitted[-1] == pytest.approx(1.0)


def test_threshold_for_a_target_precision_meets_it_with_the_most_recall() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, size=500)
    scores = np.clip(labels * 0.3 + rng.random(500) * 0.7, 0, 1)
    choice = select_threshold(labels, scores, target_precision=0.9)
    predicted = scores >= choice.threshold
    precision = (predicted & (labels == 1)).sum() / predicted.sum()
    assert precision >= 0.9
    assert choice.metrics.precision == pytest.approx(precision)
    # Any lower threshold (the next score down) gives more recall but misses the target.
    lower = scores[scores < choice.threshold].max()
    more = scores >= lower
    assert (more & (labels == 1)).sum() / more.sum() < 0.9


def test_threshold_for_a_target_recall_is_the_highest_that_meets_it() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=400)
    scores = np.clip(labels * 0.4 + rng.random(400) * 0.6, 0, 1)
    choice = select_threshold(labels, scores, target_recall=0.8)
    recall = ((scores >= choice.threshold) & (labels == 1)).sum() / labels.sum()
    assert recall >= 0.8
    higher = scores[scores > choice.threshold].min()
    assert ((scores >= higher) & (labels == 1)).sum() / labels.sum() < 0.8


def test_unreachable_precision_says_what_is_reachable() -> None:
    with pytest.raises(ConfigError, match=r"no threshold reaches precision 0.99 .* highest is"):
        select_threshold([0, 1, 0, 1], [0.9, 0.8, 0.7, 0.1], target_precision=0.99)
    with pytest.raises(ConfigError, match="exactly one"):
        select_threshold([0, 1], [0.1, 0.9])


def test_calibration_record_round_trip_and_bad_files(tmp_path: Path) -> None:
    assert read_calibration(tmp_path) == Calibration()
    record = Calibration(temperature=1.5, threshold=0.3, threshold_info={"target": "recall"})
    write_calibration(tmp_path, record)
    assert read_calibration(tmp_path) == record
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"format": 1, "threshold": {"value": 1.5}}))
    with pytest.raises(ModelLoadError, match=r"threshold.value must be in \[0.0, 1.0\]"):
        read_calibration(tmp_path)
    path.write_text(json.dumps({"format": 1, "temperature": {"value": 2.0}}))
    with pytest.raises(ModelLoadError, match="folded must be true"):
        read_calibration(tmp_path)


# --- folding into real weight files ---------------------------------------------------------

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from refusal_detector import RefusalDetector  # noqa: E402
from refusal_detector.backends.onnx import OnnxBackend  # noqa: E402
from refusal_detector.model_dir import INT8_FILE  # noqa: E402
from refusal_detector.training.fold import fold_temperature  # noqa: E402
from refusal_detector.training.quantize import quantize_int8  # noqa: E402


def _window_logits(model_dir: Path, backend: str) -> np.ndarray:
    detector = RefusalDetector.from_pretrained(model_dir, backend=backend)
    return np.concatenate(detector.window_logits(TEXTS)).astype(np.float64)


def _int8_logits(model_dir: Path) -> np.ndarray:
    detector = RefusalDetector.from_pretrained(model_dir, backend="onnx")
    detector.backend = OnnxBackend(model_dir / INT8_FILE)
    return np.concatenate(detector.window_logits(TEXTS)).astype(np.float64)


def _pipeline_scores(model_dir: Path) -> np.ndarray:
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir), top_k=None)
    return np.asarray(
        [next(s["score"] for s in out if s["label"] == "REJECTION") for out in classify(TEXTS)]
    )


@pytest.fixture
def full_export(tiny_model_factory: Callable[..., Path]) -> Path:
    """A tiny model: fp32 safetensors, onnx/model.onnx and the int8 onnx/model_quantized.onnx."""
    model_dir = tiny_model_factory(seed=3)
    quantize_int8(model_dir / "onnx" / "model.onnx", model_dir / INT8_FILE)
    return model_dir


def _ops(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_folding_divides_the_logits_of_every_consumer_by_t(full_export: Path) -> None:
    # export writes the fused graph (one Attention per layer; QAttention once quantised).
    assert "Attention" in _ops(full_export / "onnx" / "model.onnx")
    assert "QAttention" in _ops(full_export / INT8_FILE)
    # residual LayerNorms stay Add + LayerNormalization (the faster CPU kernels, export docstring)
    assert "SkipLayerNormalization" not in _ops(full_export / INT8_FILE)
    assert "LayerNormalization" in _ops(full_export / INT8_FILE)
    t = 1.7
    before = {
        "torch": _window_logits(full_export, "torch"),
        "onnx": _window_logits(full_export, "onnx"),
        "int8": _int8_logits(full_export),
    }
    result = fold_temperature(full_export, t)
    assert set(result.files) == {
        "model.safetensors",
        "onnx/model.onnx",
        "onnx/model_quantized.onnx",
    }
    after = {
        "torch": _window_logits(full_export, "torch"),
        "onnx": _window_logits(full_export, "onnx"),
        "int8": _int8_logits(full_export),
    }
    for kind in before:
        np.testing.assert_allclose(after[kind], before[kind] / t, atol=1e-5, err_msg=kind)
    # Ranking is unchanged, the probabilities move towards 0.5 exactly as sigmoid(margin / T).
    margin = before["onnx"][:, 1] - before["onnx"][:, 0]
    detector = RefusalDetector.from_pretrained(full_export, backend="onnx")
    probs = np.asarray([s[0] for s in detector.window_scores(TEXTS)])
    np.testing.assert_allclose(probs, _sigmoid(margin / t), atol=1e-5)
    assert list(np.argsort(probs)) == list(np.argsort(_sigmoid(margin)))
    assert np.all(np.abs(probs - 0.5) <= np.abs(_sigmoid(margin) - 0.5) + 1e-7)
    # torch, ONNX fp32 and the transformers pipeline agree on the calibrated scores.
    torch_probs = RefusalDetector.from_pretrained(full_export, backend="torch").predict_proba(TEXTS)
    np.testing.assert_allclose(torch_probs, detector.predict_proba(TEXTS), atol=1e-4)
    np.testing.assert_allclose(_pipeline_scores(full_export), torch_probs, atol=1e-5)
    assert read_calibration(full_export).temperature == t


def test_folding_an_unfused_export_and_its_int8(
    tiny_model_factory: Callable[..., Path],
) -> None:
    from refusal_detector.training.export import export_onnx

    model_dir = tiny_model_factory(seed=5, onnx=False)
    export_onnx(model_dir, fuse=False)
    quantize_int8(model_dir / "onnx" / "model.onnx", model_dir / INT8_FILE)
    assert "Attention" not in _ops(model_dir / "onnx" / "model.onnx")
    before = {"onnx": _window_logits(model_dir, "onnx"), "int8": _int8_logits(model_dir)}
    result = fold_temperature(model_dir, 0.6)
    assert set(result.files) == {"model.safetensors", "onnx/model.onnx", INT8_FILE}
    after = {"onnx": _window_logits(model_dir, "onnx"), "int8": _int8_logits(model_dir)}
    for kind in before:
        np.testing.assert_allclose(after[kind], before[kind] / 0.6, atol=1e-5, err_msg=kind)


def test_folding_twice_is_refused_and_changes_nothing(full_export: Path) -> None:
    fold_temperature(full_export, 2.0)
    weights = (full_export / "model.safetensors").read_bytes()
    onnx_bytes = (full_export / "onnx" / "model.onnx").read_bytes()
    with pytest.raises(ConfigError, match=r"already folded .* apply it twice"):
        fold_temperature(full_export, 2.0)
    assert (full_export / "model.safetensors").read_bytes() == weights
    assert (full_export / "onnx" / "model.onnx").read_bytes() == onnx_bytes


def test_folding_drops_a_threshold_chosen_on_unfolded_scores(full_export: Path) -> None:
    write_calibration(full_export, Calibration(threshold=0.4, threshold_info={"target": "recall"}))
    result = fold_temperature(full_export, 1.3)
    assert result.dropped_threshold == 0.4
    assert read_calibration(full_export).threshold is None


def test_folding_the_shipping_layout_fp16_and_int8(full_export: Path, tmp_path: Path) -> None:
    from refusal_detector.training.ship import ship_model

    shipped = ship_model(full_export, tmp_path / "ship", int8_path=full_export / INT8_FILE).out_dir
    before_torch = _window_logits(shipped, "torch")
    before_onnx = _window_logits(shipped, "onnx")  # the int8 graph is onnx/model.onnx here
    fold_temperature(shipped, 0.8)
    # float16 weights round again after division: a looser bound than fp32's.
    np.testing.assert_allclose(_window_logits(shipped, "torch"), before_torch / 0.8, atol=2e-2)
    np.testing.assert_allclose(_window_logits(shipped, "onnx"), before_onnx / 0.8, atol=1e-5)
    again = ship_model(shipped, tmp_path / "ship2", int8_path=shipped / "onnx" / "model.onnx")
    assert read_calibration(again.out_dir).temperature == 0.8  # ship keeps calibration.json


def test_folding_refuses_a_graph_without_a_linear_head(full_export: Path) -> None:
    import onnx
    from onnx import helper

    path = full_export / "onnx" / "model.onnx"
    model = onnx.load(str(path))
    graph = model.graph
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [f"{o}_pre" if o == old else o for o in node.output]
    graph.node.append(helper.make_node("Relu", [f"{old}_pre"], [old], name="extra_relu"))
    onnx.save(model, str(path))
    before = path.read_bytes()
    weights = (full_export / "model.safetensors").read_bytes()
    with pytest.raises(
        ModelLoadError, match=r"cannot fold a temperature: 'logits' comes from Relu"
    ):
        fold_temperature(full_export, 2.0)
    assert path.read_bytes() == before
    assert (full_export / "model.safetensors").read_bytes() == weights
    assert read_calibration(full_export).temperature is None
    assert not [p for p in full_export.rglob("*.tmp")]


def test_fold_rejects_a_bad_temperature(full_export: Path) -> None:
    with pytest.raises(ConfigError, match="positive finite"):
        fold_temperature(full_export, 0.0)


# --- calibrate end to end, and --threshold auto -------------------------------------------------


def _write_labelled(path: Path, detector: RefusalDetector, n: int = 120) -> list[int]:
    """Rows whose labels follow the tiny model's own scores, with noise (so T is identifiable)."""
    rng = np.random.default_rng(4)
    words = [
        "sorry",
        "cannot",
        "help",
        "the",
        "recipe",
        "flour",
        "python",
        "code",
        "war",
        "king",
        "assist",
        "unable",
    ]
    texts = [" ".join(rng.choice(words, size=rng.integers(3, 12))) for _ in range(n)]
    scores = detector.predict_proba(texts)
    labels = (rng.random(n) < np.clip(scores * 0.8 + 0.1, 0, 1)).astype(int).tolist()
    with path.open("w", encoding="utf-8") as handle:
        for text, label in zip(texts, labels, strict=True):
            handle.write(json.dumps({"text": text, "label": label}) + "\n")
    return labels


def test_calibrate_folds_t_and_writes_a_threshold_that_auto_uses(
    full_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refusal_detector.cli import main
    from refusal_detector.training.dataset import load_examples

    data = tmp_path / "labelled.jsonl"
    labels = np.asarray(_write_labelled(data, RefusalDetector.from_pretrained(full_export)))
    code = main(["calibrate", "--model", str(full_export), "--data", str(data)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["temperature"] > 0
    assert result["calibration_after"]["nll"] <= result["calibration_before"]["nll"] + 1e-9
    assert set(result["out_of_fold_ece"]) == {"folds", "ece_temperature", "ece_isotonic"}
    assert result["threshold"] is None

    code = main(
        ["calibrate", "--model", str(full_export), "--data", str(data), "--target-precision", "0.7"]
    )
    assert code == 2
    assert "already folded" in capsys.readouterr().err

    code = main(
        [
            "calibrate",
            *("--model", str(full_export), "--data", str(data)),
            *("--no-temperature", "--target-precision", "0.7"),
        ]
    )
    assert code == 0
    chosen = json.loads(capsys.readouterr().out)["threshold"]
    detector = RefusalDetector.from_pretrained(full_export)
    assert detector.threshold == chosen["value"]
    assert detector.calibration.temperature == result["temperature"]
    # The target holds on the rows it was chosen on, scored by the directory as written.
    texts = [e.text for e in load_examples(data)]
    predicted = detector.predict_proba(texts) >= detector.threshold
    assert (predicted & (labels == 1)).sum() / predicted.sum() >= 0.7
    verdicts = detector(texts, threshold="auto")
    assert [v["label"] == "REJECTION" for v in verdicts] == list(predicted)

    code = main(["classify", "--model", str(full_export), "--threshold", "auto", *texts[:5]])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] == "REJECTION" for line in lines] == list(predicted[:5])


@pytest.mark.parametrize("out_of_fold_ece", [0.0, 1.0])
def test_temperature_if_better_folds_only_a_temperature_that_lowers_ece(
    full_export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    out_of_fold_ece: float,
) -> None:
    import hashlib

    from refusal_detector.training import calibrate as calibration

    data = tmp_path / "labelled.jsonl"
    _write_labelled(data, RefusalDetector.from_pretrained(full_export))
    monkeypatch.setattr(
        calibration,
        "_out_of_fold_ece",
        lambda *_a, **_k: {"folds": 5, "ece_temperature": out_of_fold_ece, "ece_isotonic": 0.0},
    )
    weights = full_export / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    result = calibration.calibrate_model(
        full_export, data, only_if_better=True, fixed_threshold=0.5
    )
    folded = hashlib.sha256(weights.read_bytes()).hexdigest() != digest
    record = RefusalDetector.from_pretrained(full_export).calibration
    if out_of_fold_ece == 0.0:  # better than any unscaled ECE: folded as without the flag
        assert folded and result.temperature is not None and result.declined_temperature is None
        assert record.temperature == result.temperature
    else:  # worse: the weights stay, the fit is reported, the threshold is still written
        assert not folded and result.temperature is None and result.after is None
        assert result.declined_temperature is not None and result.declined_temperature > 0
        assert record.temperature is None and record.threshold == 0.5
        assert result.to_json()["declined_temperature"] == result.declined_temperature


def test_threshold_auto_without_a_calibrated_threshold_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refusal_detector.cli import main

    detector = RefusalDetector.from_pretrained(tiny_model_dir)
    with pytest.raises(ConfigError, match="no calibrated threshold; choose one with"):
        detector(["hello"], threshold="auto")
    with pytest.raises(ConfigError, match="number in"):
        detector(["hello"], threshold="best")
    assert main(["classify", "--model", str(tiny_model_dir), "--threshold", "auto", "hi"]) == 2
    assert "no calibrated threshold" in capsys.readouterr().err
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "hi", "model": "a"}) + "\n", encoding="utf-8")
    report = ["report", "--model", str(tiny_model_dir), "--input", str(rows), "--group-by"]
    out = tmp_path / "report.html"
    assert main([*report, "model", "--out", str(out), "--threshold", "auto"]) == 2
    assert "no calibrated threshold" in capsys.readouterr().err
    assert not out.exists()


def test_best_f1_threshold_is_the_one_with_the_highest_f1_on_the_rows() -> None:
    labels = [1, 1, 0, 1, 0, 0, 1, 0]
    scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1]
    choice = select_threshold(labels, scores, best_f1=True)
    # by hand: at 0.7, tp 3 fp 1 fn 1 -> F1 0.75; at 0.2, tp 4 fp 3 -> 0.727; at 0.9, 2/4 -> 0.667
    assert choice.threshold == 0.7
    assert choice.target == "f1"
    assert abs(choice.metrics.f1 - 0.75) < 1e-9
    with pytest.raises(ConfigError):
        select_threshold(labels, scores, best_f1=True, target_recall=0.5)


def test_a_fixed_threshold_is_recorded_with_its_figures_on_the_rows() -> None:
    choice = select_threshold([1, 1, 0, 1, 0], [0.9, 0.6, 0.55, 0.4, 0.1], fixed=0.5)
    assert (choice.threshold, choice.target) == (0.5, "fixed")
    assert (choice.metrics.precision, choice.metrics.recall) == (2 / 3, 2 / 3)
    with pytest.raises(ConfigError):
        select_threshold([1, 0], [0.9, 0.1], fixed=1.5)
