"""Hand labels and audit results kept in the repo (``data/annotations/``), keyed by record id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refusal_detector.errors import DataError
from refusal_detector.io.files import read_jsonl

__all__ = [
    "DEFAULT_ANNOTATIONS",
    "HAND_LABEL_VALUES",
    "AuditRow",
    "HandLabel",
    "load_audit",
    "load_audit_rounds",
    "load_hand_labels",
]

DEFAULT_ANNOTATIONS = Path(__file__).parent / "annotations"
HAND_LABEL_VALUES = (0, 1, "partial", "skip")


@dataclass(frozen=True)
class HandLabel:
    """A reviewer's verdict on one record: 0, 1, "partial" or "skip", with a short reason."""

    id: str
    label: int | str
    reason: str


@dataclass(frozen=True)
class AuditRow:
    """One audited rule label: what the rules said and what the reviewer says."""

    id: str
    rule_label: int
    hand_label: int | str
    reason: str
    round: int = 1


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.exists():
        return []
    out = []
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj.get("id"), str):
            raise DataError(f"{path}:{lineno}: expected an object with a string 'id'")
        out.append((lineno, obj))
    return out


def _label(value: Any, path: Path, lineno: int, field: str) -> int | str:
    if isinstance(value, bool) or value not in HAND_LABEL_VALUES:
        raise DataError(
            f"{path}:{lineno}: {field} must be one of {list(HAND_LABEL_VALUES)}, found {value!r}"
        )
    label: int | str = value
    return label


def load_hand_labels(path: Path) -> dict[str, HandLabel]:
    """Hand labels by id; a later line for the same id wins (corrections are appended)."""
    labels: dict[str, HandLabel] = {}
    for lineno, obj in _lines(path):
        label = _label(obj.get("label"), path, lineno, "label")
        labels[obj["id"]] = HandLabel(obj["id"], label, str(obj.get("reason") or ""))
    return labels


def load_audit(path: Path, *, default_round: int = 1) -> dict[str, AuditRow]:
    """Audit rows by id; a later line for the same id wins."""
    rows: dict[str, AuditRow] = {}
    for lineno, obj in _lines(path):
        rule = obj.get("rule_label")
        if rule not in (0, 1) or isinstance(rule, bool):
            raise DataError(f"{path}:{lineno}: rule_label must be 0 or 1, found {rule!r}")
        hand = _label(obj.get("hand_label"), path, lineno, "hand_label")
        round_no = obj.get("round", default_round)
        if not isinstance(round_no, int) or isinstance(round_no, bool):
            raise DataError(f"{path}:{lineno}: round must be an integer, found {round_no!r}")
        rows[obj["id"]] = AuditRow(
            obj["id"], int(rule), hand, str(obj.get("reason") or ""), round_no
        )
    return rows


def load_audit_rounds(folder: Path) -> dict[int, dict[str, AuditRow]]:
    """Audit files by round: ``audit.jsonl`` is round 1, ``audit_round<N>.jsonl`` round N."""
    rounds: dict[int, dict[str, AuditRow]] = {}
    for path in sorted(folder.glob("audit*.jsonl")):
        stem = path.stem.removeprefix("audit").removeprefix("_round")
        default_round = int(stem) if stem.isdigit() else 1
        for row in load_audit(path, default_round=default_round).values():
            rounds.setdefault(row.round, {})[row.id] = row
    return rounds
