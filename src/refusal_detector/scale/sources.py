"""Read JSONL, CSV or Parquet into a Ray Dataset, row by row and chunk by chunk as ``predict`` does.

A small Ray datasource runs the local engine's own parsers on each file
(:func:`~refusal_detector.io.formats.iter_jsonl_rows`, ``iter_csv_rows``, ``iter_parquet_rows``)
and cuts the rows into the local engine's chunks (:func:`~refusal_detector.io.predict.iter_chunks`).
Two reasons not to use ``ray.data.read_json``/``read_csv`` here:

- fidelity: a line that is not JSON, not UTF-8, or whose text is missing, null or not a string
  stays in the dataset with the local engine's error message (prefixed by its file), where
  ``read_json`` fails the whole job and cannot tell a missing text from a null one;
- identical scores: the shipped int8 model quantises activations per batch, so a row's score
  depends (by up to about 1e-2) on the rows it is batched with. So a chunk travels as one Ray
  row (an Arrow IPC stream in :data:`CHUNK`), which Ray can neither split nor merge, and the
  actors score chunk by chunk, exactly as the local engine does.

``score_dataset`` still takes any Dataset (``ray.data.read_parquet(...)`` and so on); its rows are
then batched by Ray, and scores agree with the local engine only up to that batching noise.
"""

from __future__ import annotations

import glob
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import ray.data
from ray.data.datasource import FileBasedDatasource

from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.chunk_scoring import AddedFields, check_added_fields, text_error
from refusal_detector.io.formats import (
    CSV_ENCODING,
    FORMATS,
    Row,
    file_format,
    input_columns,
    iter_csv_rows,
    iter_jsonl_rows,
    iter_parquet_rows,
    read_rows,
)
from refusal_detector.io.predict import check_first_chunk, check_header, iter_chunks

if TYPE_CHECKING:
    from ray.data.block import Block

__all__ = [
    "CHUNK",
    "HIDDEN_COLUMNS",
    "IO_CPUS",
    "READ_ERROR",
    "READ_WARNING",
    "WHERE",
    "read_input",
    "resolve_inputs",
    "rows_to_table",
    "unpack",
]

WHERE = "__refusal_detector_where"
"""Hidden column: where a row came from (``PATH line 17``); dropped by ``score_dataset``."""
READ_ERROR = "__refusal_detector_read_error"
"""Hidden column: why a row cannot be classified, found while reading; dropped likewise."""
READ_WARNING = "__refusal_detector_read_warning"
"""Hidden column: what the text policy changed in the row while reading (the local engine's
``warning``); dropped likewise."""
HIDDEN_COLUMNS = (WHERE, READ_ERROR, READ_WARNING)
CHUNK = "__refusal_detector_chunk"
"""The one column of :func:`read_input`'s dataset: a local chunk as an Arrow IPC stream."""
_GLOB_CHARS = "*?["
IO_CPUS = 0.0
"""CPUs reserved per read or write task. Zero, because the detector actors usually take every CPU
(``--num-workers`` = cores): reads and writes that each wanted a CPU would then wait forever. They
are light next to the model and run alongside it."""


def resolve_inputs(spec: str) -> tuple[list[str], str]:
    """The files of PATH_OR_GLOB and their one format ("jsonl", "csv" or "parquet").

    A local glob or directory is expanded here (a directory to the files with a known extension
    below it); a URI (``s3://...``) is passed to Ray as it is and must end in an extension.

    Raises:
        FileNotFoundError: nothing matches.
        DataError: unknown extension, or files of more than one format.
    """
    if "://" in spec:
        paths = [spec]
        formats = {file_format(Path(urlparse(spec).path))}
    else:
        if any(ch in spec for ch in _GLOB_CHARS):
            found = [Path(p) for p in sorted(glob.glob(spec, recursive=True))]
            files = [p for p in found if p.is_file()]
            if not files:
                raise FileNotFoundError(f"{spec}: no file matches")
        elif Path(spec).is_dir():
            files = sorted(p for p in Path(spec).rglob("*") if p.suffix.lower() in FORMATS)
            if not files:
                raise DataError(f"{spec}: no file ending in {', '.join(FORMATS)} in this directory")
        elif Path(spec).is_file():
            files = [Path(spec)]
        else:
            raise FileNotFoundError(f"{spec}: input file not found")
        formats = {file_format(p) for p in files}
        paths = [str(p) for p in files]
    if len(formats) > 1:
        raise DataError(
            f"{spec}: files of several formats ({', '.join(sorted(formats))}); give one"
        )
    return paths, formats.pop()


