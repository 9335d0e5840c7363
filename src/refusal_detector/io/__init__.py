"""File input and output: streaming JSONL/CSV/Parquet readers, resumable batch prediction, and the
small file helpers of :mod:`refusal_detector.io.files`.

``predict_file`` and ``PredictSummary`` are imported on first use, so that importing
``refusal_detector.io.files`` (the data build does) loads neither pyarrow nor a model backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from refusal_detector.io.predict import PredictSummary, predict_file

__all__ = ["PredictSummary", "predict_file"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from refusal_detector.io import predict

        return getattr(predict, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
