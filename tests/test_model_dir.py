"""Model directory validation: every broken directory names the file at fault."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from refusal_detector import ModelLoadError, RefusalDetector
from refusal_detector.model_dir import model_max_length


def _copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


def _write(name: str, content: bytes) -> Callable[[Path], object]:
    return lambda d: (d / name).write_bytes(content)


def _remove(name: str) -> Callable[[Path], object]:
    return lambda d: (d / name).unlink()


def _labels(id2label: object) -> Callable[[Path], object]:
    def edit(d: Path) -> None:
        config = json.loads((d / "config.json").read_text())
        config["id2label"] = id2label
        (d / "config.json").write_text(json.dumps(config))

    return edit


@pytest.mark.parametrize(
    ("backend", "breakage", "message"),
    [
        ("onnx", _remove("config.json"), r"config\.json: file not found"),
        ("onnx", _write("config.json", b"{not json"), r"config\.json: not valid JSON"),
        ("onnx", _write("config.json", b"[1, 2]"), r"config\.json: expected a JSON object"),
        ("onnx", _labels({"0": "NEGATIVE", "1": "POSITIVE"}), r"config\.json: id2label is"),
        ("onnx", _labels({"0": "NORMAL"}), r"id2label is \{0: 'NORMAL'\}"),
        ("onnx", _labels(None), r"config\.json: no id2label"),
        ("onnx", _remove("tokenizer.json"), r"tokenizer\.json: file not found"),
        ("onnx", _write("tokenizer.json", b"{}"), r"tokenizer\.json: cannot load"),
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
