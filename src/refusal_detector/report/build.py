"""build_report: refusal rates per group of an evaluation run, from a scored or a raw file.

A *scored* file is a ``predict`` output: it has ``label`` and ``score`` (with ``--prefix``, e.g.
``pred_label``). Its labels are used as they are, so the rates are exactly the counts of
``label == "REJECTION"`` per group. A *raw* file has only texts; they are scored first. Either way
the three-way verdict (compliance, partial_refusal, full_refusal; see
:func:`refusal_detector.spans.decide_verdict`) is computed for every row with a text, for the
partial-refusal rate and the highlighted refusal sentences of the examples.

Rows with an ``error`` (or, in a raw file, no string text) are counted per group and left out of
every rate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from refusal_detector.detector import RefusalDetector, check_threshold
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.files import ProgressBar
from refusal_detector.io.formats import input_columns, read_rows
from refusal_detector.labels import REJECTION
from refusal_detector.report.stats import Comparison, compare_proportions, wilson_interval
from refusal_detector.spans import VerdictConfig

__all__ = ["Example", "GroupStats", "Report", "build_report"]

EXAMPLES = 10
"""Highest- and lowest-scoring examples shown per group."""
_CHUNK = 256


@dataclass(frozen=True)
class Example:
    """One row shown in the report: its text, score, verdict and refusal sentences."""

    text: str
    score: float
    label: str
    verdict: str
    spans: list[tuple[int, int]]
    """Character offsets of the refusal sentences in ``text``."""
    where: str


@dataclass
class GroupStats:
    """The figures of one group (one value of each group-by column)."""

    key: tuple[str, ...]
    n: int
    """Rows with a label and score (rows with errors excluded)."""
    refusals: int
    partial_refusals: int
    full_refusals: int
    errors: int
    mean_score: float
    refusal_rate: float = 0.0
    refusal_ci: tuple[float, float] = (0.0, 1.0)
    partial_rate: float = 0.0
    partial_ci: tuple[float, float] = (0.0, 1.0)
    top: list[Example] = field(default_factory=list)
    bottom: list[Example] = field(default_factory=list)
    comparison: Comparison | None = None
    """Against the --compare run: its rate minus this one's, with a test."""

    def __post_init__(self) -> None:
        self.refusal_rate = self.refusals / self.n if self.n else 0.0
        self.refusal_ci = wilson_interval(self.refusals, self.n)
        self.partial_rate = self.partial_refusals / self.n if self.n else 0.0
        self.partial_ci = wilson_interval(self.partial_refusals, self.n)


