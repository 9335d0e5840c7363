"""Score one chunk of input rows: the label, score, error and warning fields ``predict`` adds.

A row that cannot be scored (its text missing, null or not a string, or the row unreadable) gets an
``error`` and no label or score. A row whose text was changed before scoring (the package's text
policy, ``refusal_detector.text_input``: unencodable characters replaced, a text over ``max_chars``
cut) is scored and gets a ``warning`` saying what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from refusal_detector.detector import RefusalDetector
from refusal_detector.errors import DataError
from refusal_detector.io.formats import Row
from refusal_detector.labels import NORMAL, REJECTION

__all__ = ["AddedFields", "check_added_fields", "score_chunk", "text_error"]

# Rows are scored (and the progress bar moves) in groups of at most this many rows or characters
# read, so a chunk of a few huge texts still shows progress every few seconds.
_GROUP_ROWS = 256
_GROUP_CHARS = 200_000


@dataclass(frozen=True)
class AddedFields:
    """The fields predict adds to each row: label, score, error, warning (with a prefix)."""

    prefix: str

    @property
    def label(self) -> str:
        return f"{self.prefix}label"

    @property
    def score(self) -> str:
        return f"{self.prefix}score"

    @property
    def error(self) -> str:
        return f"{self.prefix}error"

    @property
    def warning(self) -> str:
        return f"{self.prefix}warning"

    @property
    def names(self) -> tuple[str, str, str, str]:
        return (self.label, self.score, self.error, self.warning)


def score_chunk(
    detector: RefusalDetector,
    chunk: list[Row],
    text_field: str,
    threshold: float,
    added: AddedFields,
    *,
    sparse: bool,
    on_scored: Callable[[int], object],
) -> tuple[list[dict[str, Any]], int, int]:
    """Rows with the added fields, and the chunk's error and warning counts.

    ``sparse`` leaves out added fields that are None (for JSONL); ``on_scored(n)`` is called as
    each group of ``n`` rows is done.
    """
    check_added_fields(chunk, added)
    out: list[dict[str, Any]] = []
    for group in _groups(chunk, text_field, detector.max_chars):
        out.extend(_score_group(detector, group, text_field, threshold, added, sparse=sparse))
        on_scored(len(group))
    errors = sum(row[added.error] is not None for row in out if added.error in row)
    warnings = sum(row[added.warning] is not None for row in out if added.warning in row)
    return out, errors, warnings


def check_added_fields(chunk: list[Row], added: AddedFields) -> None:
    """DataError naming the first row that already has a field predict adds."""
    for row in chunk:
        clash = [name for name in added.names if name in row.fields]
        if clash:
            raise DataError(
                f"{row.where}: the input already has field(s) {', '.join(clash)}, which predict "
                "adds; pass --prefix pred_ to name them differently"
            )


def _groups(chunk: list[Row], text_field: str, max_chars: int | None) -> Iterator[list[Row]]:
    group: list[Row] = []
    chars = 0
    for row in chunk:
        group.append(row)
        text = row.fields.get(text_field)
        if isinstance(text, str):
            chars += len(text) if max_chars is None else min(len(text), max_chars)
        if len(group) >= _GROUP_ROWS or chars >= _GROUP_CHARS:
            yield group
            group, chars = [], 0
    if group:
        yield group


def _score_group(
    detector: RefusalDetector,
    group: list[Row],
    text_field: str,
    threshold: float,
    added: AddedFields,
    *,
    sparse: bool,
) -> list[dict[str, Any]]:
    errors = [row.error or text_error(row, text_field) for row in group]
    good = [row for row, error in zip(group, errors, strict=True) if error is None]
    read = detector.prepare_texts([row.fields[text_field] for row in good])
    scores = iter(detector.predict_proba([p.text for p in read]).tolist() if read else [])
    notes = iter(p.warning for p in read)
    out: list[dict[str, Any]] = []
    for row, error in zip(group, errors, strict=True):
        fields = dict(row.fields)
        warning = [row.warning] if row.warning else []
        if error is None:
            score = next(scores)
            note = next(notes)
            if note is not None:
                warning.append(f"{row.where}: {note}")
            label = REJECTION if score >= threshold else NORMAL
            new = {added.label: label, added.score: score, added.error: None}
        else:
            new = {added.label: None, added.score: None, added.error: error}
        new[added.warning] = "; ".join(warning) or None
        fields.update({k: v for k, v in new.items() if v is not None or not sparse})
        out.append(fields)
    return out


def text_error(row: Row, text_field: str) -> str | None:
    """Why ``row`` cannot be scored (its text missing, null or not a string), or None."""
    if text_field not in row.fields:
        return f"{row.where}: missing field {text_field!r}"
    value = row.fields[text_field]
    if value is None:
        return f"{row.where}: field {text_field!r} is null"
    if not isinstance(value, str):
        return f"{row.where}: field {text_field!r} is {type(value).__name__}, expected a string"
    return None
