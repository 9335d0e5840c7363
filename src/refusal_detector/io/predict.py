"""Classify every row of a JSONL, CSV or Parquet file, resumably.

The input is streamed in chunks. Each scored chunk is written, fsynced and renamed into a
``OUT.parts/`` directory as one part file whose name records its row count, so after any
interruption (even ``kill -9``) the finished parts say exactly how many input rows are done. A
resumed run skips those rows; the last step concatenates the parts into ``OUT`` (written to a
temporary file, then renamed), renames the directory out of the way and removes it. Every input
row appears in the output exactly once, with the score an uninterrupted run gives it (chunks always
start at the same rows, so they are scored in the same batches).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from refusal_detector.detector import RefusalDetector, check_threshold
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.arrow import pa, pq  # pyarrow on first use: the [parquet] extra
from refusal_detector.io.chunk_scoring import AddedFields, score_chunk
from refusal_detector.io.files import ProgressBar, atomic_write
from refusal_detector.io.formats import (
    Row,
    count_rows,
    file_format,
    input_columns,
    merge_parts,
    read_rows,
    write_part,
)

__all__ = [
    "PredictSummary",
    "check_first_chunk",
    "check_header",
    "iter_chunks",
    "parts_dir",
    "predict_file",
]

logger = logging.getLogger(__name__)

_META = "meta.json"
_PART = re.compile(
    r"^part-(\d{6})-rows-(\d+)-errors-(\d+)(?:-warnings-(\d+))?\.(jsonl|csv|parquet)$"
)
# A chunk also ends when its texts reach this size, so a file of 1 MB texts stays in bounded memory.
_CHUNK_TEXT_BYTES = 32 << 20


@dataclass(frozen=True)
class PredictSummary:
    """Counts of one :func:`predict_file` run."""

    output: Path
    rows: int
    errors: int
    resumed: int
    warnings: int = 0

    def describe(self) -> str:
        """One line for stderr, e.g. ``predict: 6000 rows -> out.jsonl (5990 classified, ...)``."""
        parts = [f"{self.rows - self.errors} classified", f"{self.errors} with errors"]
        if self.warnings:
            parts.append(f"{self.warnings} with warnings")
        if self.resumed:
            parts.append(f"{self.resumed} from the interrupted run")
        return f"predict: {self.rows} rows -> {self.output} ({', '.join(parts)})"


def parts_dir(output: Path) -> Path:
    """Where the checkpointed chunks of ``output`` live until the run completes."""
    return output.with_name(output.name + ".parts")


def predict_file(
    detector: RefusalDetector,
    input_path: Path,
    output_path: Path,
    *,
    text_field: str = "text",
    threshold: float = 0.5,
    chunk_rows: int = 1024,
    field_prefix: str = "",
    resume: bool = False,
    progress: bool = False,
) -> PredictSummary:
    """Write ``output_path`` with every row of ``input_path`` plus label, score = P(REJECTION).

    Formats follow the extensions (.jsonl/.ndjson, .csv, .parquet) and may differ between input
    and output. Rows whose text is missing, not a string, or unreadable get an ``error`` field (and
    no label or score) instead of stopping the run. An empty text is classified as is. A row that
    was changed before scoring gets a ``warning`` field and is scored: unencodable characters
    (invalid UTF-8, lone surrogates) replaced with U+FFFD in every field, or a text longer than
    ``detector.max_chars`` scored on its first ``max_chars`` characters.

    Args:
        resume: continue from the parts of an interrupted run with the same arguments; without it,
            leftover parts are discarded and the run starts over.
        progress: show a progress bar with rate and ETA on stderr.

    Raises:
        DataError: the text column is absent, the input already has an output field, or a resumed
            run's arguments differ from the interrupted one's.
        ConfigError: chunk_rows or threshold out of range.
    """
    check_threshold(threshold)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"{input_path}: input file not found")
    if input_path.resolve() == output_path.resolve():
        raise DataError(f"{output_path}: output must differ from the input")
    in_fmt, out_fmt = file_format(input_path), file_format(output_path)
    added = AddedFields(field_prefix)

    header = input_columns(input_path)
    if header is not None:
        check_header(input_path, header, text_field, added)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "input": str(input_path.resolve()),
        "input_size": input_path.stat().st_size,
        "input_mtime_ns": input_path.stat().st_mtime_ns,
        "text_field": text_field,
        "threshold": threshold,
        "field_prefix": field_prefix,
        "model_dir": str(Path(detector.model_dir).resolve()),
        "max_chars": detector.max_chars,
        "output_format": out_fmt,
        "columns": None if header is None else [*header, *added.names],
    }
    work = parts_dir(output_path)
    _remove_leftovers(output_path)
    done_parts = _prepare_work_dir(work, meta, resume=resume)
    if done_parts:
        meta = json.loads((work / _META).read_text(encoding="utf-8"))
    resumed = sum(part.rows for part in done_parts)
    schema = _parquet_schema(input_path, added) if in_fmt == "parquet" else None

    total = count_rows(input_path) if progress else None
    bar = ProgressBar(
        enabled=progress, total=total, initial=resumed, unit="row", dynamic_ncols=True
    )
    rows_seen = resumed
    errors = sum(part.errors for part in done_parts)
    warnings = sum(part.warnings for part in done_parts)
    try:
        chunks = iter_chunks(read_rows(input_path, skip=resumed), chunk_rows, text_field)
        for index, chunk in enumerate(chunks, start=len(done_parts)):
            if index == 0 and header is None:
                check_first_chunk(input_path, chunk, text_field)
            out_rows, chunk_errors, chunk_warnings = score_chunk(
                detector,
                chunk,
                text_field,
                threshold,
                added,
                sparse=out_fmt == "jsonl",
                on_scored=bar.update,
            )
            if meta["columns"] is None:
                meta["columns"] = _first_chunk_columns(out_rows, added)
                _write_json_atomic(work / _META, meta)
            if out_fmt == "csv":
                _check_columns(out_rows, chunk, meta["columns"], output_path)
            name = f"part-{index:06d}-rows-{len(chunk)}-errors-{chunk_errors}"
            part = work / f"{name}-warnings-{chunk_warnings}.{out_fmt}"
            _write_atomic(
                part,
                partial(write_part, out_rows, out_fmt, columns=meta["columns"], schema=schema),
            )
            rows_seen += len(chunk)
            errors += chunk_errors
            warnings += chunk_warnings
    finally:
        bar.close()

    parts = sorted(work.glob("part-*"))
    # A JSONL input without rows names no columns; a CSV output still gets a header.
    columns = meta["columns"] if meta["columns"] is not None else list(added.names)
    _write_atomic(output_path, lambda f: merge_parts(parts, out_fmt, f, columns=columns))
    # Renamed before removal: a kill during rmtree must not leave a half-deleted parts directory
    # that a later --resume would read as an unfinished run with parts missing.
    done = _done_dir(output_path)
    os.replace(work, done)
    shutil.rmtree(done)
    return PredictSummary(
        output=output_path, rows=rows_seen, errors=errors, resumed=resumed, warnings=warnings
    )


def check_header(path: str | Path, header: list[str], text_field: str, added: AddedFields) -> None:
    """DataError if the text column is absent or a column predict adds already exists."""
    if text_field not in header:
        raise DataError(
            f"{path}: no column {text_field!r}; columns found: {', '.join(header)}. "
            "Pass --text-field NAME."
        )
    clash = [name for name in added.names if name in header]
    if clash:
        raise DataError(
            f"{path}: the input already has column(s) {', '.join(clash)}, which predict adds; "
            "pass --prefix pred_ to name them differently"
        )


def check_first_chunk(path: Path, chunk: list[Row], text_field: str) -> None:
    """DataError if no JSON object among the first rows has the text field (names those found)."""
    objects = [row for row in chunk if row.fields]
    if objects and not any(text_field in row.fields for row in objects):
        keys = list(dict.fromkeys(key for row in objects for key in row.fields))
        raise DataError(
            f"{path}: no row of the first {len(chunk)} has a field {text_field!r}; "
            f"fields found: {', '.join(keys)}. Pass --text-field NAME."
        )


def _first_chunk_columns(rows: list[dict[str, Any]], added: AddedFields) -> list[str]:
    keys = dict.fromkeys(key for row in rows for key in row if key not in added.names)
    return [*keys, *added.names]


def _check_columns(
    out_rows: list[dict[str, Any]], chunk: list[Row], columns: list[str], output: Path
) -> None:
    known = set(columns)
    for row, source in zip(out_rows, chunk, strict=True):
        extra = [key for key in row if key not in known]
        if extra:
            raise DataError(
                f"{source.where}: field(s) {', '.join(extra)} not in the first chunk's columns; "
                f"CSV output {output} needs one header. Write .jsonl or .parquet instead."
            )


def iter_chunks(rows: Iterable[Row], chunk_rows: int, text_field: str) -> Iterator[list[Row]]:
    """Group rows as predict scores them: ``chunk_rows`` rows, or fewer once texts reach 32 MiB.

    The grouping matters beyond memory: an int8 model quantises activations per batch, so a row's
    score depends (by up to about 1e-2) on which rows share its batches. Engines that chunk alike
    give identical scores (``predict --engine ray`` does).
    """
    chunk: list[Row] = []
    size = 0
    for row in rows:
        chunk.append(row)
        text = row.fields.get(text_field)
        size += len(text) if isinstance(text, str) else 0
        if len(chunk) >= chunk_rows or size >= _CHUNK_TEXT_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _parquet_schema(path: Path, added: AddedFields) -> pa.Schema:
    schema = pq.read_schema(path)
    schema = schema.append(pa.field(added.label, pa.string()))
    schema = schema.append(pa.field(added.score, pa.float64()))
    return schema.append(pa.field(added.error, pa.string()))


@dataclass(frozen=True)
class _Part:
    path: Path
    rows: int
    errors: int
    warnings: int


def _done_dir(output: Path) -> Path:
    return output.with_name(f".{output.name}.parts.done")


def _remove_leftovers(output: Path) -> None:
    """Remove what a killed run can leave beside ``output``: a half-written temporary output
    (``.OUT.*.tmp``) and a finished run's renamed parts directory that was not yet removed."""
    for tmp in output.parent.glob(f".{glob.escape(output.name)}.*.tmp"):
        tmp.unlink(missing_ok=True)
    if _done_dir(output).exists():
        shutil.rmtree(_done_dir(output))


