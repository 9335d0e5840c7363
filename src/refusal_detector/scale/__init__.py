"""Distributed batch scoring on Ray Data: the local ``predict`` engine's rows, on a cluster.

>>> import ray
>>> from refusal_detector.scale import read_input, score_dataset, write_output
>>> ds = read_input("outputs/*.jsonl")  # doctest: +SKIP
>>> write_output(score_dataset(ds, num_workers=4), "scored/", fmt="parquet")  # doctest: +SKIP

Importing this package imports Ray (``pip install "refusal-detector[ray]"``); nothing starts until a
function is called. Every output row holds the input columns plus ``label``, ``score``, ``error``
and ``warning``, computed by the same per-chunk code as :func:`refusal_detector.io.predict_file`
(:func:`refusal_detector.io.chunk_scoring.score_chunk`).
"""

from __future__ import annotations

from refusal_detector.errors import BackendUnavailableError

try:
    import ray.data  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise BackendUnavailableError(
        f'refusal_detector.scale needs Ray Data ({exc}): pip install "refusal-detector[ray]"'
    ) from exc

from refusal_detector.scale.run import ScoringOptions, connect, predict_ray
from refusal_detector.scale.score import score_dataset
from refusal_detector.scale.sinks import WriteCounts, write_output
from refusal_detector.scale.sources import read_input, resolve_inputs

__all__ = [
    "ScoringOptions",
    "WriteCounts",
    "connect",
    "predict_ray",
    "read_input",
    "resolve_inputs",
    "score_dataset",
    "write_output",
]
