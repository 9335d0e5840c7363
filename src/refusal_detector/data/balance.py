"""Class ratio and per-source / per-model caps, so that no source or model dominates a class.

Both use water-filling: to keep ``target`` rows of a class spread over strata with sizes
``n_s``, find the largest per-stratum cap ``t`` with ``sum(min(n_s, t)) <= target`` and keep
``min(n_s, t)`` rows of each stratum (rows with human or review labels first, then a seeded
hash order). Small strata are never cut before large ones.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["BalanceItem", "balance", "water_fill"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class BalanceItem:
    """What the balancer needs about one binary-labelled row."""

    id: str
    label: int
    source: str
    model: str
    keep_first: bool


def water_fill(sizes: Mapping[K, int], budget: int) -> dict[K, int]:
    """Per-stratum counts summing to ``min(budget, total)`` under one common cap.

    Small strata are kept whole and the largest are cut to the same cap ``t``, the largest with
    ``sum(min(n, t)) <= budget``, so sampling keeps every stratum while capping the big ones. The
    units left below the budget go one each to the largest strata; among strata of equal size, to
    the one that comes first in ``sizes``.

    Raises:
        ValueError: ``budget`` is negative.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    total = sum(sizes.values())
    if budget >= total:
        return dict(sizes)
    lo, hi = 0, max(sizes.values())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in sizes.values()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    counts = {key: min(n, lo) for key, n in sizes.items()}
    rest = budget - sum(counts.values())
    for key in sorted(sizes, key=lambda k: -sizes[k]):
        if rest <= 0:
            break
        if sizes[key] > counts[key]:
            counts[key] += 1
            rest -= 1
    return counts


def _order_key(item: BalanceItem, seed: int) -> tuple[bool, str]:
    # Salted differently from the split hash: with the same hash, the rows cut last would be
    # exactly the validation/test rows and the cut would empty those splits first.
    digest = hashlib.sha256(f"balance:{seed}:{item.id}".encode()).hexdigest()
    return (not item.keep_first, digest)


def _cap_share(sizes: dict[Hashable, int], share: float) -> dict[Hashable, int]:
    """Cap every stratum at ``share`` of the capped class total (fixed point of the cap)."""
    if share >= 1 or len(sizes) * share < 1:
        return dict(sizes)
    cap = share * sum(sizes.values())
    for _ in range(100):
        new_cap = share * sum(min(n, cap) for n in sizes.values())
        if abs(new_cap - cap) < 0.5:
            break
        cap = new_cap
    return {k: min(n, int(cap)) for k, n in sizes.items()}


def balance(
    items: Sequence[BalanceItem],
    *,
    refusal_ratio: float | None,
    max_source_share: float,
    max_model_share: float,
    seed: int = 0,
    cut_refusals: bool = False,
) -> dict[int, str]:
    """Indices of rows to drop, with the reason (``cap_source``, ``cap_model``, ``class_ratio``).

    ``refusal_ratio`` None or 0 keeps the natural class mix (caps still apply). Normal rows are
    cut to reach the ratio when refusals are scarcer than it; when refusals are more common, they
    are kept (refusals are the scarce, valuable class, and cutting them drops rare families'
    refusal styles first) unless ``cut_refusals`` is set.
    """
    drop: dict[int, str] = {}

    def trim(indices: list[int], key_of: str, quotas: dict[Hashable, int], reason: str) -> None:
        by: dict[Hashable, list[int]] = defaultdict(list)
        for i in indices:
            if i not in drop:
                by[getattr(items[i], key_of)].append(i)
        for key, members in by.items():
            quota = quotas.get(key, len(members))
            if quota >= len(members):
                continue
            members.sort(key=lambda i: _order_key(items[i], seed))
            for i in members[quota:]:
                drop[i] = reason

    for label in (0, 1):
        idx = [i for i, it in enumerate(items) if it.label == label]
        for key_of, share, reason in (
            ("source", max_source_share, "cap_source"),
            ("model", max_model_share, "cap_model"),
        ):
            sizes: dict[Hashable, int] = defaultdict(int)
            for i in idx:
                if i not in drop:
                    sizes[getattr(items[i], key_of)] += 1
            trim(idx, key_of, _cap_share(sizes, share), reason)

    if refusal_ratio:
        live = [i for i in range(len(items)) if i not in drop]
        n1 = sum(1 for i in live if items[i].label == 1)
        n0 = len(live) - n1
        if n0 and n1:
            if n1 / (n0 + n1) > refusal_ratio:
                if not cut_refusals:
                    return drop
                cut_label, target = 1, round(refusal_ratio / (1 - refusal_ratio) * n0)
            else:
                cut_label, target = 0, round((1 - refusal_ratio) / refusal_ratio * n1)
            idx = [i for i in live if items[i].label == cut_label]
            strata: dict[Hashable, list[int]] = defaultdict(list)
            for i in idx:
                strata[(items[i].source, items[i].model)].append(i)
            quotas = water_fill({key: len(members) for key, members in strata.items()}, target)
            for key, quota in quotas.items():
                members = sorted(strata[key], key=lambda i: _order_key(items[i], seed))
                for i in members[quota:]:
                    drop[i] = "class_ratio"
    return drop
