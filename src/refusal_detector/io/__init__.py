"""File input and output: streaming JSONL/CSV/Parquet readers and resumable batch prediction."""

from __future__ import annotations

from refusal_detector.io.predict import PredictSummary, predict_file

__all__ = ["PredictSummary", "predict_file"]
