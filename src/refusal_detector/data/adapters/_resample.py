"""Helpers for heavily resampled sources: exact-duplicate removal and a cap per group.

Attack logs and stability studies store many samples of the same prompt (100 restarts, 20 seeds);
kept whole, one behaviour would outweigh whole sources. ``cap_per_group`` keeps at most ``n``
distinct responses per group, chosen by a stable hash of the text, so rebuilds pick the same rows.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from refusal_detector.data.records import Candidate, normalise_text

__all__ = ["cap_per_group", "looks_non_english"]

_NON_ENGLISH_OPENINGS = re.compile(
    r"^\s*(?:<text>\s*)?(?:d[ée]sol[ée]e?|je |voici|lo siento|aqu[ií] |entiendo|"
    r"mi dispiace|es tut mir leid|ich kann|вот|извините)",
    re.IGNORECASE,
)


def looks_non_english(text: str) -> bool:
    """True for responses that open in French/Spanish/German/Russian or are mostly non-ASCII."""
    head = text[:300]
    letters = [ch for ch in head if ch.isalpha()]
    if letters and sum(ch.isascii() for ch in letters) / len(letters) < 0.85:
        return True
    return bool(_NON_ENGLISH_OPENINGS.search(head))


def _rank(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def cap_per_group(
    candidates: Iterable[Candidate], key: Callable[[Candidate], str], n: int
) -> Iterator[Candidate]:
    """At most ``n`` distinct (normalised) responses per ``key``; order within a group is stable."""
    groups: dict[str, dict[str, Candidate]] = defaultdict(dict)
    for cand in candidates:
        seen = groups[key(cand)]
        norm = normalise_text(cand.text)
        if norm not in seen:
            seen[norm] = cand
    for members in groups.values():
        ranked = sorted(members.values(), key=lambda c: _rank(c.text))
        yield from ranked[:n]
