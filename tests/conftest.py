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
from hypothesis import HealthCheck, settings

# Property tests (tests/test_fuzz_*.py). "ci", the default, is derandomized (a fixed seed per test,
# so a CI failure reproduces) and small enough to keep the whole fuzz set to a couple of minutes;
# HYPOTHESIS_PROFILE=long is the benchmark run (benchmarks/fuzz.py), random and 10x larger.
# No example database: nothing is written into the working tree.
_FUZZ = {
    "deadline": None,  # the machine is shared: timing is never a failure
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=40, derandomize=True, **_FUZZ)
settings.register_profile("long", max_examples=400, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
