"""Behaviour keys: one normal form for a harmful behaviour, whatever source phrases it.

AdvBench / JailbreakBench behaviours recur across sources (as the prompt itself, as a
``jbb-behavior:`` or ``behavior:`` group, lower-cased in one file and capitalised in another).
The key is the behaviour text normalised (NFKC, casefold, one space) with trailing punctuation
removed, so that the external gold set's held-out groups match every source's rows.
"""

from __future__ import annotations

from refusal_detector.data.records import normalise_text

__all__ = ["BEHAVIOUR_PREFIXES", "behaviour_group", "behaviour_key", "row_keys"]

BEHAVIOUR_PREFIXES = ("jbb-behavior:", "behavior:")


def behaviour_key(text: str) -> str:
    """Normalised behaviour text: ``normalise_text`` without trailing punctuation or spaces."""
    return normalise_text(text).rstrip(" .!?;:")


def behaviour_group(text: str) -> str:
    """The adapter ``group`` value for a behaviour (``behavior:<key>``)."""
    return "behavior:" + behaviour_key(text)


def row_keys(prompt: str | None, group: str | None) -> set[str]:
    """Behaviour keys of one row: its prompt, and its group when that names a behaviour."""
    keys = set()
    if prompt and prompt.strip():
        keys.add(behaviour_key(prompt))
    if group:
        for prefix in BEHAVIOUR_PREFIXES:
            if group.startswith(prefix):
                keys.add(behaviour_key(group[len(prefix) :]))
    return keys
