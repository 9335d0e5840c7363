"""score_dataset: label and score every row of a Ray Dataset on an actor pool of ONNX detectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray.data

from refusal_detector.detector import (
    DEFAULT_MAX_CHARS,
    RefusalDetector,
    check_threshold,
    default_model_dir,
)
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.chunk_scoring import AddedFields, score_chunk
from refusal_detector.io.formats import Row
from refusal_detector.io.predict import check_header
from refusal_detector.model_dir import check_model_dir
from refusal_detector.reasoning import check_reasoning_mode
from refusal_detector.scale.sources import (
    CHUNK,
    HIDDEN_COLUMNS,
    READ_ERROR,
    READ_WARNING,
    WHERE,
    unpack,
)

__all__ = ["score_dataset"]


def score_dataset(
    ds: ray.data.Dataset,
    *,
    model: str | Path | None = None,
    text_field: str = "text",
    threshold: float = 0.5,
    prefix: str = "",
    num_workers: int = 1,
    cpus_per_worker: int = 1,
    batch_rows: int | None = 1024,
    batch_size: int = 32,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    reasoning: str = "answer",
) -> ray.data.Dataset:
    """``ds`` with ``{prefix}label``, ``{prefix}score`` (P(REJECTION)), ``{prefix}error`` and
    ``{prefix}warning`` added.

    Lazy, like every Ray Dataset: nothing runs until the result is written or consumed. Scoring is
    ``map_batches`` over ``num_workers`` actors, each loading the ONNX model once and running ONNX
    Runtime on ``cpus_per_worker`` threads. Rows are scored by the local engine's own code
    (:func:`refusal_detector.io.chunk_scoring.score_chunk`): a row whose text is null (or, from
    :func:`~refusal_detector.scale.read_input`, missing, not a string or unreadable) gets an
    ``error`` and no label or score; a row the text policy changed (unencodable characters
    replaced while reading, a text over ``max_chars`` cut) is scored and gets a ``warning``.
    Every input column is kept; row order is Ray's.

    The actors reserve ``num_workers * cpus_per_worker`` CPUs. If that is every CPU of the
    cluster, ``ds`` must be read without reserving a CPU, as
    :func:`~refusal_detector.scale.read_input` does; ``ray.data.read_parquet`` starts with a
    ``ListFiles`` task that takes one whatever ``num_cpus`` says, so leave a CPU free for it.

    Args:
        model: model directory with ``onnx/model.onnx`` (default: the shipped model). It must
            exist at the same path on every node, e.g. installed with the package in the image.
        batch_rows: rows per ``map_batches`` batch; None: each block is one batch. For the
            dataset of :func:`~refusal_detector.scale.read_input`, a row is a whole chunk.
        batch_size: texts per ONNX Runtime call inside an actor.
        max_chars: a longer text is scored on its first ``max_chars`` characters (None: all),
            as ``RefusalDetector.from_pretrained`` and ``predict --max-chars``.
        reasoning: what of a ``<think>...</think>`` output is scored (``predict --reasoning``).

    Raises:
        DataError: no text column, the text column is not a string type, or an added column
            already exists (pass ``prefix``).
        ConfigError: an argument out of range.
        ModelLoadError: the model directory is missing, incomplete, or has no ONNX model.
    """
    check_threshold(threshold)
    for name, value in (
        ("num_workers", num_workers),
        ("cpus_per_worker", cpus_per_worker),
        ("batch_size", batch_size),
        ("batch_rows", batch_rows or 1),
    ):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    model_dir = Path(model).expanduser() if model is not None else default_model_dir()
    check_model_dir(model_dir, backend="onnx")
    added = AddedFields(prefix)
    # Known without running anything for Parquet; JSONL/CSV were checked by read_input.
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None and list(schema.names) != [CHUNK]:
        names = [n for n in schema.names if n not in HIDDEN_COLUMNS]
        check_header("dataset", names, text_field, added)
        kind = schema.types[schema.names.index(text_field)]
        if not (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        ):
            raise DataError(
                f"column {text_field!r} has type {kind}, expected strings; "
                "pass --text-field NAME for the column holding the text"
            )
    return ds.map_batches(
        _DetectorActor,
        fn_constructor_args=(str(model_dir), text_field, threshold, prefix),
        fn_constructor_kwargs={
            "batch_size": batch_size,
            "num_threads": cpus_per_worker,
            "max_chars": max_chars,
            "reasoning": check_reasoning_mode(reasoning),
        },
        batch_format="pyarrow",
        batch_size=batch_rows,
        # One batch (a whole chunk for read_input's rows) per actor at a time: otherwise Ray queues
        # several on the first actor that is ready while the others are still loading the model.
        compute=ray.data.ActorPoolStrategy(size=num_workers, max_tasks_in_flight_per_actor=1),
        num_cpus=cpus_per_worker,
    )


class _DetectorActor:
    """One Ray actor: loads the detector once, then scores pyarrow batches."""

    def __init__(
        self,
        model_dir: str,
        text_field: str,
        threshold: float,
        prefix: str,
        *,
        batch_size: int,
        num_threads: int,
        max_chars: int | None,
        reasoning: str,
    ) -> None:
        self.detector = RefusalDetector.from_pretrained(
            model_dir,
            backend="onnx",
            batch_size=batch_size,
            num_threads=num_threads,
            max_chars=max_chars,
            reasoning=reasoning,
        )
        self.text_field = text_field
        self.threshold = threshold
        self.added = AddedFields(prefix)

    def __call__(self, batch: pa.Table) -> Iterator[pa.Table]:
        if batch.column_names == [CHUNK]:
            # Chunks packed by read_input: score each whole, as the local engine does.
            for packed in batch.column(CHUNK).to_pylist():
                yield self._score(unpack(packed))
        else:
            yield self._score(batch)

    def _score(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        hidden = [_column(table, name, n) for name in (WHERE, READ_ERROR, READ_WARNING)]
        out = table.drop_columns([name for name in HIDDEN_COLUMNS if name in table.column_names])
        rows = [
            Row(fields, where or "row", error, warning)
            for fields, where, error, warning in zip(out.to_pylist(), *hidden, strict=True)
        ]
        scored, _, _ = score_chunk(
            self.detector,
            rows,
            self.text_field,
            self.threshold,
            self.added,
            sparse=False,
            on_scored=_ignore,
        )
        kinds = (pa.string(), pa.float64(), pa.string(), pa.string())
        for name, kind in zip(self.added.names, kinds, strict=True):
            out = out.append_column(name, pa.array([row[name] for row in scored], kind))
        return out


def _ignore(_: int) -> None:
    """No progress bar inside an actor: Ray Data shows its own."""


def _column(batch: pa.Table, name: str, n: int) -> list[Any]:
    if name in batch.column_names:
        return batch.column(name).to_pylist()
    return [None] * n
