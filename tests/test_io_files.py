"""The shared file helpers: JSON-lines reader, atomic writes, progress bar."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from refusal_detector.errors import DataError
from refusal_detector.io.files import (
    ProgressBar,
    atomic_copy,
    atomic_write,
    atomic_write_jsonl,
    atomic_write_text,
    progress,
    read_jsonl,
)


def test_read_jsonl_yields_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": "\\u2028 kept"}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": "\u2028 kept"})]
    packed = tmp_path / "rows.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert list(read_jsonl(packed)) == list(read_jsonl(path))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"a": 1}\n{oops\n', r"rows\.jsonl:2: not valid JSON"),
        ('{"a": 1}\n[1, 2]\n', r"rows\.jsonl:2: expected a JSON object, found list"),
    ],
)
def test_read_jsonl_names_path_and_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        list(read_jsonl(path))
    with pytest.raises(DataError, match=r"missing\.jsonl: cannot read"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    atomic_write_text(target, "old\n")

    def rows() -> object:
        yield {"ok": 1}
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_jsonl(target, rows())  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_atomic_writes_replace_the_target(tmp_path: Path) -> None:
    target = tmp_path / "t.jsonl"
    assert atomic_write_jsonl(target, [{"text": "é"}, {"text": 2}]) == 2
    assert target.read_text(encoding="utf-8") == '{"text": "é"}\n{"text": 2}\n'
    atomic_write(target, lambda handle: handle.write(b"bytes"), durable=True)
    assert target.read_bytes() == b"bytes"
    atomic_copy(target, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"bytes"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_disabled_progress_bar_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar(enabled=False, total=3) as bar:
        bar.update(2)
        bar.update_to(3, 3)
    assert list(progress(range(3), enabled=False)) == [0, 1, 2]
    assert list(progress(range(3), enabled=True, desc="x")) == [0, 1, 2]
    with ProgressBar(enabled=True, total=3, desc="shown") as bar:
        bar.update_to(3, 3)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "shown" in captured.err
