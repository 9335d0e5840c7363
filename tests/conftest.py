"""Shared fixtures: offline mode and tiny in-test models (see helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

# Set before any test imports transformers or huggingface_hub: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
from helpers import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model directory with model.safetensors, tokenizer and onnx/ (do not modify)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture
def tiny_model_factory(tmp_path: Path) -> Callable[..., Path]:
    """A builder of fresh tiny models under tmp_path: ``factory(seed=0, onnx=True) -> Path``."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    counter = iter(range(1_000_000))

    def factory(seed: int = 0, *, onnx: bool = True) -> Path:
        return build_tiny_model(tmp_path / f"tiny-model-{next(counter)}", seed=seed, onnx=onnx)

    return factory
