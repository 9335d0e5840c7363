"""Merge readers' blind labels: gold -> ``external_gold.jsonl``, review -> ``hand_labels.jsonl``.

``refusal-detector data gold-merge --labels-dir /work/gold`` reads

- ``labels_part*.jsonl`` (``{"gold_id", "label", "reason"}``), joins them with
  ``annotations/external_gold_design.jsonl`` and the blind files' prompt and response, and writes
  ``annotations/external_gold.jsonl`` (one line per labelled gold row: gold_id, id, source, model,
  family, prompt_group, lf_vote, stratum, prompt, response, label, reason);
- ``review_labels_part*.jsonl`` (``{"review_id", "label", "reason"}``) and appends them to
  ``annotations/hand_labels.jsonl`` in its format (``{"id", "label", "reason"}``, keyed by record
  id), skipping lines already there, so re-running the merge adds nothing twice.

Labels: ``NORMAL`` -> 0, ``REJECTION`` -> 1, ``partial`` and ``skip`` kept as words (the values of
``annotations_io.HAND_LABEL_VALUES``). A row labelled twice with different labels gets the
majority label, or ``skip`` on a tie (reason names both verdicts).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refusal_detector.cli_options import add_path
from refusal_detector.data.annotations_io import DEFAULT_ANNOTATIONS, load_hand_labels
from refusal_detector.data.records import content_id
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.files import atomic_write_jsonl, atomic_write_text, read_jsonl

__all__ = ["merge_gold", "merge_review", "parse_label", "read_labels"]

_NAMES: dict[str, int | str] = {"normal": 0, "rejection": 1, "partial": "partial", "skip": "skip"}
GOLD_FILE = "external_gold.jsonl"
GOLD_DESIGN = "external_gold_design.jsonl"
REVIEW_DESIGN = "external_review_design.jsonl"


def parse_label(value: Any, where: str) -> int | str:
    """0/1/"partial"/"skip" from a reader's label name (case-insensitive) or the value itself."""
    if isinstance(value, str) and value.strip().lower() in _NAMES:
        return _NAMES[value.strip().lower()]
    if value in (0, 1) and not isinstance(value, bool):
        return int(value)
    raise DataError(f"{where}: label must be NORMAL, REJECTION, partial or skip, found {value!r}")


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return list(read_jsonl(path))


def read_labels(
    paths: Sequence[Path], id_field: str, known: set[str]
) -> dict[str, tuple[int | str, str]]:
    """Label and reason per id over all ``paths``; conflicting labels resolved by majority.

    Raises:
        DataError: naming file and line, for an id missing, unknown, or a bad label.
    """
    votes: dict[str, list[tuple[int | str, str]]] = defaultdict(list)
    for path in paths:
        for lineno, obj in _jsonl(path):
            where = f"{path}:{lineno}"
            key = obj.get(id_field)
            if not isinstance(key, str):
                raise DataError(f"{where}: expected a string {id_field!r}")
            if key not in known:
                raise DataError(f"{where}: {id_field} {key!r} is not in the design file")
            votes[key].append((parse_label(obj.get("label"), where), str(obj.get("reason") or "")))
    out: dict[str, tuple[int | str, str]] = {}
    for key, vs in votes.items():
        counts = Counter(label for label, _ in vs).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            out[key] = ("skip", "readers disagree: " + "; ".join(f"{lab}: {r}" for lab, r in vs))
        else:
            best = counts[0][0]
            out[key] = (best, next(r for lab, r in vs if lab == best))
    return out


def _texts(labels_dir: Path, stem: str, id_field: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(labels_dir.glob(f"{stem}_part*.jsonl")):
        for _, obj in _jsonl(path):
            rows[str(obj[id_field])] = obj
    return rows


def _design(path: Path, id_field: str) -> dict[str, dict[str, Any]]:
    if not path.exists():
        raise DataError(f"{path}: design file missing; run `refusal-detector data gold-draw` first")
    return {str(obj[id_field]): obj for _, obj in _jsonl(path)}


def merge_gold(labels_dir: Path, annotations: Path = DEFAULT_ANNOTATIONS) -> dict[str, Any]:
    """Write ``external_gold.jsonl`` from the gold label files; return counts."""
    design = _design(annotations / GOLD_DESIGN, "gold_id")
    paths = sorted(labels_dir.glob("labels_part*.jsonl"))
    labels = read_labels(paths, "gold_id", set(design))
    texts = _texts(labels_dir, "blind", "gold_id")
    lines = []
    for gold_id in sorted(labels):
        d, blind = design[gold_id], texts.get(gold_id)
        if blind is None:
            raise DataError(f"{labels_dir}: no blind_part*.jsonl row holds {gold_id!r}")
        if content_id(blind["prompt"], blind["response"]) != d["id"]:
            raise DataError(f"{gold_id}: blind text does not match the design id {d['id']}")
        label, reason = labels[gold_id]
        lines.append(
            d
            | {"prompt": blind["prompt"], "response": blind["response"]}
            | {"label": label, "reason": reason}
        )
    atomic_write_jsonl(annotations / GOLD_FILE, lines)
    counts = Counter(f"{line['family']}/{line['label']}" for line in lines)
    return {
        "files": [str(p) for p in paths],
        "labelled": len(lines),
        "unlabelled": len(design) - len(lines),
        "by_family_label": dict(sorted(counts.items())),
    }


def merge_review(labels_dir: Path, annotations: Path = DEFAULT_ANNOTATIONS) -> dict[str, Any]:
    """Append review labels to ``hand_labels.jsonl`` (new or changed ids only); return counts."""
    design = _design(annotations / REVIEW_DESIGN, "review_id")
    paths = sorted(labels_dir.glob("review_labels_part*.jsonl"))
    labels = read_labels(paths, "review_id", set(design))
    hand_path = annotations / "hand_labels.jsonl"
    existing = load_hand_labels(hand_path)
    new = []
    for review_id in sorted(labels):
        record_id = design[review_id]["id"]
        label, reason = labels[review_id]
        have = existing.get(record_id)
        if have is not None and have.label == label:
            continue
        new.append({"id": record_id, "label": label, "reason": reason})
    if new:
        text = hand_path.read_text(encoding="utf-8") if hand_path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        body = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in new)
        atomic_write_text(hand_path, text + body)
    return {
        "files": [str(p) for p in paths],
        "labelled": len(labels),
        "appended": len(new),
        "by_label": dict(sorted(Counter(str(v[0]) for v in labels.values()).items())),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``data gold-merge``."""
    add_path(
        parser,
        "--labels-dir",
        required=True,
        help="folder with blind_part*, labels_part* and review_labels_part*.jsonl",
    )
    add_path(parser, "--annotations", default=DEFAULT_ANNOTATIONS, help="annotations folder")


def run(args: argparse.Namespace) -> int:
    """Handler: merge whatever label files exist, print the counts as JSON."""
    summary: dict[str, Any] = {}
    if sorted(args.labels_dir.glob("labels_part*.jsonl")):
        summary["gold"] = merge_gold(args.labels_dir, args.annotations)
    if sorted(args.labels_dir.glob("review_labels_part*.jsonl")):
        summary["review"] = merge_review(args.labels_dir, args.annotations)
    if not summary:
        raise ConfigError(
            f"no labels_part*.jsonl or review_labels_part*.jsonl in {args.labels_dir}"
        )
    print(json.dumps(summary, indent=1))  # noqa: T201
    return 0
