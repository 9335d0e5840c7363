"""File readers shared by the adapters; every failure names the file (and line where known)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from refusal_detector.errors import DataError
from refusal_detector.io import files

__all__ = ["decode_mixed", "read_csv", "read_json", "read_jsonl", "require"]

csv.field_size_limit(1 << 30)


def require(path: Path) -> Path:
    """Return ``path`` if it exists, else raise DataError saying which raw file is missing."""
    if not path.exists():
        raise DataError(
            f"{path}: expected raw file is missing; check --raw points at shared/data/raw"
        )
    return path


def read_json(path: Path) -> Any:
    """Parse one JSON document."""
    try:
        with require(path).open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line; ``.gz`` files are decompressed."""
    yield from files.read_jsonl(require(path))


def decode_mixed(raw: bytes) -> str:
    """Decode bytes that are mostly UTF-8 with stray cp1252/latin-1 bytes, line by line."""
    out = []
    for line in raw.split(b"\n"):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                out.append(line.decode("cp1252"))
            except UnicodeDecodeError:
                out.append(line.decode("latin-1"))
    return "\n".join(out)


def read_csv(path: Path, *, columns: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, row) from a CSV with a header holding at least ``columns``."""
    text = decode_mixed(require(path).read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = columns - set(reader.fieldnames or [])
    if missing:
        raise DataError(f"{path}:1: missing columns {sorted(missing)}; found {reader.fieldnames}")
    yield from enumerate(reader, 2)