def _prepare_work_dir(work: Path, meta: dict[str, Any], *, resume: bool) -> list[_Part]:
    """Create or reuse ``work``; return the finished parts of a resumable run."""
    if work.exists() and not resume:
        logger.warning("discarding the parts of an earlier interrupted run in %s", work)
        shutil.rmtree(work)
    elif work.exists() and not (work / _META).exists():
        # Killed between creating the directory and writing meta.json: nothing was finished.
        shutil.rmtree(work)
    if not work.exists():
        if resume:
            logger.warning("nothing to resume in %s; starting from the first row", work)
        work.mkdir()
        _write_json_atomic(work / _META, meta)
        return []
    old = json.loads((work / _META).read_text(encoding="utf-8"))
    compared = ("input", "input_size", "input_mtime_ns", "text_field", "threshold", "model_dir")
    for key in (*compared, "max_chars"):
        if old.get(key) != meta[key]:
            raise DataError(
                f"{work}: cannot resume, {key} was {old.get(key)!r} and is now {meta[key]!r}; "
                "rerun without --resume to start over"
            )
    for key in ("field_prefix", "output_format"):
        if old.get(key) != meta[key]:
            raise DataError(f"{work}: cannot resume, {key} changed; rerun without --resume")
    parts: list[_Part] = []
    for path in sorted(work.iterdir()):
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink()  # a chunk being written when the run was killed
            continue
        match = _PART.match(path.name)
        if match:
            if int(match.group(1)) != len(parts):
                raise DataError(f"{work}: part {len(parts)} is missing; rerun without --resume")
            rows, errors, warnings = (int(match.group(i) or 0) for i in (2, 3, 4))
            parts.append(_Part(path, rows, errors, warnings))
    logger.info("resuming after %d rows", sum(part.rows for part in parts))
    return parts


def _write_atomic(target: Path, write: Callable[[Any], None]) -> None:
    # fsynced file and directory: after kill -9 a part either exists whole or not at all
    atomic_write(target, write, durable=True)


def _write_json_atomic(target: Path, value: dict[str, Any]) -> None:
    data = json.dumps(value, indent=1).encode("utf-8")
    _write_atomic(target, lambda f: f.write(data))
