"""Row-streaming readers and chunk writers for JSONL, CSV and Parquet, chosen by file extension.

Readers yield :class:`Row` objects one at a time, so memory stays bounded by the caller's chunk.
A row that cannot be read (bad JSON, a ragged CSV line) is still yielded, with an ``error`` set, so
that no row is lost. The package's text policy (``refusal_detector.text_input``) is applied to every
string of every row, keys included: invalid UTF-8 bytes and lone surrogates (JSON ``"\ud800"``)
become U+FFFD and the row gets a ``warning`` naming the fields, so outputs are always valid UTF-8
and the row is still scored.

Writers write one chunk ("part") to its own file; :func:`merge_parts` concatenates the parts into
the final output. Parts are what makes ``predict --resume`` exact after a kill.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from refusal_detector.errors import DataError
from refusal_detector.io.arrow import pa, pq  # pyarrow on first use: the [parquet] extra
from refusal_detector.text_input import describe_replaced, replace_unencodable

__all__ = [
    "CSV_ENCODING",
    "FORMATS",
    "Row",
    "count_rows",
    "file_format",
    "input_columns",
    "iter_csv_rows",
    "iter_jsonl_rows",
    "iter_parquet_rows",
    "merge_parts",
    "read_rows",
    "write_part",
]

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

# Spreadsheet exports often start with a byte-order mark; it must not become part of a column name.
CSV_ENCODING = "utf-8-sig"
# Line breaks to str.splitlines() and to JavaScript that json.dumps(ensure_ascii=False) leaves raw
# (it escapes every other control character): escaped, a JSONL line is one line to every reader.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})
# Python's csv module refuses fields over 128 KiB by default; LLM outputs can be megabytes.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(slots=True)
class Row:
    """One input row: its fields, where it came from (``line 12``), why it is unusable, if so, and
    what was changed in it (``warning``: unencodable characters replaced), if anything."""

    fields: dict[str, Any]
    where: str
    error: str | None = None
    warning: str | None = None


def file_format(path: Path) -> str:
    """ "jsonl", "csv" or "parquet" from the extension; DataError for anything else."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unsupported extension {path.suffix!r}; use one of {', '.join(FORMATS)}"
        )
    return fmt


# ---------------------------------------------------------------- reading


def input_columns(path: Path) -> list[str] | None:
    """Column names of a CSV header or Parquet schema; None for JSONL (rows carry their keys)."""
    fmt = file_format(path)
    if fmt == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    if fmt == "csv":
        with path.open(encoding=CSV_ENCODING, errors="surrogateescape", newline="") as f:
            header = next(csv.reader(f), None)
        if header is None:
            raise DataError(f"{path}: empty CSV file; expected a header line")
        return [replace_unencodable(name)[0] for name in header]
    return None


def read_rows(path: Path, *, skip: int = 0) -> Iterator[Row]:
    """Yield the rows of ``path`` after the first ``skip`` (blank JSONL lines are not rows)."""
    fmt = file_format(path)
    if fmt == "jsonl":
        return _read_jsonl(path, skip)
    if fmt == "csv":
        return _read_csv(path, skip)
    return _read_parquet(path, skip)


def count_rows(path: Path) -> int:
    """Number of rows ``read_rows`` yields (one pass over the file for JSONL and CSV)."""
    fmt = file_format(path)
    if fmt == "parquet":
        return int(_parquet_file(path).metadata.num_rows)
    if fmt == "jsonl":
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    with path.open(encoding=CSV_ENCODING, errors="replace", newline="") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


def _decode(raw: bytes) -> tuple[str, str | None]:
    # surrogateescape: bad bytes inside JSON strings survive json.loads and are replaced, with a
    # warning, by _clean_fields like any other unencodable character.
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        decoded = raw.decode("utf-8", errors="surrogateescape")
        return decoded, f"invalid UTF-8 at byte offset {exc.start}"


