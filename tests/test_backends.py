"""ONNX and torch backends: parity, backend choice, and an ONNX path that never imports torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from refusal_detector import BackendUnavailableError, ModelLoadError, RefusalDetector
from refusal_detector.backends import load_backend, resolve_backend_kind

TEXTS = [
    "Sorry, but I can't assist with that.",
    "",
    "   ",
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk.",
    "I cannot help with that request because it is against my guidelines.",
    "The king of the city wrote a poem about the river. " * 60,  # longer than the window
    "hello",
]


def test_torch_and_onnx_agree(tiny_model_dir: Path) -> None:
    onnx = RefusalDetector.from_pretrained(tiny_model_dir, backend="onnx")
    torch = RefusalDetector.from_pretrained(tiny_model_dir, backend="torch")
    assert (onnx.backend_name, torch.backend_name) == ("onnx", "torch")
    onnx_scores = onnx.predict_proba(TEXTS)
    np.testing.assert_allclose(onnx_scores, torch.predict_proba(TEXTS), atol=1e-4)
    assert onnx_scores.std() > 0.01, "the tiny model should not score every text alike"


def test_logits_shape_and_input_names(tiny_model_dir: Path) -> None:
    names = {}
    for kind in ("onnx", "torch"):
        backend = load_backend(kind, tiny_model_dir)
        names[kind] = set(backend.input_names)
        # token_type_ids depends on the transformers version (4.x lists it, 5.x does not).
        assert {"input_ids", "attention_mask"} <= names[kind]
        assert names[kind] <= {"input_ids", "attention_mask", "token_type_ids"}
        batch = {name: np.ones((3, 5), dtype=np.int64) for name in backend.input_names}
        logits = backend.logits(batch)
        assert logits.shape == (3, 2)
        assert logits.dtype == np.float32


def test_auto_prefers_onnx_and_uses_torch_without_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert resolve_backend_kind("auto", tiny_model_dir) == "onnx"
    no_onnx = tmp_path / "model"
    shutil.copytree(tiny_model_dir, no_onnx, ignore=shutil.ignore_patterns("onnx"))
    assert RefusalDetector.from_pretrained(no_onnx).backend_name == "torch"


def test_requested_backend_never_falls_back(tiny_model_dir: Path, tmp_path: Path) -> None:
    no_onnx = tmp_path / "model"
    shutil.copytree(tiny_model_dir, no_onnx, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(ModelLoadError, match=r"onnx/model\.onnx: file not found"):
        RefusalDetector.from_pretrained(no_onnx, backend="onnx")


def test_missing_dependency_is_a_clear_error(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("refusal_detector.backends._importable", lambda module: False)
    with pytest.raises(BackendUnavailableError, match=r"pip install onnxruntime"):
        load_backend("onnx", tiny_model_dir)
    with pytest.raises(BackendUnavailableError, match=r"refusal-detector\[torch\]"):
        load_backend("torch", tiny_model_dir)


@pytest.mark.parametrize("kind", ["tensorflow", "ONNX", ""])
def test_unknown_backend(tiny_model_dir: Path, kind: str) -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        RefusalDetector.from_pretrained(tiny_model_dir, backend=kind)


def test_onnx_path_never_imports_torch_or_transformers(tiny_model_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        import refusal_detector
        from refusal_detector.cli import build_parser
        build_parser()
        after_import = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        detector = refusal_detector.RefusalDetector.from_pretrained({str(tiny_model_dir)!r})
        result = detector(["Sorry, I can't help with that.", "Sure, here it is."])
        after_predict = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        print(json.dumps([detector.backend_name, after_import, after_predict, result]))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    backend, after_import, after_predict, result = json.loads(proc.stdout)
    assert backend == "onnx"
    assert after_import == []
    assert after_predict == []
    assert [r["label"] in {"NORMAL", "REJECTION"} for r in result] == [True, True]