def read_input(
    spec: str, *, text_field: str = "text", chunk_rows: int = 1024, prefix: str = ""
) -> ray.data.Dataset:
    """A Ray Dataset of the chunks of PATH_OR_GLOB (see :func:`resolve_inputs`), for score_dataset.

    Each Ray row is one of the local engine's chunks (at most ``chunk_rows`` input rows) packed in
    the column :data:`CHUNK`, the rows with hidden columns (:data:`HIDDEN_COLUMNS`) that
    :func:`~refusal_detector.scale.score_dataset` uses and drops; it unpacks them. As
    with the local engine, a local input without the text column (CSV header, Parquet schema, or
    no JSON object among the first rows of the first file) is refused at once, naming the columns
    found. A row that already has a field predict adds (``{prefix}label`` and so on) fails the
    job with the local engine's DataError.

    Raises:
        FileNotFoundError, DataError: as :func:`resolve_inputs`, the text column is absent, or a
            CSV header or Parquet schema already has a column predict adds.
        ConfigError: chunk_rows < 1.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    paths, fmt = resolve_inputs(spec)
    if "://" not in paths[0]:
        first = Path(paths[0])
        header = input_columns(first)
        if header is not None:
            check_header(first, header, text_field, AddedFields(prefix))
        else:
            head = [row for _, row in zip(range(chunk_rows), read_rows(first), strict=False)]
            if head:
                check_first_chunk(first, head, text_field)
    source = _RowFileDatasource(
        paths, fmt=fmt, text_field=text_field, chunk_rows=chunk_rows, added=AddedFields(prefix)
    )
    return ray.data.read_datasource(source, num_cpus=IO_CPUS)


class _RowFileDatasource(FileBasedDatasource):
    """Files parsed by the local engine's readers, one block per local chunk."""

    def __init__(
        self, paths: list[str], *, fmt: str, text_field: str, chunk_rows: int, added: AddedFields
    ) -> None:
        super().__init__(paths)
        self._fmt = fmt
        self._text_field = text_field
        self._chunk_rows = chunk_rows
        self._added = added

    def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> pa.NativeFile:
        if self._fmt == "parquet":  # Parquet needs random access
            return filesystem.open_input_file(path)
        return super()._open_input_source(filesystem, path, **open_args)

    def _read_stream(self, f: pa.NativeFile, path: str) -> Iterator[Block]:
        rows: Iterator[Row]
        schema = None
        if self._fmt == "jsonl":
            rows = iter_jsonl_rows(_lines(f), where=f"{path} ")
        elif self._fmt == "csv":
            text = io.TextIOWrapper(
                io.BufferedReader(_Readable(f)),
                encoding=CSV_ENCODING,
                errors="surrogateescape",
                newline="",
            )
            rows = iter_csv_rows(text, where=f"{path} ")
        else:
            parquet = pq.ParquetFile(f)
            schema = parquet.schema_arrow
            rows = iter_parquet_rows(parquet, where=f"{path} ")
        for chunk in iter_chunks(rows, self._chunk_rows, self._text_field):
            check_added_fields(chunk, self._added)
            packed = _pack(rows_to_table(chunk, self._text_field, schema=schema))
            yield pa.table({CHUNK: pa.array([packed], pa.large_binary())})


class _Readable(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream, so io.TextIOWrapper can decode it."""

    def __init__(self, f: pa.NativeFile) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _lines(f: pa.NativeFile, block_size: int = 1 << 20) -> Iterator[bytes]:
    rest = b""
    while block := f.read(block_size):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _pack(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def unpack(value: bytes) -> pa.Table:
    """The table of one packed chunk (see :data:`CHUNK`)."""
    return pa.ipc.open_stream(pa.py_buffer(value)).read_all()


def rows_to_table(rows: list[Row], text_field: str, *, schema: pa.Schema | None = None) -> pa.Table:
    """One Arrow block: the rows' fields (typed by ``schema`` if given) plus the hidden columns.

    Without a schema (JSONL, CSV) the columns are the union of the rows' fields, and the text
    column is always a string column: a text that is not a string is kept as its JSON text (the
    row already has its error). Any other column whose values Arrow cannot hold in one type (a
    number here, a string there) is kept likewise: strings as they are, other values as JSON text.
    A field a row lacks is null.
    """
    if schema is not None:
        table = pa.Table.from_pylist([row.fields for row in rows], schema=schema)
    else:
        names = dict.fromkeys([*(key for row in rows for key in row.fields), text_field])
        table = pa.table(
            {
                name: (_text_array if name == text_field else _array)(
                    [row.fields.get(name) for row in rows]
                )
                for name in names
            }
        )
    table = table.append_column(WHERE, pa.array([row.where for row in rows], pa.string()))
    errors = [row.error or text_error(row, text_field) for row in rows]
    table = table.append_column(READ_ERROR, pa.array(errors, pa.string()))
    return table.append_column(READ_WARNING, pa.array([row.warning for row in rows], pa.string()))


def _text_array(values: list[Any]) -> pa.Array:
    return pa.array(
        [
            v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for v in values
        ],
        pa.string(),
    )


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _text_array(values)