def _clean_value(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return replace_unencodable(value)
    if isinstance(value, list):
        items = [_clean_value(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        return _clean_dict(value)
    return value, 0


def _clean_dict(value: dict[Any, Any]) -> tuple[dict[Any, Any], int]:
    cleaned, total = {}, 0
    for key, item in value.items():
        new_key, in_key = _clean_value(key)
        new_item, in_item = _clean_value(item)
        cleaned[new_key] = new_item
        total += in_key + in_item
    return cleaned, total


def _clean_fields(fields: dict[str, Any], where: str) -> tuple[dict[str, Any], str | None]:
    """Fields with every unencodable character replaced, and the row's warning if any was."""
    cleaned: dict[str, Any] = {}
    notes = []
    for key, value in fields.items():
        new_key, in_key = replace_unencodable(key) if isinstance(key, str) else (key, 0)
        new_value, in_value = _clean_value(value)
        cleaned[new_key] = new_value
        if in_key + in_value:
            notes.append(f"field {new_key!r}: {describe_replaced(in_key + in_value)}")
    return cleaned, f"{where}: {'; '.join(notes)}" if notes else None


def _read_jsonl(path: Path, skip: int) -> Iterator[Row]:
    with path.open("rb") as f:
        yield from iter_jsonl_rows(f, skip=skip)


def iter_jsonl_rows(lines: Iterable[bytes], *, skip: int = 0, where: str = "") -> Iterator[Row]:
    """Parse JSONL lines (bytes, e.g. a binary file) into rows; ``where`` prefixes ``line N``.

    A line that is not valid JSON or not an object becomes a row with no fields and an error.
    """
    rows = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        rows += 1
        if rows <= skip:
            continue
        place = f"{where}line {number}"
        text, bad_utf8 = _decode(raw)
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                reason = "not valid JSON (nested too deeply)"
            else:
                reason = f"not valid JSON ({exc.msg} at column {exc.colno})"
            yield Row({}, place, f"{place}: {bad_utf8 or reason}")
            continue
        if not isinstance(value, dict):
            kind = type(value).__name__
            yield Row({}, place, f"{place}: expected a JSON object, found {kind}")
            continue
        fields, warning = _clean_fields(value, place)
        yield Row(fields, place, warning=warning)


def _read_csv(path: Path, skip: int) -> Iterator[Row]:
    # surrogateescape keeps undecodable bytes visible per row instead of failing the whole file.
    with path.open(encoding=CSV_ENCODING, errors="surrogateescape", newline="") as f:
        yield from iter_csv_rows(f, skip=skip)


def iter_csv_rows(text: Iterable[str], *, skip: int = 0, where: str = "") -> Iterator[Row]:
    """Parse CSV (header first) from a text stream opened with ``errors="surrogateescape"``.

    Every value is a string; a line with more fields than the header keeps the header's fields and
    gets an error. ``where`` prefixes ``row N``.
    """
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    for index, values in enumerate(reader):
        if index < skip:
            continue
        place = f"{where}row {index + 1}"
        error = None
        if len(values) > len(header):
            error = f"{place}: {len(values)} fields but the header has {len(header)}"
            values = values[: len(header)]
        fields, warning = _clean_fields(dict(zip(header, values, strict=False)), place)
        yield Row(fields, place, error, warning)


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc


def _read_parquet(path: Path, skip: int) -> Iterator[Row]:
    return iter_parquet_rows(_parquet_file(path), skip=skip)


def iter_parquet_rows(parquet: pq.ParquetFile, *, skip: int = 0, where: str = "") -> Iterator[Row]:
    """Yield the rows of an open Parquet file after ``skip``; ``where`` prefixes ``row N``."""
    seen = 0
    # Small record batches keep memory bounded even when rows hold megabytes of text.
    for batch in parquet.iter_batches(batch_size=256):
        if seen + batch.num_rows <= skip:
            seen += batch.num_rows
            continue
        start = max(0, skip - seen)
        for offset, fields in enumerate(_batch_rows(batch.slice(start)), start=seen + start):
            place = f"{where}row {offset + 1}"
            cleaned, warning = _clean_fields(fields, place)
            yield Row(cleaned, place, warning=warning)
        seen += batch.num_rows


def _batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    try:
        return list(batch.to_pylist())
    except UnicodeDecodeError:
        pass
    # Parquet does not validate UTF-8: a string column can hold bytes that pyarrow cannot turn into
    # str. They are read as bytes and decoded like every other input (surrogateescape, then U+FFFD).
    columns: dict[str, list[Any]] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            raw = column.cast(pa.large_binary()).to_pylist()
            columns[name] = [
                None if v is None else v.decode("utf-8", errors="surrogateescape") for v in raw
            ]
        else:
            try:
                columns[name] = list(column.to_pylist())
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"column {name!r} holds invalid UTF-8 inside nested values, which pyarrow "
                    "cannot read; rewrite the column with valid UTF-8"
                ) from exc
    return [{name: columns[name][i] for name in batch.schema.names} for i in range(batch.num_rows)]


# ---------------------------------------------------------------- writing


def write_part(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    target: BinaryIO,
    *,
    columns: Sequence[str] | None,
    schema: pa.Schema | None = None,
) -> None:
    """Write ``rows`` to ``target`` as one part: JSONL lines, headerless CSV rows or Parquet.

    ``columns`` fixes the CSV column order; ``schema`` the Parquet types where known (input was
    Parquet), else types are inferred from the part and unified in :func:`merge_parts`.
    """
    if fmt == "jsonl":
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, default=str).translate(_LINE_BREAKS)
            target.write(line.encode("utf-8"))
            target.write(b"\n")
    elif fmt == "csv":
        if columns is None:
            raise ValueError("CSV parts need columns")
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in columns])
        target.write(text.getvalue().encode("utf-8"))
    elif fmt == "parquet":
        table = pa.Table.from_pylist(list(rows), schema=schema)
        pq.write_table(table, target)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def merge_parts(
    parts: Sequence[Path], fmt: str, target: BinaryIO, *, columns: Sequence[str] | None
) -> None:
    """Concatenate part files into ``target`` (CSV gets the header first)."""
    if fmt == "parquet":
        _merge_parquet(parts, target, columns=columns)
        return
    if fmt == "csv":
        if columns is None:
            raise ValueError("CSV output needs columns")
        header = io.StringIO(newline="")
        csv.writer(header).writerow(columns)
        target.write(header.getvalue().encode("utf-8"))
    for part in parts:
        with part.open("rb") as f:
            while block := f.read(1 << 20):
                target.write(block)


