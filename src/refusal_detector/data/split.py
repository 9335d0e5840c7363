"""Leakage-free splits: rows sharing a prompt, a conversation or a near-dup cluster share a split.

Rows are joined into connected components (union-find over the normalised prompt, the adapter's
``group`` key and the near-duplicate cluster); a component goes to train, validation or test by a
seeded hash of its smallest row id, so the assignment is stable across rebuilds. With
``holdout_family`` every row of that family goes to test, and other families' rows that share a
component with it are dropped (they would leak the held-out prompts into training).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from refusal_detector.data.records import normalise_text

__all__ = ["SPLITS", "SplitItem", "assign_splits", "components"]

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitItem:
    """What the splitter needs to know about one row."""

    id: str
    prompt: str | None
    group: str | None
    cluster: int
    family: str


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def components(items: Sequence[SplitItem], *, clusters_only: bool = False) -> list[int]:
    """Component index (root row) of every row; ``clusters_only`` joins by near-dup cluster only."""
    parent = list(range(len(items)))
    first: dict[str, int] = {}

    def join(key: str, i: int) -> None:
        if key in first:
            a, b = _find(parent, first[key]), _find(parent, i)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first[key] = i

    for i, item in enumerate(items):
        if clusters_only:
            join(f"c:{item.cluster}", i)
            continue
        if item.prompt and item.prompt.strip():
            join("p:" + normalise_text(item.prompt), i)
        if item.group:
            join("g:" + item.group, i)
        join(f"c:{item.cluster}", i)
    return [_find(parent, i) for i in range(len(items))]


def _bucket(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
    return int(digest[:12], 16) / float(16**12)


def assign_splits(
    items: Sequence[SplitItem],
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    holdout_family: str | None = None,
    holdout_overlap: str = "drop",
) -> list[str | None]:
    """Split name per row (``None``: dropped because it shares a component with the holdout).

    ``holdout_overlap="drop"`` drops other families' rows that share a prompt, group or near-dup
    cluster with the held-out family; ``"keep"`` drops only near-duplicates of held-out rows and
    keeps other models' answers to the same prompts (the classifier never sees the prompt).

    Raises:
        ValueError: if the fractions are not three non-negative numbers summing to 1.
    """
    if holdout_overlap not in ("drop", "keep"):
        raise ValueError(f"holdout_overlap must be 'drop' or 'keep', found {holdout_overlap!r}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"expected 3 split fractions >= 0 summing to 1, found {fractions}")
    comp = components(items)
    comp_key: dict[int, str] = {}
    for i, root in enumerate(comp):
        if root not in comp_key or items[i].id < comp_key[root]:
            comp_key[root] = items[i].id
    held: set[int] = set()
    overlap = comp
    if holdout_family:
        if holdout_overlap == "keep":
            overlap = components(items, clusters_only=True)
        held = {overlap[i] for i, item in enumerate(items) if item.family == holdout_family}
    out: list[str | None] = []
    train_f, val_f = fractions[0], fractions[0] + fractions[1]
    for i, item in enumerate(items):
        root = comp[i]
        if holdout_family:
            if item.family == holdout_family:
                out.append("test")
                continue
            if overlap[i] in held:
                out.append(None)
                continue
            # without the holdout family, the rest is split train/validation only
            u = _bucket(comp_key[root], seed)
            out.append("train" if u < train_f / val_f else "validation")
            continue
        u = _bucket(comp_key[root], seed)
        out.append("train" if u < train_f else "validation" if u < val_f else "test")
    return out