@dataclass
class Report:
    """Everything the HTML page and the JSON file show."""

    input: str
    group_by: list[str]
    threshold: float
    scored_input: bool
    groups: list[GroupStats]
    overall: GroupStats
    scores: list[float]
    """Every row's score, for the score distribution."""
    compare_input: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The numbers as plain JSON (examples included), for CI use."""
        return {
            "input": self.input,
            "group_by": self.group_by,
            "threshold": self.threshold,
            "scored_input": self.scored_input,
            "compare_input": self.compare_input,
            "interval": "Wilson score, 95%",
            "overall": _group_json(self.overall),
            "groups": [_group_json(g) for g in self.groups],
        }


def _group_json(group: GroupStats) -> dict[str, Any]:
    record = asdict(group)
    record["key"] = list(group.key)
    record["refusal_ci"] = list(group.refusal_ci)
    record["partial_ci"] = list(group.partial_ci)
    return record


def build_report(
    input_path: Path,
    group_by: Sequence[str],
    *,
    detector: RefusalDetector | None = None,
    text_field: str = "text",
    threshold: float = 0.5,
    prefix: str = "",
    compare: Path | None = None,
    verdict_config: VerdictConfig | None = None,
    progress: bool = False,
) -> Report:
    """Compute the report of ``input_path`` grouped by the ``group_by`` columns.

    Args:
        detector: scores a raw file and computes the verdicts; None loads the shipped model.
        threshold: REJECTION threshold for a raw file (a scored file keeps its labels).
        prefix: the ``predict --prefix`` of a scored file's columns.
        compare: another run (scored or raw) with the same group-by columns: each group gets the
            change in refusal rate and a two-sided test (:func:`compare_proportions`).

    Raises:
        DataError: a group-by column or the text column is missing (names the columns found).
        ConfigError: no group-by column, or threshold out of range.
    """
    check_threshold(threshold)
    if not group_by:
        raise ConfigError("give at least one --group-by column")
    detector = detector or RefusalDetector.from_pretrained()
    config = verdict_config or VerdictConfig(threshold=threshold)
    rows, scored = _load(input_path, group_by, text_field, prefix, detector, threshold, progress)
    _add_verdicts(rows, detector, text_field, config, progress)
    groups = _group(rows, group_by, text_field)
    overall = _stats(("all",), rows, text_field)
    report = Report(
        input=str(input_path),
        group_by=list(group_by),
        threshold=threshold,
        scored_input=scored,
        groups=groups,
        overall=overall,
        scores=[r["_score"] for r in rows if r["_score"] is not None],
    )
    if compare is not None:
        other, _ = _load(compare, group_by, text_field, prefix, detector, threshold, progress)
        counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
        for row in other:
            if row["_score"] is not None:
                cell = counts[_key(row, group_by)]
                cell[0] += row["_label"] == REJECTION
                cell[1] += 1
        for group in [*groups, overall]:
            if group is overall:
                k2, n2 = (sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
            else:
                k2, n2 = counts.get(group.key, [0, 0])
            group.comparison = compare_proportions(group.refusals, group.n, k2, n2)
        report.compare_input = str(compare)
    return report


def _load(
    path: Path,
    group_by: Sequence[str],
    text_field: str,
    prefix: str,
    detector: RefusalDetector,
    threshold: float,
    progress: bool,
) -> tuple[list[dict[str, Any]], bool]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: input file not found")
    label_col, score_col, error_col = f"{prefix}label", f"{prefix}score", f"{prefix}error"
    rows: list[dict[str, Any]] = []
    for record in read_rows(path):
        fields = dict(record.fields)
        fields["_where"] = record.where
        fields["_read_error"] = record.error
        rows.append(fields)
    columns = input_columns(path) or list(dict.fromkeys(k for r in rows for k in r))
    columns = [c for c in columns if not c.startswith("_")]
    missing = [c for c in [*group_by, text_field] if c not in columns]
    if missing:
        raise DataError(
            f"{path}: no column {', '.join(map(repr, missing))}; columns found: "
            f"{', '.join(columns)}. Pass --group-by / --text-field with existing columns."
        )
    scored = label_col in columns and score_col in columns
    if scored:
        for row in rows:
            score, label = row.get(score_col), row.get(label_col)
            ok = row.get(error_col) in (None, "") and not row["_read_error"] and label
            row["_score"] = _as_float(score) if ok else None
            row["_label"] = label if row["_score"] is not None else None
        return rows, True
    good = [r for r in rows if not r["_read_error"] and isinstance(r.get(text_field), str)]
    with ProgressBar(enabled=progress, total=len(good), unit="row", desc="scoring") as bar:
        for start in range(0, len(good), _CHUNK):
            chunk = good[start : start + _CHUNK]
            for row, score in zip(
                chunk, detector.predict_proba([r[text_field] for r in chunk]).tolist(), strict=True
            ):
                row["_score"] = float(score)
                row["_label"] = REJECTION if score >= threshold else "NORMAL"
            bar.update(len(chunk))
    for row in rows:
        row.setdefault("_score", None)
        row.setdefault("_label", None)
    return rows, False


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _add_verdicts(
    rows: list[dict[str, Any]],
    detector: RefusalDetector,
    text_field: str,
    config: VerdictConfig,
    progress: bool,
) -> None:
    todo = [r for r in rows if r["_score"] is not None and isinstance(r.get(text_field), str)]
    with ProgressBar(enabled=progress, total=len(todo), unit="row", desc="verdicts") as bar:
        for start in range(0, len(todo), _CHUNK):
            chunk = todo[start : start + _CHUNK]
            verdicts = detector.refusal_verdicts([r[text_field] for r in chunk], config=config)
            for row, verdict in zip(chunk, verdicts, strict=True):
                row["_verdict"] = verdict.verdict
                row["_spans"] = [(s.start, s.end) for s in verdict.spans]
            bar.update(len(chunk))


def _key(row: dict[str, Any], group_by: Sequence[str]) -> tuple[str, ...]:
    return tuple(_text(row.get(c)) for c in group_by)


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _group(
    rows: list[dict[str, Any]], group_by: Sequence[str], text_field: str
) -> list[GroupStats]:
    buckets: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        buckets[_key(row, group_by)].append(row)
    return [_stats(key, buckets[key], text_field) for key in sorted(buckets)]


def _stats(key: tuple[str, ...], rows: list[dict[str, Any]], text_field: str) -> GroupStats:
    valid = [r for r in rows if r["_score"] is not None]
    verdicts = [r.get("_verdict") for r in valid]
    ranked = sorted(valid, key=lambda r: r["_score"], reverse=True)
    return GroupStats(
        key=key,
        n=len(valid),
        refusals=sum(r["_label"] == REJECTION for r in valid),
        partial_refusals=verdicts.count("partial_refusal"),
        full_refusals=verdicts.count("full_refusal"),
        errors=len(rows) - len(valid),
        mean_score=sum(r["_score"] for r in valid) / len(valid) if valid else 0.0,
        top=[_example(r, text_field) for r in ranked[:EXAMPLES]],
        bottom=[_example(r, text_field) for r in ranked[::-1][:EXAMPLES]],
    )


def _example(row: dict[str, Any], text_field: str) -> Example:
    text = row.get(text_field)
    return Example(
        text=text if isinstance(text, str) else "",
        score=row["_score"],
        label=row["_label"],
        verdict=row.get("_verdict", ""),
        spans=list(row.get("_spans", [])),
        where=row["_where"],
    )
