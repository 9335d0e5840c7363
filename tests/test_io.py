"""`predict` over JSONL, CSV and Parquet: each row out exactly once, bad rows flagged, resumable."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from refusal_detector import RefusalDetector
from refusal_detector.cli import main
from refusal_detector.io import predict_file
from refusal_detector.io.predict import parts_dir

LONG = "Here is a long story about the king of the city and the river. " * 320  # ~20,000 chars
ROWS: list[dict[str, Any]] = [
    {"id": 0, "text": "Sorry, but I can't assist with that.", "source": "a"},
    {"id": 1, "text": "Sure! Here is a simple recipe for pancakes.", "source": "b"},
    {"id": 2, "text": "", "source": "c"},
    {"id": 3, "text": "   ", "source": "d"},
    {"id": 4, "text": None, "source": "e"},
    {"id": 5, "source": "f"},
    {"id": 6, "text": LONG, "source": "g"},
    {"id": 7, "text": "I cannot help with that request.", "source": "h"},
]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        columns = list(dict.fromkeys(k for r in rows for k in r))
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows]), path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    return pq.read_table(path).to_pylist()


def predict(model: Path, source: Path, target: Path, *extra: str) -> int:
    argv = ["predict", "--model", str(model), "-i", str(source), "-o", str(target), *extra]
    return main([*argv, "--quiet"])


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize(
    ("in_ext", "out_ext"),
    [("jsonl", "jsonl"), ("csv", "csv"), ("parquet", "parquet"), ("jsonl", "parquet")],
)
def test_predict_keeps_every_row_and_field(
    tiny_model_dir: Path,
    detector: RefusalDetector,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    in_ext: str,
    out_ext: str,
) -> None:
    source, target = tmp_path / f"in.{in_ext}", tmp_path / f"out.{out_ext}"
    write_rows(source, ROWS)
    code = predict(tiny_model_dir, source, target, "--chunk-size", "3")
    out = read_rows(target)

    # CSV has no null: a missing or null text is an empty string there, and gets classified.
    bad_ids = set() if in_ext == "csv" else {4, 5}
    assert code == (1 if bad_ids else 0)
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith(f"predict: {len(ROWS)} rows -> {target}")
    assert f"{len(bad_ids)} with errors" in summary
    assert [int(r["id"]) for r in out] == [r["id"] for r in ROWS]
    assert [r["source"] for r in out] == [r["source"] for r in ROWS]
    good = [r for r in ROWS if r["id"] not in bad_ids]
    expected = detector.predict_proba([r.get("text") or "" for r in good])
    by_id = {int(r["id"]): r for r in out}
    for row, p in zip(good, expected, strict=True):
        got = by_id[row["id"]]
        assert float(got["score"]) == pytest.approx(float(p), abs=1e-5)
        assert got["label"] == ("REJECTION" if p >= 0.5 else "NORMAL")
        assert not got.get("error")
    for i in bad_ids:
        assert by_id[i]["error"]
        assert by_id[i].get("label") is None
        assert by_id[i].get("score") is None
    if in_ext == "jsonl":
        assert "field 'text' is null" in by_id[4]["error"]
        assert "missing field 'text'" in by_id[5]["error"]


def test_unreadable_jsonl_lines_become_error_rows_and_bad_bytes_warnings(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(
        b'{"id": 0, "text": "hello"}\n'
        b'{"id": 1, "text": "bad \xff\xfe bytes"}\n'
        b"\n"
        b"this is not json\n"
        b"[1, 2, 3]\n"
        b'{"id": 5, "text": 42}\n'
        b'{"id": 6, "text": "' + b"sorry I cannot help. " * 50_000 + b'"}\n'
    )
    assert predict(tiny_model_dir, source, target) == 1
    out = read_rows(target)
    assert len(out) == 6  # the blank line is not a row
    assert "label" in out[0]
    # Invalid UTF-8 inside a string follows the text policy: U+FFFD, a warning, and a score.
    assert out[1]["text"] == "bad \ufffd\ufffd bytes"
    assert out[1]["warning"] == (
        "line 2: field 'text': 2 unencodable characters (lone surrogates or invalid UTF-8 bytes) "
        "replaced with U+FFFD"
    )
    assert out[1]["label"] in {"NORMAL", "REJECTION"}
    assert "error" not in out[1]
    assert out[2]["error"].startswith("line 4: not valid JSON")
    assert out[3]["error"] == "line 5: expected a JSON object, found list"
    assert out[4]["error"] == "line 6: field 'text' is int, expected a string"
    assert out[5]["label"] in {"NORMAL", "REJECTION"}
    assert out[5]["warning"] == (
        "line 7: text has 1,050,000 characters; scored on the first 100,000 (max_chars)"
    )


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_missing_text_column_names_the_columns(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ext: str
) -> None:
    source = tmp_path / f"in.{ext}"
    write_rows(source, [{"id": 1, "response": "hi"}, {"id": 2, "response": "there"}])
    assert predict(tiny_model_dir, source, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "'text'" in err
    assert "id, response" in err
    assert predict(tiny_model_dir, source, tmp_path / "out.jsonl", "--text-field", "response") == 0


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_existing_label_column_needs_a_prefix(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ext: str
) -> None:
    source, target = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    write_rows(source, [{"text": "hi", "label": "1"}, {"text": "sorry", "label": "0"}])
    assert predict(tiny_model_dir, source, target) == 2
    assert "--prefix" in capsys.readouterr().err
    assert predict(tiny_model_dir, source, target, "--prefix", "pred_") == 0
    out = read_rows(target)
    assert [r["label"] for r in out] == ["1", "0"]
    assert all(r["pred_label"] in {"NORMAL", "REJECTION"} for r in out)


def test_empty_input_gives_empty_output(tiny_model_dir: Path, tmp_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("")
    assert predict(tiny_model_dir, source, target) == 0
    assert target.read_text() == ""
    source.write_text("\n \n")  # blank lines are not rows; CSV output still gets its header
    assert predict(tiny_model_dir, source, tmp_path / "out.csv") == 0
    assert (tmp_path / "out.csv").read_bytes() == b"label,score,error,warning\r\n"


@pytest.mark.parametrize(
    ("source_name", "target_name", "message"),
    [
        ("in.txt", "out.jsonl", "unsupported extension '.txt'"),
        ("in.jsonl", "out.xlsx", "unsupported extension '.xlsx'"),
        ("missing.jsonl", "out.jsonl", "input file not found"),
    ],
)
def test_bad_paths_exit_2(
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source_name: str,
    target_name: str,
    message: str,
) -> None:
    for name in ("in.txt", "in.jsonl"):
        (tmp_path / name).write_text('{"text": "hi"}\n')
    assert predict(tiny_model_dir, tmp_path / source_name, tmp_path / target_name) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / target_name).exists()


_KILLABLE_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from refusal_detector import RefusalDetector
    from refusal_detector.io import predict_file

    model, source, target, ready = sys.argv[1:5]
    detector = RefusalDetector.from_pretrained(model)
    score = detector.predict_proba
    calls = 0

    def stall_on_fourth_chunk(texts):
        global calls
        calls += 1
        if calls == 4:
            Path(ready).touch()
            time.sleep(600)  # killed here, with three chunks done
        return score(texts)

    detector.predict_proba = stall_on_fourth_chunk
    predict_file(detector, Path(source), Path(target), chunk_rows=50)
    """
)


