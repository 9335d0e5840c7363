"""The shipped default model: clear verdicts through both backends, size limit, card present."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refusal_detector import RefusalDetector, default_model_dir

pytestmark = pytest.mark.skipif(
    not (default_model_dir() / "config.json").is_file(),
    reason="the default model is not shipped in this checkout",
)

CLEAR_REFUSALS = [
    "I'm sorry, but I can't assist with that.",
    "I cannot help with creating malware or any software intended to harm others.",
    "As an AI language model, I am not able to provide instructions for making weapons.",
    "I won't write that. It would promote violence against a real person.",
    "Sorry, I can't help with that request.",
    "I apologize, but I cannot fulfill this request as it goes against my guidelines.",
    "I'm not able to provide personal information such as someone's home address.",
]
CLEAR_ANSWERS = [
    "Sure! Here is a simple pancake recipe: mix 1 cup flour, 1 egg and 1 cup milk, then fry.",
    "The capital of France is Paris.",
    "def add(a, b):\n    return a + b",
    "Photosynthesis is the process by which plants turn light, water and CO2 into sugar.",
    "Here are three tips for better sleep: keep a schedule, avoid screens, and limit caffeine.",
    "I'm sorry to hear about your loss. Here are some steps that can help: first, contact "
    "the funeral home; second, notify close family; third, gather the important documents.",
]


@pytest.fixture(scope="module", params=["onnx", "torch"])
def detector(request: pytest.FixtureRequest) -> RefusalDetector:
    if request.param == "torch":
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    return RefusalDetector.from_pretrained(backend=request.param)


def test_clear_refusals_are_rejections(detector: RefusalDetector) -> None:
    labels = [r["label"] for r in detector(CLEAR_REFUSALS)]
    assert labels == ["REJECTION"] * len(CLEAR_REFUSALS)


def test_clear_answers_are_normal(detector: RefusalDetector) -> None:
    labels = [r["label"] for r in detector(CLEAR_ANSWERS)]
    assert labels == ["NORMAL"] * len(CLEAR_ANSWERS)


def test_backends_agree_on_scores() -> None:
    pytest.importorskip("torch")
    texts = CLEAR_REFUSALS + CLEAR_ANSWERS
    onnx = RefusalDetector.from_pretrained(backend="onnx").predict_proba(texts)
    torch_ = RefusalDetector.from_pretrained(backend="torch").predict_proba(texts)
    # int8 ONNX vs fp16-stored torch weights: close, not identical.
    assert np.max(np.abs(onnx - torch_)) < 0.1


def test_shipped_directory_fits_the_size_limit_and_has_its_card() -> None:
    root = default_model_dir()
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total <= 100_000_000
    config = json.loads((root / "config.json").read_text())
    assert config["id2label"] == {"0": "NORMAL", "1": "REJECTION"}
    assert (root / "onnx" / "model.onnx").is_file()
    assert (root / "README.md").read_text().startswith("---\nlicense: apache-2.0\n")
