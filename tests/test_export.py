"""export_onnx: layout, dynamic axes, parity check and atomic replacement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refusal_detector import ExportValidationError

pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from refusal_detector.training import export  # noqa: E402


def test_export_layout_and_dynamic_axes(tiny_model_factory: Callable[..., Path]) -> None:
    from transformers import AutoTokenizer

    model_dir = tiny_model_factory(onnx=False)
    path = export.export_onnx(model_dir)
    assert path == model_dir / "onnx" / "model.onnx"
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (model_dir / "onnx" / name).read_bytes() == (model_dir / name).read_bytes()
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    expected = [
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in tokenizer.model_input_names
    ]
    assert [i.name for i in session.get_inputs()] == expected
    assert expected[:2] == ["input_ids", "attention_mask"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for batch, length in [(1, 2), (5, 37), (3, 128)]:
        feed = {i.name: np.ones((batch, length), dtype=np.int64) for i in session.get_inputs()}
        (logits,) = session.run(["logits"], feed)
        assert logits.shape == (batch, 2)


def test_mismatch_raises_and_keeps_the_old_export(
    tiny_model_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForSequenceClassification

    model_dir = tiny_model_factory(seed=0, onnx=True)
    before = (model_dir / "onnx" / "model.onnx").read_bytes()
    other = AutoModelForSequenceClassification.from_pretrained(tiny_model_factory(seed=1))
    real_export = export._torch_export

    def export_the_wrong_model(model: Any, *args: Any, **kwargs: Any) -> None:
        real_export(other, *args, **kwargs)

    monkeypatch.setattr(export, "_torch_export", export_the_wrong_model)
    with pytest.raises(ExportValidationError, match=r"differ by up to .* tolerance atol=0\.0001"):
        export.export_onnx(model_dir)
    assert (model_dir / "onnx" / "model.onnx").read_bytes() == before
    assert not [p.name for p in (model_dir / "onnx").iterdir() if p.name.endswith(".tmp")]


def test_original_model_cards_optimum_snippet_loads_the_export(tiny_model_dir: Path) -> None:
    optimum = pytest.importorskip("optimum.onnxruntime")
    from transformers import AutoTokenizer, pipeline

    from refusal_detector import RefusalDetector

    # As in distilroberta-base-rejection-v1's card, with our directory in place of the Hub name.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, subfolder="onnx")
    model = optimum.ORTModelForSequenceClassification.from_pretrained(
        tiny_model_dir, export=False, subfolder="onnx"
    )
    classifier = pipeline(
        task="text-classification",
        model=model,
        tokenizer=tokenizer,
        truncation=True,
        max_length=128,
    )
    texts = ["Sorry, but I can't assist with that.", "Sure, here is the recipe."]
    expected = RefusalDetector.from_pretrained(tiny_model_dir, backend="onnx")(texts)
    got = classifier(texts)
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    np.testing.assert_allclose([g["score"] for g in got], [e["score"] for e in expected], atol=1e-5)


def test_export_model_refuses_an_unvalidated_int8_or_ship(tmp_path: Path) -> None:
    from refusal_detector.errors import ConfigError

    with pytest.raises(ConfigError, match="validated on labelled data: pass --data"):
        export.export_model(tmp_path)
    with pytest.raises(ConfigError, match="--ship needs the validated int8 model"):
        export.export_model(tmp_path, int8=False, ship=tmp_path / "ship")
    assert not (tmp_path / "onnx").exists()
