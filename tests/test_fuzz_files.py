"""Property tests over ``predict`` (JSONL, CSV, Parquet) and ``classify``, fed hostile input.

Files are built from hostile rows (tests/hostile.py): lone surrogates as JSON escapes and as raw
bytes, invalid UTF-8, NUL and control characters, bidi marks, emoji runs, long lines, mixed
newlines, odd JSON (deep nesting, huge integers, non-objects, broken lines). Properties: no crash;
one output row per input row, in order; every row has a score in [0, 1] or an error; a readable
text is always scored, the same as the detector scores it alone; the output is valid UTF-8.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import has_newline, jsonl_lines, texts
from hypothesis import given, settings
from hypothesis import strategies as st

from refusal_detector import DataError, RefusalDetector
from refusal_detector.cli import main
from refusal_detector.io import predict_file
from refusal_detector.text_input import replace_unencodable
from refusal_detector.training.export import export_onnx

PARITY_ATOL = inspect.signature(export_onnx).parameters["atol"].default
MAX_CHARS = 5_000
# A file run or a CLI call costs 10-50x one model call: fewer examples than the API tests.
FILE_EXAMPLES = max(5, settings().max_examples // 3)
CLI_EXAMPLES = max(3, settings().max_examples // 8)
OUTPUTS = st.sampled_from(["jsonl", "csv", "parquet"])


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir, max_chars=MAX_CHARS)


def _read_output(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        text = path.read_bytes().decode("utf-8")  # strict: the output is valid UTF-8
        # Split on "\n" only: str.splitlines() also splits inside strings at U+2028 or U+0085.
        return [json.loads(line) for line in text.split("\n")[:-1]]
    if path.suffix == ".csv":
        path.read_bytes().decode("utf-8")
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in rows]
    return pq.read_table(path).to_pylist()


def _check_rows(detector: RefusalDetector, rows: list[dict[str, Any]], scored: list[bool]) -> None:
    assert len(rows) == len(scored)
    for row, must_score in zip(rows, scored, strict=True):
        has_score = row.get("score") is not None
        assert has_score != (row.get("error") is not None), row
        if must_score:
            assert has_score, row
        if has_score:
            score = float(row["score"])
            assert 0.0 <= score <= 1.0
            assert row["label"] == ("REJECTION" if score >= 0.5 else "NORMAL")
            text = row["text"] if row["text"] is not None else ""  # CSV: an empty cell is ""
            alone = float(detector.predict_proba([text])[0])
            assert math.isclose(score, alone, abs_tol=PARITY_ATOL), (score, alone)


def _predict(detector: RefusalDetector, source: Path, out_ext: str) -> list[dict[str, Any]]:
    target = source.with_name(f"out.{out_ext}")
    summary = predict_file(detector, source, target, chunk_rows=4)
    rows = _read_output(target)
    assert summary.rows == len(rows)
    assert not any(p.name.endswith((".tmp", ".parts")) for p in source.parent.iterdir())
    return rows


def _readable_text(line: bytes) -> str | None:
    """The text predict must score for this line (unencodable characters replaced), or None."""
    try:
        value = json.loads(line.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    return replace_unencodable(value["text"])[0]


@settings(max_examples=FILE_EXAMPLES)
@given(
    lines=st.lists(jsonl_lines(), max_size=10),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    blank=st.booleans(),
    out_ext=st.sampled_from(["jsonl", "jsonl", "csv"]),
)
def test_predict_jsonl_one_row_out_per_row_in(
    detector: RefusalDetector, lines: list[bytes], newline: bytes, blank: bool, out_ext: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.jsonl"
        body = newline.join(lines) + (newline if lines else b"")
        source.write_bytes((b"\n" + body + b"\n \n") if blank else body)
        readable = [_readable_text(line) for line in lines if line.strip()]
        try:
            rows = _predict(detector, source, out_ext)
        except DataError as exc:  # only the documented refusals of a whole file are allowed
            assert "CSV output" in str(exc) or "no row of the first" in str(exc), exc
            return
    _check_rows(detector, rows, [text is not None for text in readable])
    scored = [row["text"] or "" for row in rows if row.get("score") is not None]
    assert scored == [text for text in readable if text is not None]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV file as bytes (invalid UTF-8 where a surrogate was) and its number of data rows."""
    extra = draw(st.sampled_from(["other", "note\ud800", "\ufeffname", ""]))
    rows = draw(st.lists(st.tuples(texts(max_pieces=6), texts(max_pieces=2)), max_size=8))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\r\n", "\n"])))
    writer.writerow(["text", extra])
    writer.writerows(rows)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + buffer.getvalue().encode("utf-8", "surrogatepass"), len(rows)


@settings(max_examples=FILE_EXAMPLES)
@given(file=csv_files(), out_ext=OUTPUTS)
def test_predict_csv_one_row_out_per_row_in(
    detector: RefusalDetector, file: tuple[bytes, int], out_ext: str
) -> None:
    data, n_rows = file
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.csv"
        source.write_bytes(data)
        rows = _predict(detector, source, out_ext)
    _check_rows(detector, rows, [True] * n_rows)  # every CSV cell is a string: all are scored


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    """A table whose text column mixes valid text, nulls and invalid UTF-8 bytes."""
    values: list[bytes | None] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["text", "text", "null", "bad"]))
        if kind == "null":
            values.append(None)
        else:
            raw = draw(texts(max_pieces=6)).encode("utf-8", "surrogatepass")
            values.append(raw + b"\xff" if kind == "bad" else raw)
    text = pa.array(values, pa.binary()).view(pa.string())  # Parquet does not validate UTF-8
    ids = pa.array(range(len(values)), pa.int64())
    return pa.table({"id": ids, "text": text})


@settings(max_examples=FILE_EXAMPLES)
@given(table=parquet_tables(), out_ext=OUTPUTS)
def test_predict_parquet_one_row_out_per_row_in(
    detector: RefusalDetector, table: pa.Table, out_ext: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.parquet"
        pq.write_table(table, source)
        rows = _predict(detector, source, out_ext)
    scored = [v is not None for v in table.column("text").cast(pa.binary()).to_pylist()]
    _check_rows(detector, rows, scored)
    assert [int(row["id"]) for row in rows] == list(range(table.num_rows))


def _classify(argv: list[str], stdin: bytes | None = None) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    patch = (
        mock.patch("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        if stdin is not None
        else contextlib.nullcontext()
    )
    with patch, contextlib.redirect_stdout(out):
        code = main(argv)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@settings(max_examples=CLI_EXAMPLES)
@given(batch=st.lists(texts(max_pieces=6), min_size=1, max_size=5), via_stdin=st.booleans())
def test_classify_one_line_per_text_never_a_traceback(
    detector: RefusalDetector, tiny_model_dir: Path, batch: list[str], via_stdin: bool
) -> None:
    argv = ["classify", "--model", str(tiny_model_dir), "--max-chars", str(MAX_CHARS)]
    if via_stdin:
        lines = [t for t in batch if not has_newline(t)]
        data = "".join(f"{t}\n" for t in lines).encode("utf-8", "surrogatepass")
        if not lines:
            return
        code, results = _classify(argv, stdin=data)
        expected = [
            t.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape") for t in lines
        ]
    else:
        code, results = _classify([*argv, "--", *batch])
        expected = batch
    assert code == 0
    assert len(results) == len(expected)
    for text, result in zip(expected, results, strict=True):
        assert result["label"] in {"NORMAL", "REJECTION"}
        assert 0.0 <= result["score"] <= 1.0
        changed = replace_unencodable(text)[1] > 0 or len(text) > MAX_CHARS
        assert ("warning" in result) == changed
