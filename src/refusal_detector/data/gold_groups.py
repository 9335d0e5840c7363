"""Prompt groups held out for the external gold set, and their exclusion from every split.

The external gold set (``annotations/external_gold.jsonl``) measures families the corpus never had.
Its rows come only from held-out behaviour groups (``annotations/external_gold_groups.json``),
chosen by a seeded hash ranking per source so each source keeps ~70 % of its groups trainable.
The corpus build drops every row whose behaviour key is held out, whatever its source, every row
that shares a prompt or group with such a row, and every near-duplicate of a gold row, so no gold
behaviour and no near-copy of a gold response reaches train, validation or test.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from refusal_detector.data.prompt_groups import row_keys
from refusal_detector.data.split import SplitItem, components
from refusal_detector.errors import DataError

__all__ = [
    "GOLD_DESIGN_FILE",
    "GOLD_GROUPS_FILE",
    "GOLD_REASON",
    "choose_gold_groups",
    "gold_excluded",
    "load_gold_groups",
    "load_gold_ids",
    "write_gold_groups",
]

GOLD_GROUPS_FILE = "external_gold_groups.json"
GOLD_REASON = "external_gold_group"
GOLD_DESIGN_FILE = "external_gold_design.jsonl"


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"external-gold:{seed}:{key}".encode()).hexdigest()


def choose_gold_groups(
    pools: Mapping[str, Iterable[str]], *, fraction: float = 0.3, seed: int = 0
) -> set[str]:
    """Held-out keys: ``round(fraction * n)`` of each pool's ``n`` keys, by a seeded hash rank.

    Pools are handled smallest first; keys an earlier pool already holds out count towards a
    later pool's quota, so a behaviour shared by two sources does not push either far past
    ``fraction``.

    Raises:
        ValueError: if ``fraction`` is not in (0, 1).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), found {fraction}")
    chosen: set[str] = set()
    for _, keys in sorted(((n, set(k)) for n, k in pools.items()), key=lambda p: len(p[1])):
        quota = round(fraction * len(keys))
        have = len(keys & chosen)
        for key in sorted(keys - chosen, key=lambda k: _rank(k, seed)):
            if have >= quota:
                break
            chosen.add(key)
            have += 1
    return chosen


def write_gold_groups(path: Path, groups: Iterable[str], meta: dict[str, Any]) -> None:
    """Write the held-out keys (sorted) with how they were chosen."""
    body = meta | {"groups": sorted(groups)}
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_gold_groups(path: Path) -> frozenset[str]:
    """Held-out behaviour keys of ``path``; an absent file holds nothing out."""
    if not path.exists():
        return frozenset()
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    groups = body.get("groups") if isinstance(body, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise DataError(f"{path}: expected an object with 'groups': a list of strings")
    return frozenset(groups)


def gold_excluded(
    items: Sequence[SplitItem], groups: frozenset[str], gold_ids: frozenset[str] = frozenset()
) -> list[bool]:
    """Per row: True when it must stay out of every split because of the external gold set.

    That is a row of a held-out group, a row sharing a prompt or group with one (transitively),
    or a near-duplicate of a gold row (same dedup cluster as a row whose id is in ``gold_ids``).
    Near-duplicate clusters of *other* held-out rows do not spread the exclusion: stock
    refusals cluster across thousands of prompts, and following them would empty the corpus.
    """
    if not groups and not gold_ids:
        return [False] * len(items)
    # components over prompt and group only: each row gets a cluster of its own
    by_prompt = components(
        [SplitItem(it.id, it.prompt, it.group, -1 - i, it.family) for i, it in enumerate(items)]
    )
    hit = [bool(row_keys(it.prompt, it.group) & groups) for it in items]
    held = {by_prompt[i] for i, h in enumerate(hit) if h}
    gold_clusters = {it.cluster for it in items if it.id in gold_ids}
    return [by_prompt[i] in held or it.cluster in gold_clusters for i, it in enumerate(items)]


def load_gold_ids(path: Path) -> frozenset[str]:
    """Record ids of a gold design file (jsonl with an ``id`` per line); absent file: none."""
    if not path.exists():
        return frozenset()
    ids = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: expected a JSON object with an 'id'") from exc
    return frozenset(ids)
