"""refusal-detector: classify LLM outputs as refusals (REJECTION) or normal answers (NORMAL).

>>> from refusal_detector import RefusalDetector
>>> detector = RefusalDetector.from_pretrained()  # doctest: +SKIP
>>> detector(["Sorry, but I can't assist with that."])  # doctest: +SKIP
[{'label': 'REJECTION', 'score': 0.99}]

Importing the package has no side effects and never imports torch or transformers.
"""

from __future__ import annotations

from refusal_detector.detector import RefusalDetector, default_model_dir
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
from refusal_detector.spans import RefusalVerdict, SentenceScore, VerdictConfig

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