def _merge_parquet(
    parts: Sequence[Path], target: BinaryIO, *, columns: Sequence[str] | None
) -> None:
    schemas = [pq.read_schema(part) for part in parts]
    if not schemas:
        names = list(columns or [])
        pq.write_table(pa.table({name: pa.array([], pa.string()) for name in names}), target)
        return
    try:
        # A column that is all null in one part and typed in another gets the typed schema.
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"rows have incompatible types across chunks ({exc}); write JSONL output instead"
        ) from exc
    # An all-null column (e.g. no row had an error) is typed string rather than Parquet's null.
    schema = pa.schema(
        [
            pa.field(name, pa.string()) if pa.types.is_null(field.type) else field
            for name in _ordered_names(schemas)
            for field in [schema.field(name)]
        ]
    )
    with pq.ParquetWriter(target, schema) as writer:
        for part in parts:
            table = pq.read_table(part)
            for name in schema.names:
                if name not in table.column_names:
                    table = table.append_column(
                        name, pa.nulls(table.num_rows, schema.field(name).type)
                    )
            try:
                writer.write_table(table.select(schema.names).cast(schema))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataError(
                    f"{part.name}: rows have incompatible types across chunks ({exc}); "
                    "write JSONL output instead"
                ) from exc


def _ordered_names(schemas: Sequence[pa.Schema]) -> list[str]:
    names: dict[str, None] = {}
    for schema in schemas:
        names.update(dict.fromkeys(schema.names))
    return list(names)
