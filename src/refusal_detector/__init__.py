"""refusal-detector: classify LLM outputs as refusals (REJECTION) or normal answers (NORMAL).

>>> from refusal_detector import RefusalDetector
>>> detector = RefusalDetector.from_pretrained()  # doctest: +SKIP
>>> detector(["Sorry, but I can't assist with that."])  # doctest: +SKIP
[{'label': 'REJECTION', 'score': 0.99}]

Importing the package has no side effects and never imports torch or transformers. The detector
(numpy, tokenizers) is imported on first use of ``RefusalDetector``, ``default_model_dir`` or the
verdict types (``RefusalVerdict``, ``SentenceScore``, ``VerdictConfig``), so
that importing a light submodule (``refusal_detector.errors``, the CLI's parser) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refusal_detector.errors import (
    BackendUnavailableError,
    ConfigError,
    DataError,
    ExportValidationError,
    InvalidTextError,
    ModelLoadError,
    RefusalDetectorError,
)
from refusal_detector.labels import ID2LABEL, LABEL2ID, NORMAL, REJECTION

__all__ = [
    "ID2LABEL",
    "LABEL2ID",
    "NORMAL",
    "REJECTION",
    "BackendUnavailableError",
    "ConfigError",
    "DataError",
    "ExportValidationError",
    "InvalidTextError",
    "ModelLoadError",
    "RefusalDetector",
    "RefusalDetectorError",
    "RefusalVerdict",
    "SentenceScore",
    "VerdictConfig",
    "__version__",
    "default_model_dir",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from refusal_detector.detector import RefusalDetector, default_model_dir
    from refusal_detector.spans import RefusalVerdict, SentenceScore, VerdictConfig

_LAZY = {"RefusalDetector", "default_model_dir"}
_LAZY_SPANS = {"RefusalVerdict", "SentenceScore", "VerdictConfig"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from refusal_detector import detector

        return getattr(detector, name)
    if name in _LAZY_SPANS:
        from refusal_detector import spans

        return getattr(spans, name)
    raise AttributeError(f"module 'refusal_detector' has no attribute {name!r}")
