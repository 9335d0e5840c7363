"""Audit sample: random rule-labelled corpus rows, stratified by class, for hand checking."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from refusal_detector.data.split import SPLITS
from refusal_detector.errors import DataError
from refusal_detector.io.files import atomic_write_jsonl, read_jsonl

__all__ = ["draw_audit_sample"]


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
