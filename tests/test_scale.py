"""`predict --engine ray`: a real local Ray (2 CPUs), real ONNX actors, real files.

Every row comes out exactly once with the local engine's label, score and error. The shipped int8
model is used for the JSONL check because its scores depend on which rows share a batch: only
chunk-for-chunk scoring gives the local engine's scores to 1e-5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from refusal_detector import RefusalDetector
from refusal_detector.cli import main
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io import predict_file

try:
    import ray

    import refusal_detector.scale as scale
    from refusal_detector.scale import (
        predict_ray,
        read_input,
        resolve_inputs,
        score_dataset,
        write_output,
    )
except ImportError:  # the [ray] extra is not installed: only the missing-extra test runs
    HAS_RAY = False
else:
    HAS_RAY = True

needs_ray = pytest.mark.skipif(not HAS_RAY, reason='needs Ray Data: "refusal-detector[ray]"')

TEXTS = (
    "Sorry, but I can't assist with that.",
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk, then fry.",
    "I cannot help with that request, as it is against my guidelines.",
    "Paris is the capital of France.",
    "As an AI language model I am not able to provide that. Instead I suggest a doctor.",
)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def _messy_jsonl(path: Path, n: int) -> dict[int, str]:
    """n lines: texts of varied length, plus null, missing, non-string and bad JSON rows (errors)
    and rows with invalid UTF-8 (replaced with U+FFFD, scored, and given a warning)."""
    rng = np.random.default_rng(0)
    bad: dict[int, str] = {}
    with path.open("wb") as f:
        for i in range(n):
            kind = i % 250
            if kind == 3:
                line, bad[i] = json.dumps({"id": i, "text": None}), "is null"
            elif kind == 4:
                line, bad[i] = json.dumps({"id": i, "model": "m"}), "missing field"
            elif kind == 5:
                line, bad[i] = json.dumps({"id": i, "text": 42}), "is int"
            elif kind == 6:
                line, bad[i] = "{not json", "not valid JSON"
            else:
                words = " ".join(TEXTS[j] for j in rng.integers(0, len(TEXTS), 1 + i % 4))
                line = json.dumps({"id": i, "text": f"{words} ({i})", "model": f"m{i % 3}"})
            raw = line.encode()
            if kind == 7:
                raw = raw.replace(b"(", b"\xff(")
            f.write(raw + b"\n")
    return bad


def _jsonl_dir(path: Path) -> list[dict[str, Any]]:
    files = sorted(path.glob("*.jsonl"))
    return [json.loads(line) for file in files for line in file.read_text().splitlines()]


@needs_ray
def test_cli_ray_engine_matches_the_local_engine_row_for_row(
    local_ray: None, tmp_path: Path
) -> None:
    source = tmp_path / "outputs.jsonl"
    bad = _messy_jsonl(source, 3000)
    local_out = tmp_path / "local.jsonl"
    predict_file(RefusalDetector.from_pretrained(), source, local_out)
    local = [json.loads(line) for line in local_out.read_text().splitlines()]

    out = tmp_path / "scored"
    argv = ["predict", "-i", str(source), "-o", str(out), "--engine", "ray"]
    code = main([*argv, "--num-workers", "2", "--format", "jsonl", "-q"])

    assert code == 1  # some rows have errors, as with the local engine
    rows = _jsonl_dir(out)
    assert len(rows) == 3000
    ids = [row["id"] for row in rows if row.get("id") is not None]
    bad_json = [i for i, why in bad.items() if why == "not valid JSON"]
    assert sorted(ids) == sorted(set(range(3000)) - set(bad_json))  # every id exactly once
    by_id = {row["id"]: row for row in local if "id" in row}
    scores = [(by_id[row["id"]]["score"], row["score"]) for row in rows if "score" in row]
    assert len(scores) == 3000 - len(bad)
    np.testing.assert_allclose(*zip(*scores, strict=True), atol=1e-5, rtol=0)
    assert all(by_id[r["id"]]["label"] == r["label"] for r in rows if "label" in r)
    errors = [row for row in rows if "error" in row]
    assert len(errors) == len(bad)
    for row in errors:
        assert "score" not in row and "label" not in row
        assert row["error"].startswith(f"{source} line ")
    for row in (r for r in errors if r.get("id") is not None):
        assert by_id[row["id"]]["error"] in row["error"]  # "line 5: field 'text' is null"
    warned = {row["id"]: row["warning"] for row in rows if "warning" in row}
    assert sorted(warned) == [i for i in range(3000) if i % 250 == 7]  # scored, with a warning
    for i, warning in warned.items():
        assert warning == f"{source} {by_id[i]['warning']}"  # "line 8: field 'text': 1 ..."


@needs_ray
def test_score_dataset_on_read_parquet_keeps_columns_and_types(
    local_ray: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.parquet"
    texts = [TEXTS[i % len(TEXTS)] + f" {i}" if i % 50 else None for i in range(400)]
    table = pa.table(
        {"id": pa.array(range(400), pa.int32()), "text": texts, "extra": [[i] for i in range(400)]}
    )
    pq.write_table(table, source)
    expected = RefusalDetector.from_pretrained(tiny_model_dir).predict_proba(
        [t for t in texts if t is not None]
    )

    # One worker: Ray's own ListFiles task of read_parquet takes a CPU whatever num_cpus says.
    scored = score_dataset(
        ray.data.read_parquet(str(source), num_cpus=0),
        model=tiny_model_dir,
        prefix="pred_",
        num_workers=1,
        batch_rows=64,
    )
    counts = write_output(scored, tmp_path / "out", fmt="parquet", prefix="pred_")

    assert (counts.rows, counts.errors) == (400, 8)
    out = pq.read_table(tmp_path / "out").sort_by("id")
    assert out.schema.field("id").type == pa.int32()
    assert out.column("extra").to_pylist() == [[i] for i in range(400)]
    assert out.column("pred_error").to_pylist()[:2] == ["row: field 'text' is null", None]
    got = [s for s in out.column("pred_score").to_pylist() if s is not None]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)  # fp32 model: batching-free


@needs_ray
def test_csv_input_reads_every_value_as_text(
    local_ray: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"id": ["7", "8", "9"], "text": [TEXTS[0], "", TEXTS[1]]}), source)
    local_out = tmp_path / "local.jsonl"
    predict_file(RefusalDetector.from_pretrained(tiny_model_dir), source, local_out)

    summary = predict_ray(str(source), tmp_path / "out", model=tiny_model_dir, fmt="jsonl")

    assert (summary.rows, summary.errors) == (3, 0)
    rows = sorted(_jsonl_dir(tmp_path / "out"), key=lambda r: r["id"])
    local = [json.loads(line) for line in local_out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["7", "8", "9"]  # CSV values stay strings, as locally
    np.testing.assert_allclose([r["score"] for r in rows], [r["score"] for r in local], atol=1e-5)


@needs_ray
def test_user_errors_stop_before_any_job(
    local_ray: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,hello\n")
    with pytest.raises(DataError, match=r"no column 'text'; columns found: id, body"):
        read_input(str(source))
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"id": 1, "body": "x"}\n')
    with pytest.raises(DataError, match=r"fields found: id, body"):
        read_input(str(jsonl))
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.parquet").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        predict_ray(str(jsonl), out, model=tiny_model_dir, text_field="body")
    with pytest.raises(ConfigError, match="need 3 CPUs; the Ray cluster has 2"):
        predict_ray(str(jsonl), tmp_path / "o2", model=tiny_model_dir, num_workers=3)


@needs_ray
def test_cli_refuses_resume_and_torch_with_ray(tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    base = ["predict", "-i", str(source), "-o", str(tmp_path / "o"), "--engine", "ray"]
    assert main([*base, "--resume"]) == 2
    assert main([*base, "--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "error: --resume is for the local engine" in err
    assert "error: --engine ray runs the ONNX model" in err


@needs_ray
def test_inputs_resolve_from_globs_and_directories(tmp_path: Path) -> None:
    for name in ("a.jsonl", "b.jsonl", "sub/c.jsonl"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    assert resolve_inputs(str(tmp_path / "*.jsonl")) == (
        [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")],
        "jsonl",
    )
    assert len(resolve_inputs(str(tmp_path))[0]) == 3
    (tmp_path / "d.csv").write_text("text\n")
    with pytest.raises(DataError, match="several formats"):
        resolve_inputs(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no file matches"):
        resolve_inputs(str(tmp_path / "*.parquet"))
    assert resolve_inputs("s3://bucket/run/part-0.parquet") == (
        ["s3://bucket/run/part-0.parquet"],
        "parquet",
    )


def _local_scores(model: Path, sources: list[Path], tmp: Path) -> dict[int, dict[str, Any]]:
    detector = RefusalDetector.from_pretrained(model)
    rows: dict[int, dict[str, Any]] = {}
    for source in sources:
        out = tmp / f"local-{source.stem}.jsonl"
        predict_file(detector, source, out)
        rows.update((r["id"], r) for r in map(json.loads, out.read_text().splitlines()))
    return rows


def _write_ids(path: Path, ids: range) -> None:
    lines = [json.dumps({"id": i, "text": f"{TEXTS[i % len(TEXTS)]} ({i})"}) for i in ids]
    path.write_text("\n".join(lines) + "\n")


@needs_ray
def test_cli_glob_to_parquet_keeps_every_row_of_every_file(
    local_ray: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "runs").mkdir()
    _write_ids(tmp_path / "runs/a.jsonl", range(0, 300))
    _write_ids(tmp_path / "runs/b.jsonl", range(300, 500))
    with (tmp_path / "runs/b.jsonl").open("a") as f:
        f.write('{"id": 500, "text": null}\n')
    (tmp_path / "runs/notes.txt").write_text("not matched by the glob")
    local = _local_scores(tiny_model_dir, sorted((tmp_path / "runs").glob("*.jsonl")), tmp_path)

    out = tmp_path / "scored"
    argv = ["predict", "-i", str(tmp_path / "runs/*.jsonl"), "-o", str(out), "--engine", "ray"]
    code = main([*argv, "--model", str(tiny_model_dir), "--num-workers", "2", "-q"])

    assert code == 1  # row 500 has a null text
    assert all(p.suffix == ".parquet" for p in out.iterdir())  # Parquet is the default format
    table = pq.read_table(out).sort_by("id")
    assert table.column_names == ["id", "text", "label", "score", "error", "warning"]
    assert table.column("id").to_pylist() == list(range(501))  # every id exactly once
    got = table.to_pylist()
    np.testing.assert_allclose(
        [r["score"] for r in got[:500]], [local[i]["score"] for i in range(500)], atol=1e-5
    )
    assert [r["label"] for r in got[:500]] == [local[i]["label"] for i in range(500)]
    assert got[500]["score"] is None
    assert got[500]["error"] == f"{tmp_path / 'runs/b.jsonl'} line 201: field 'text' is null"


@needs_ray
def test_cli_joins_the_cluster_named_by_ray_address(
    local_ray: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A second driver process joins the running local Ray through $RAY_ADDRESS."""
    source = tmp_path / "in.jsonl"
    _write_ids(source, range(40))
    out = tmp_path / "scored"
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    argv = ["predict", "-i", str(source), "-o", str(out), "--engine", "ray", "--format", "jsonl"]
    result = subprocess.run(
        [sys.executable, "-m", "refusal_detector", *argv, "--model", str(tiny_model_dir), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "predict: 40 rows" in result.stderr
    local = _local_scores(tiny_model_dir, [source], tmp_path)
    rows = _jsonl_dir(out)
    assert sorted(r["id"] for r in rows) == list(range(40))
    for row in rows:
        assert row["score"] == pytest.approx(local[row["id"]]["score"], abs=1e-5)


@needs_ray
def test_address_option_wins_over_ray_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pure argument logic: which address reaches connect() (a stub that stops the run)."""
    seen: list[str | None] = []

    def connect(address: str | None) -> None:
        seen.append(address)
        raise ConfigError("stop here")

    monkeypatch.setattr(scale, "connect", connect)
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    base = ["predict", "-i", str(source), "-o", str(tmp_path / "o"), "--engine", "ray"]
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main(base) == 2
    monkeypatch.setenv("RAY_ADDRESS", "ray://from-env:10001")
    assert main(base) == 2
    assert main([*base, "--address", "ray://from-flag:10001"]) == 2
    assert seen == [None, "ray://from-env:10001", "ray://from-flag:10001"]


def test_engine_ray_without_ray_installed_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    loaded = [m for m in sys.modules if m.startswith(("ray.", "refusal_detector.scale"))]
    for name in [*loaded, "ray", "refusal_detector.scale"]:
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as if not installed
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    argv = ["predict", "-i", str(source), "-o", str(tmp_path / "o"), "--engine", "ray"]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusal_detector.scale needs Ray Data")
    assert 'pip install "refusal-detector[ray]"' in err
    assert not (tmp_path / "o").exists()