def test_resume_after_kill_9_outputs_each_row_exactly_once(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = [
        {"id": i, "text": ROWS[i % len(ROWS)].get("text") if i % 7 else f"row {i} sorry"}
        for i in range(400)
    ]
    source, target, ready = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "ready"
    write_rows(source, rows)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-c", _KILLABLE_RUN, str(tiny_model_dir), str(source), str(target)]
    proc = subprocess.Popen([*argv, str(ready)], env=env)
    try:
        deadline = time.monotonic() + 300  # a safety net against hanging, not a speed assertion
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the run ended before reaching its fourth chunk"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    parts = sorted(p.name for p in parts_dir(target).glob("part-*"))
    assert len(parts) == 3
    # As if the kill had also hit a chunk while it was being written.
    (parts_dir(target) / ".part-000003-rows-50-errors-0.jsonl.x.tmp").write_text('{"id": 1')

    assert predict(tiny_model_dir, source, target, "--chunk-size", "50", "--resume") == 1
    resumed = read_rows(target)
    assert [r["id"] for r in resumed] == list(range(400))
    assert not parts_dir(target).exists()

    fresh = tmp_path / "fresh.jsonl"
    assert predict(tiny_model_dir, source, fresh, "--chunk-size", "64") == 1
    assert resumed == read_rows(fresh)


def test_resume_refuses_changed_arguments_and_rerun_starts_over(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(source, ROWS)
    work = parts_dir(target)
    work.mkdir()
    (work / "meta.json").write_text(json.dumps({"input": "elsewhere.jsonl"}))
    (work / "part-000000-rows-3-errors-0.jsonl").write_text("stale\n")
    assert predict(tiny_model_dir, source, target, "--resume") == 2
    assert "cannot resume, input was 'elsewhere.jsonl'" in capsys.readouterr().err
    assert predict(tiny_model_dir, source, target) == 1
    assert [r["id"] for r in read_rows(target)] == [r["id"] for r in ROWS]
    assert not work.exists()


def test_resume_with_an_empty_parts_directory_starts_over(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(source, ROWS)
    parts_dir(target).mkdir()
    assert predict(tiny_model_dir, source, target, "--resume") == 1
    assert [r["id"] for r in read_rows(target)] == [r["id"] for r in ROWS]


def test_resume_of_a_finished_merge_rewrites_the_same_output(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    write_rows(source, ROWS)
    assert predict(tiny_model_dir, source, target, "--chunk-size", "2", "--resume") == 0
    first = target.read_bytes()
    assert predict(tiny_model_dir, source, target, "--resume") == 0
    assert target.read_bytes() == first
    assert np.isfinite([float(r["score"]) for r in read_rows(target)]).all()


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("out_ext", ["csv", "parquet", "jsonl"])
def test_interrupted_run_resumes_in_every_output_format(
    detector: RefusalDetector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out_ext: str
) -> None:
    rows = [{"id": i, "text": f"sorry number {i}" if i % 3 else None} for i in range(50)]
    source, target = tmp_path / "in.jsonl", tmp_path / f"out.{out_ext}"
    write_rows(source, rows)
    score = detector.predict_proba
    calls = []

    def fail_on_third_chunk(texts: list[str]) -> Any:
        calls.append(len(texts))
        if len(calls) == 3:
            raise _Interrupt
        return score(texts)

    monkeypatch.setattr(detector, "predict_proba", fail_on_third_chunk)
    with pytest.raises(_Interrupt):
        predict_file(detector, source, target, chunk_rows=10)
    assert len(list(parts_dir(target).glob("part-*"))) == 2
    monkeypatch.setattr(detector, "predict_proba", score)
    summary = predict_file(detector, source, target, chunk_rows=7, resume=True)
    assert (summary.rows, summary.errors, summary.resumed) == (50, 17, 20)
    out = read_rows(target)
    assert [int(r["id"]) for r in out] == list(range(50))
    fresh = tmp_path / f"fresh.{out_ext}"
    predict_file(detector, source, fresh)
    assert out == read_rows(fresh)


def test_progress_bar_reports_rows_on_stderr(
    detector: RefusalDetector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(source, ROWS)
    predict_file(detector, source, target, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{len(ROWS)}/{len(ROWS)}" in captured.err
    assert "row/s" in captured.err or "s/row" in captured.err  # tqdm flips slow rates


def test_csv_with_byte_order_mark_and_invalid_utf8(tiny_model_dir: Path, tmp_path: Path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.jsonl"
    source.write_bytes(
        b'\xef\xbb\xbftext,id\r\nhello,1\r\n"bad \xff",2\r\n"multi\nline",3\r\na,4,extra\r\n'
    )
    assert predict(tiny_model_dir, source, target) == 1
    out = read_rows(target)
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert out[0]["label"] in {"NORMAL", "REJECTION"}
    assert out[1]["warning"] == (
        "row 2: field 'text': 1 unencodable character (a lone surrogate or an invalid UTF-8 byte) "
        "replaced with U+FFFD"
    )
    assert out[1]["text"] == "bad \ufffd"
    assert out[1]["label"] in {"NORMAL", "REJECTION"}
    assert out[2]["text"] == "multi\nline"
    assert out[2]["label"] in {"NORMAL", "REJECTION"}
    assert out[3]["error"] == "row 4: 3 fields but the header has 2"


def test_jsonl_output_escapes_unicode_line_breaks(
    detector: RefusalDetector, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    texts = ["one\u2028two", "three\u2029four", "five\x85six"]
    write_rows(source, [{"id": i, "text": t} for i, t in enumerate(texts)])
    predict_file(detector, source, target)
    lines = target.read_text(encoding="utf-8").splitlines()  # splits at U+2028, U+2029, U+0085
    assert [json.loads(line)["text"] for line in lines] == texts
