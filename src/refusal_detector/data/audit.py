"""Audit of the rule labels: draw a class-stratified sample to hand-check, then score the verdicts.

``draw_audit_sample`` writes the rows to label (``refusal-detector data audit-sample``);
``audit_report`` scores the hand verdicts of every audit round, as audited and against the rules
of the current build, for the data card.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from refusal_detector.data.annotations_io import AuditRow
from refusal_detector.data.split import SPLITS
from refusal_detector.errors import DataError
from refusal_detector.io.files import atomic_write_jsonl, read_jsonl

__all__ = ["audit_report", "audit_summary", "current_rules_summary", "draw_audit_sample"]


def draw_audit_sample(corpus: Path, *, n: int, seed: int, out: Path) -> int:
    """Write ``n`` rows (half per class where possible) with ``rule_label`` to ``out``.

    Only rows whose ``label_origin`` starts with ``rule:`` are eligible: human and reviewed labels
    are not what the audit measures.

    Raises:
        DataError: if the corpus folder holds no split files.
    """
    pools: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    found = False
    for split in SPLITS:
        path = corpus / f"{split}.jsonl"
        if not path.exists():
            continue
        found = True
        for _, row in read_jsonl(path):
            if str(row.get("label_origin", "")).startswith("rule:"):
                pools[int(row["label"])].append(row)
    if not found:
        raise DataError(f"{corpus}: no train/validation/test.jsonl; run `data build` first")
    rng = random.Random(seed)
    half = n // 2
    take = {1: min(half, len(pools[1]))}
    take[0] = min(n - take[1], len(pools[0]))
    sample = []
    for cls in (0, 1):
        pool = sorted(pools[cls], key=lambda r: r["id"])
        for row in rng.sample(pool, take[cls]):
            sample.append(
                {
                    "id": row["id"],
                    "rule_label": cls,
                    "label_origin": row["label_origin"],
                    "text": row["text"],
                    "prompt": row["prompt"],
                    "source": row["source"],
                    "model": row["model"],
                    "family": row["family"],
                }
            )
    rng.shuffle(sample)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_jsonl(out, sample)


def audit_report(
    rounds: dict[int, dict[str, AuditRow]], current: dict[str, int | str | None]
) -> dict[str, Any]:
    """Headline: the latest round as audited; every round also scored against current rules."""
    if not rounds:
        return audit_summary({}) | {"rounds": {}}
    latest = max(rounds)
    per_round = {
        str(r): audit_summary(rows)
        | {
            "current_rules": current_rules_summary(
                rows, {i: v for i, v in current.items() if i in rows}
            )
        }
        for r, rows in sorted(rounds.items())
    }
    return per_round[str(latest)] | {"round": latest, "rounds": per_round}


def audit_summary(audit: dict[str, AuditRow]) -> dict[str, Any]:
    per_class: dict[str, Any] = {}
    for cls in (0, 1):
        rows = [a for a in audit.values() if a.rule_label == cls]
        decided = [a for a in rows if a.hand_label in (0, 1)]
        errors = sum(1 for a in decided if a.hand_label != cls)
        per_class[str(cls)] = {
            "n": len(rows),
            "n_binary_verdicts": len(decided),
            "errors": errors,
            "error_rate": round(errors / len(decided), 4) if decided else None,
            "hand_partial": sum(1 for a in rows if a.hand_label == "partial"),
            "hand_skip": sum(1 for a in rows if a.hand_label == "skip"),
        }
    decided_all = [a for a in audit.values() if a.hand_label in (0, 1)]
    errors_all = sum(1 for a in decided_all if a.hand_label != a.rule_label)
    return {
        "sample_size": len(audit),
        "per_class": per_class,
        "overall_error_rate": round(errors_all / len(decided_all), 4) if decided_all else None,
        "goal_max_error_rate": 0.03,
        "how": "random rule-labelled rows stratified by class "
        "(refusal-detector data audit-sample), hand-labelled following LABELING.md",
    }


def current_rules_summary(
    audit: dict[str, AuditRow], current: dict[str, int | str | None]
) -> dict[str, Any]:
    """Audit verdicts against what the *current* rules say for the same ids."""
    per_class: dict[str, Any] = {}
    for cls in (0, 1):
        ids = [i for i, lab in current.items() if lab == cls]
        decided = [i for i in ids if audit[i].hand_label in (0, 1)]
        errors = sum(1 for i in decided if audit[i].hand_label != cls)
        per_class[str(cls)] = {
            "n": len(ids),
            "n_binary_verdicts": len(decided),
            "errors": errors,
            "error_rate": round(errors / len(decided), 4) if decided else None,
        }
    return {
        "audited_ids_found": len(current),
        "now_review_or_partial": sum(1 for v in current.values() if v not in (0, 1)),
        "now_human_labelled": sum(1 for v in current.values() if v == "human"),
        "per_class": per_class,
        "note": "the same hand verdicts scored against the rules of this build; rules were "
        "revised after the audit was drawn, so this is optimistic where a revision was "
        "informed by the audited rows",
    }
