"""Model directory validation: every broken directory names the file at fault."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from refusal_detector import ModelLoadError, RefusalDetector
from refusal_detector.cli import main
from refusal_detector.model_dir import model_max_length


def _copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


def _write(name: str, content: bytes) -> Callable[[Path], object]:
    return lambda d: (d / name).write_bytes(content)


def _remove(name: str) -> Callable[[Path], object]:
    return lambda d: (d / name).unlink()


def _labels(id2label: object, name: str = "config.json") -> Callable[[Path], object]:
    def edit(d: Path) -> None:
        config = json.loads((d / name).read_text())
        config["id2label"] = id2label
        (d / name).write_text(json.dumps(config))

    return edit


def _truncate(name: str) -> Callable[[Path], object]:
    def edit(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])

    return edit


def _empty(d: Path) -> None:
    for path in d.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _foreign_token(d: Path) -> None:
    tokenizer = json.loads((d / "tokenizer.json").read_text())
    tokenizer["model"]["vocab"]["stranger"] = 10_000  # an id the embeddings do not have
    (d / "tokenizer.json").write_text(json.dumps(tokenizer))


def _swapped_onnx_labels(d: Path) -> None:
    config = json.loads((d / "onnx/config.json").read_text())
    config["id2label"] = {"0": "REJECTION", "1": "NORMAL"}
    config["label2id"] = {"REJECTION": 0, "NORMAL": 1}
    (d / "onnx/config.json").write_text(json.dumps(config))


def _onnx_label2id(d: Path) -> None:
    config = json.loads((d / "onnx/config.json").read_text())
    config["label2id"] = {"NORMAL": 1, "REJECTION": 0}
    (d / "onnx/config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("backend", "breakage", "message"),
    [
        ("onnx", _remove("config.json"), r"config\.json: file not found"),
        ("onnx", _write("config.json", b"{not json"), r"config\.json: not valid JSON"),
        ("onnx", _write("config.json", b"[1, 2]"), r"config\.json: expected a JSON object"),
        ("onnx", _labels({"0": "NEGATIVE", "1": "POSITIVE"}), r"config\.json: id2label is"),
        ("onnx", _labels({"0": "NORMAL"}), r"id2label is \{0: 'NORMAL'\}"),
        ("onnx", _labels(None), r"config\.json: no id2label"),
        ("onnx", _labels({"0": "NORMAL", "1": "OTHER"}), r"config\.json: id2label is .*OTHER"),
        ("onnx", _remove("tokenizer.json"), r"tokenizer\.json: file not found"),
        ("onnx", _write("tokenizer.json", b"{}"), r"tokenizer\.json: cannot load"),
        ("onnx", _write("tokenizer.json", b"\x00\xff garbage"), r"tokenizer\.json: cannot load"),
        ("onnx", _truncate("tokenizer.json"), r"tokenizer\.json: cannot load"),
        ("onnx", _foreign_token, r"tokenizer\.json: token id 10000 is outside the model's vocab"),
        ("onnx", _truncate("onnx/model.onnx"), r"onnx/model\.onnx: not a loadable ONNX model"),
        ("onnx", _swapped_onnx_labels, r"onnx/config\.json: id2label is .*must match .*config"),
        ("onnx", _onnx_label2id, r"onnx/config\.json: label2id is .* but .*config\.json has"),
        ("onnx", _write("onnx/config.json", b"{"), r"onnx/config\.json: not valid JSON"),
        (
            "auto",
            _empty,
            r"config\.json: file not found, so .* is not a model directory \(it holds nothing\)",
        ),
        ("torch", _truncate("model.safetensors"), r"cannot load the torch model"),
        ("onnx", _remove("onnx/model.onnx"), r"onnx/model\.onnx: file not found"),
        ("onnx", _write("onnx/model.onnx", b""), r"onnx/model\.onnx: file is truncated"),
        ("onnx", _write("onnx/model.onnx", b"garbage" * 100), r"model\.onnx: not a loadable"),
        ("torch", _remove("model.safetensors"), r"model\.safetensors: file not found"),
        ("torch", _write("model.safetensors", b"garbage" * 100), r"cannot load the torch model"),
    ],
)
def test_broken_model_dir_names_the_file(
    tiny_model_dir: Path,
    tmp_path: Path,
    backend: str,
    breakage: Callable[[Path], object],
    message: str,
) -> None:
    model = _copy(tiny_model_dir, tmp_path)
    breakage(model)
    with pytest.raises(ModelLoadError, match=message):
        RefusalDetector.from_pretrained(model, backend=backend)


def test_pickled_weights_are_never_loaded(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = _copy(tiny_model_dir, tmp_path)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"pytorch_model\.bin is never loaded"):
        RefusalDetector.from_pretrained(model, backend="torch")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model directory not found"):
        RefusalDetector.from_pretrained(tmp_path / "nope")


def test_missing_default_model_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        "refusal_detector.detector.default_model_dir", lambda: tmp_path / "not-installed"
    )
    with pytest.raises(ModelLoadError, match="default model is not installed"):
        RefusalDetector.from_pretrained()


def test_model_error_is_an_oserror() -> None:
    assert issubclass(ModelLoadError, OSError)


@pytest.mark.parametrize(
    ("config", "tokenizer_config", "expected"),
    [
        ({"max_position_embeddings": 512}, {"model_max_length": 512}, 512),
        ({"max_position_embeddings": 512}, {"model_max_length": 1e30}, 512),
        ({"max_position_embeddings": 512}, {"model_max_length": 256}, 256),
        ({"max_position_embeddings": 512}, {}, 512),
        ({"max_position_embeddings": 514, "model_type": "roberta", "pad_token_id": 1}, {}, 512),
    ],
)
def test_model_max_length(
    config: dict[str, object], tokenizer_config: dict[str, object], expected: int
) -> None:
    assert model_max_length(config, tokenizer_config) == expected


@pytest.mark.parametrize(
    "breakage",
    [_truncate("onnx/model.onnx"), _write("config.json", b"{not json"), _empty, _foreign_token],
)
def test_cli_reports_a_broken_model_dir_without_a_traceback(
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[Path], object],
) -> None:
    model = _copy(tiny_model_dir, tmp_path)
    breakage(model)
    assert main(["classify", "--model", str(model), "hello"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {model}")
    assert "Traceback" not in err


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"model\.onnx: not a directory"):
        RefusalDetector.from_pretrained(tmp_path / "model.onnx")
