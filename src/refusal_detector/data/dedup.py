"""Exact and near-duplicate removal (normalised text, then MinHash LSH), with near-dup clusters.

Exact duplicates share the normalised response text. Near duplicates are found with MinHash over
word 3-gram shingles: a row whose estimated Jaccard similarity to an already kept row is at least
``drop_threshold`` is removed; rows above the looser LSH ``cluster_threshold`` are kept but joined
into one cluster, so that the split puts them on the same side.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from refusal_detector.data.records import normalise_text

__all__ = ["DedupResult", "DedupStats", "deduplicate", "shingles"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_WORD = re.compile(r"\w+")


@dataclass
class DedupStats:
    """How many rows each stage removed."""

    input: int = 0
    exact_removed: int = 0
    near_removed: int = 0
    kept: int = 0
    near_clusters: int = 0
    rows_in_multi_clusters: int = 0
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class DedupResult:
    """Indices of the kept rows, each row's cluster id (index of its cluster root), and stats.

    ``dropped`` maps the index of each removed row to ``(reason, index of the kept row)``.
    """

    kept: list[int]
    cluster: dict[int, int]
    dropped: dict[int, tuple[str, int]]
    stats: DedupStats


def shingles(text: str, k: int = 3, max_chars: int = 2000) -> set[bytes]:
    """Word k-gram shingles of the normalised text (its first ``max_chars`` characters)."""
    words = _WORD.findall(normalise_text(text[:max_chars]))
    if len(words) < k:
        return {" ".join(words).encode()} if words else {b""}
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def deduplicate(
    texts: Sequence[str],
    *,
    priority: Callable[[int], tuple[object, ...]] | None = None,
    drop_threshold: float = 0.9,
    cluster_threshold: float = 0.7,
    num_perm: int = 64,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
) -> DedupResult:
    """Deduplicate ``texts``; rows earlier in ``priority`` order survive (default: input order).

    Raises:
        ValueError: if thresholds are not 0 < cluster_threshold <= drop_threshold <= 1.
    """
    if not 0 < cluster_threshold <= drop_threshold <= 1:
        raise ValueError(
            f"expected 0 < cluster_threshold <= drop_threshold <= 1, found "
            f"cluster_threshold={cluster_threshold}, drop_threshold={drop_threshold}"
        )
    from datasketch import MinHash, MinHashLSH

    order = sorted(range(len(texts)), key=priority) if priority else list(range(len(texts)))
    stats = DedupStats(
        input=len(texts),
        params={
            "drop_threshold": drop_threshold,
            "cluster_threshold": cluster_threshold,
            "num_perm": num_perm,
            "shingle_words": 3,
        },
    )
    dropped: dict[int, tuple[str, int]] = {}
    seen: dict[str, int] = {}
    survivors: list[int] = []
    for i in order:
        key = normalise_text(texts[i])
        if key in seen:
            dropped[i] = ("exact_duplicate", seen[key])
            continue
        seen[key] = i
        survivors.append(i)
    stats.exact_removed = len(dropped)

    hashes = MinHash.bulk([shingles(texts[i]) for i in survivors], num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=cluster_threshold, num_perm=num_perm)
    uf = _UnionFind()
    kept: list[int] = []
    minhash_of: dict[int, MinHash] = {}
    for n, (i, mh) in enumerate(zip(survivors, hashes, strict=True)):
        if progress is not None and n % 1000 == 0:
            progress(min(1000, len(survivors) - n))
        near = lsh.query(mh)
        best_j, best_sim = -1, 0.0
        sims = [(int(j), mh.jaccard(minhash_of[int(j)])) for j in near] if near else []
        for j, sim in sims:
            if sim > best_sim:
                best_j, best_sim = j, sim
        if best_sim >= drop_threshold:
            dropped[i] = ("near_duplicate", best_j)
            continue
        for j, sim in sims:
            if sim >= cluster_threshold:
                uf.union(i, j)
        lsh.insert(str(i), mh)
        minhash_of[i] = mh
        kept.append(i)
    stats.near_removed = len(dropped) - stats.exact_removed
    stats.kept = len(kept)
    cluster = {i: uf.find(i) for i in kept}
    sizes: dict[int, int] = {}
    for root in cluster.values():
        sizes[root] = sizes.get(root, 0) + 1
    stats.near_clusters = sum(1 for s in sizes.values() if s > 1)
    stats.rows_in_multi_clusters = sum(s for s in sizes.values() if s > 1)
    logger.info(
        "dedup: %d rows, %d exact and %d near duplicates removed",
        stats.input,
        stats.exact_removed,
        stats.near_removed,
    )
    return DedupResult(kept=kept, cluster=cluster, dropped=dropped, stats=stats)
