"""One row's way through the corpus build: its record, label decision and output lines.

:mod:`refusal_detector.data.build` runs the stages over :class:`BuildRow` objects; the per-row
decisions (label precedence, dedup priority) and the line formats live here.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from refusal_detector.data.annotations_io import HandLabel
from refusal_detector.data.labeling_functions import LFResult, apply_source_rules, label_response
from refusal_detector.data.records import Candidate, CorpusRecord

__all__ = [
    "HARD_NEGATIVE_CUES",
    "HARD_POSITIVE_CUES",
    "BuildRow",
    "corpus_record",
    "dedup_priority",
    "hard_cases",
    "interleave",
    "label_row",
    "review_line",
    "rule_outcome",
]


@dataclass
class BuildRow:
    """One candidate on its way through the build: ids, label decision, split and status."""

    cand: Candidate
    id: str
    model: str
    family: str
    label: int | None = None
    origin: str = ""
    partial: bool = False
    lf: LFResult | None = None
    reason: str = ""
    split: str | None = None
    status: str = "review"  # binary | partial | review
    extra: dict[str, Any] = field(default_factory=dict)


def rule_outcome(c: Candidate) -> LFResult:
    """What the labelling functions and source rules say about a candidate."""
    jailbroken = c.meta.get("jailbroken")
    # "not harmful" judge rows mix refusals with evasions: NORMAL needs compliance evidence
    if isinstance(c.strict_normal, bool):
        strict = 400 if c.strict_normal else 150 if jailbroken is False else 0
    else:
        strict = c.strict_normal
    lf = label_response(
        c.text, hint=c.hint, prompt_known=bool(c.prompt), prompt=c.prompt, strict_normal=strict
    )
    return apply_source_rules(c.source, jailbroken, lf)


def label_row(row: BuildRow, hand: HandLabel | None) -> None:
    """Label ``row`` in place: a hand label first, then the source's label, then the rules."""
    c = row.cand
    if hand is not None:
        row.origin = "review"
        row.reason = hand.reason
        if hand.label == "partial":
            row.status, row.partial = "partial", True
        elif hand.label in (0, 1):
            row.status, row.label = "binary", int(hand.label)
        return
    if c.source_label is not None:
        row.status, row.label, row.origin = "binary", c.source_label, "human"
        return
    lf = rule_outcome(c)
    row.lf, row.reason = lf, lf.reason
    if lf.partial:
        row.status, row.partial, row.origin = "partial", True, f"rule:{lf.rule}"
    elif lf.label is not None:
        row.status, row.label, row.origin = "binary", lf.label, f"rule:{lf.rule}"
    else:
        row.status = "review"


_ORIGIN_RANK = {"review": 0, "human": 1}


def dedup_priority(row: BuildRow) -> tuple[int, int, str]:
    """Dedup keeps the smallest: hand-labelled, then human-labelled rows; binary before others."""
    origin_rank = _ORIGIN_RANK.get(row.origin, 2)
    status_rank = {"binary": 0, "partial": 1, "review": 2}[row.status]
    return (origin_rank, status_rank, row.id)


def corpus_record(row: BuildRow) -> dict[str, Any]:
    """The row as a corpus file line (:class:`~refusal_detector.data.records.CorpusRecord`)."""
    c = row.cand
    return CorpusRecord(
        id=row.id,
        text=c.text,
        prompt=c.prompt,
        source=c.source,
        model=row.model,
        family=row.family,
        label=row.label,
        label_origin=row.origin,
        license=c.license,
        split=row.split or "",
        partial=row.partial,
    ).to_json()


def review_line(row: BuildRow) -> dict[str, Any]:
    """The row as a review-queue line, with the votes and reason a reviewer needs."""
    c = row.cand
    lf = row.lf
    return {
        "id": row.id,
        "text": c.text,
        "prompt": c.prompt,
        "source": c.source,
        "subset": c.subset,
        "model": row.model,
        "family": row.family,
        "split": row.split,
        "score": round(lf.score, 3) if lf else None,
        "votes": lf.votes if lf else {},
        "reason": row.reason,
        "hint": c.hint,
        "source_meta": {k: v for k, v in c.meta.items() if isinstance(v, (bool, int, str))},
    }


def interleave(rows: Sequence[BuildRow], seed: int) -> list[BuildRow]:
    """Round-robin over (source, model) in a seeded order, so any prefix covers many styles."""
    rng = random.Random(seed)
    by: dict[tuple[str, str], list[BuildRow]] = defaultdict(list)
    for r in rows:
        by[(r.cand.source, r.model)].append(r)
    for members in by.values():
        rng.shuffle(members)
    keys = sorted(by)
    rng.shuffle(keys)
    out: list[BuildRow] = []
    depth = 0
    while len(out) < len(rows):
        for k in keys:
            if depth < len(by[k]):
                out.append(by[k][depth])
        depth += 1
    return out


HARD_NEGATIVE_CUES = (
    "sympathy_or_correction_opening",
    "disclaimer_then_content",
    "false_premise",
    "caveat_then_answer",
    "hedged_answer",
    "pivot_to_content",
)
HARD_POSITIVE_CUES = (
    "refusal_later",
    "redirect",
    "moral_opening",
    "deflection",
    "stance",
    "capability",
    "compliant_opening",
)


def hard_cases(rows: Sequence[BuildRow]) -> dict[str, Any]:
    """Counts of deliberate hard cases in the corpus, by the cue that makes them hard."""
    neg: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    for r in rows:
        votes = r.lf.votes if r.lf else {}
        if r.label == 0:
            outvoted = any(v > 0 for k, v in votes.items() if k != "source_hint")
            # a "however" turn is only hard when some refusal cue was there to outvote
            cues = [
                c
                for c in HARD_NEGATIVE_CUES
                if c in votes and (outvoted or c not in ("hedged_answer", "pivot_to_content"))
            ]
            cues += ["refusal_cue_outvoted"] if outvoted else []
            neg.update(cues)
            neg["any"] += bool(cues)
        elif r.label == 1:
            cues = [c for c in HARD_POSITIVE_CUES if c in votes]
            if r.cand.text[:1].isspace() or r.cand.text.lstrip()[:1] in "[(*#":
                cues.append("leading_space_markup_or_persona_tag")
            pos.update(cues)
            pos["any"] += bool(cues)
    reviewed = Counter(str(r.label) for r in rows if r.origin == "review")
    return {
        "hard_negatives_by_cue": dict(sorted(neg.items())),
        "hard_positives_by_cue": dict(sorted(pos.items())),
        "hand_labelled_by_label": dict(sorted(reviewed.items())),
        "note": "rule-labelled rows whose label needed a hard-case cue (a row can have several)",
    }
