"""Draw the external gold candidates and a review batch from the three new-family sources.

``python -m refusal_detector.data.gold_draw --raw ../shared/data/raw --out /work/gold``
(also ``refusal-detector data gold-draw``) is deterministic for a given ``--seed``:

1. Held-out groups: ~30 % of the behaviour groups of each new source (``gold_groups``), written
   to ``annotations/external_gold_groups.json``; the corpus build drops them from every split.
2. Gold candidates: rows of the held-out groups from families the corpus never had (claude,
   mistral, zephyr), near-duplicates removed, water-filled per family over the labelling
   functions' vote (refusal / normal / review) plus a ``soft`` stratum of moralising or
   redirecting answers without an explicit refusal opening, round-robin over models and groups
   with a cap per group. Design: ``annotations/external_gold_design.jsonl`` (no text); blind files
   for readers: ``blind_part<k>.jsonl`` (gold_id, prompt, response; shuffled), then ``READY``.
3. Review batch: rows of the other groups that the labelling functions send to review,
   water-filled over source x family (new families only); ``review_part<k>.jsonl``
   (review_id, prompt, response), design ``annotations/external_review_design.jsonl``, then
   ``REVIEW_READY``. Their labels become hand labels (training labels).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refusal_detector.cli_options import HelpFormatter
from refusal_detector.data.adapters import ADAPTERS
from refusal_detector.data.annotations_io import DEFAULT_ANNOTATIONS
from refusal_detector.data.balance import water_fill
from refusal_detector.data.commands import add_gold_draw_arguments
from refusal_detector.data.dedup import deduplicate
from refusal_detector.data.gold_groups import GOLD_GROUPS_FILE, choose_gold_groups
from refusal_detector.data.gold_groups import write_gold_groups as _write_groups
from refusal_detector.data.model_names import family_of, normalise_model
from refusal_detector.data.prompt_groups import behaviour_key, row_keys
from refusal_detector.data.records import Candidate, content_id
from refusal_detector.data.rows import rule_outcome
from refusal_detector.io.files import atomic_write_jsonl

__all__ = ["NEW_SOURCES", "GoldRow", "draw", "lf_outcome", "main"]

NEW_SOURCES = ("adaptive_attacks", "refusal_stability", "past_tense")
GOLD_TARGETS = {"claude": 450, "mistral": 400, "zephyr": 200}
STRATA = ("refusal", "soft", "normal", "review")
_SOFT_CUES = {"moralising", "moral_opening", "must_point_out", "discourage", "soft_redirect"}
_SOFT_CUES |= {"redirect", "stance", "capability"}


lf_outcome = rule_outcome
"""What the build's labelling functions and source rules say about one candidate."""


@dataclass
class GoldRow:
    """One candidate with what the draw needs to know about it."""

    cand: Candidate
    id: str
    model: str
    family: str
    group: str
    vote: str
    stratum: str

    def design(self, id_field: str, prefix: str) -> dict[str, Any]:
        """Design line (no text): id, source, model, family, group, LF vote and stratum."""
        return {
            id_field: prefix + self.id,
            "id": self.id,
            "source": self.cand.source,
            "subset": self.cand.subset,
            "model": self.model,
            "family": self.family,
            "prompt_group": self.group,
            "lf_vote": self.vote,
            "stratum": self.stratum,
        }


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"gold-draw:{seed}:{key}".encode()).hexdigest()


def _behaviour_keys(c: Candidate) -> set[str]:
    # the behaviour a row answers: its group for the attack sources (their prompts are templates)
    keys = row_keys(None, c.group)
    return keys or ({behaviour_key(c.prompt)} if c.prompt else set())


def _rows(cands: Sequence[Candidate], gold: set[str]) -> list[tuple[GoldRow, bool]]:
    out = []
    for c in cands:
        if c.exclude_reason or not c.text.strip():
            continue
        model = normalise_model(c.model_raw)
        lf = lf_outcome(c)
        vote = "review" if lf.partial or lf.label is None else ("refusal", "normal")[1 - lf.label]
        soft = bool(_SOFT_CUES & set(lf.votes)) and "refusal_opening" not in lf.votes
        keys = _behaviour_keys(c) | row_keys(c.prompt, None)
        hits = sorted(keys & gold)
        group = hits[0] if hits else min(_behaviour_keys(c), default="")
        row = GoldRow(c, content_id(c.prompt, c.text), model, family_of(model), group, vote, "")
        row.stratum = "soft" if soft and vote != "normal" else vote
        out.append((row, bool(hits)))
    return out


def _dedup(rows: list[GoldRow], seed: int) -> list[GoldRow]:
    ordered = sorted(rows, key=lambda r: _rank(seed, r.id))
    result = deduplicate([r.cand.text for r in ordered], seed=seed)
    return [ordered[i] for i in sorted(result.kept)]


def _pick(
    rows: list[GoldRow], n: int, group_cap: int, seed: int, per_group: Counter[str] | None = None
) -> list[GoldRow]:
    """Up to ``n`` rows round-robin over models (each shuffled), at most ``group_cap`` per group.

    ``per_group`` carries the group counts over several calls (one family, several strata).
    """
    counts: Counter[str] = Counter() if per_group is None else per_group
    by_model: dict[str, list[GoldRow]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: _rank(seed, r.id)):
        by_model[r.model].append(r)
    out: list[GoldRow] = []
    queues = [by_model[m] for m in sorted(by_model, key=lambda m: _rank(seed, m))]
    while len(out) < n and any(queues):
        for q in queues:
            while q and counts[q[0].group] >= group_cap:
                q.pop(0)
            if q and len(out) < n:
                r = q.pop(0)
                counts[r.group] += 1
                out.append(r)
    return out


def draw_gold(rows: list[GoldRow], targets: dict[str, int], seed: int) -> list[GoldRow]:
    """Per family: water-fill the target over the strata, then pick with a per-group cap.

    The cap per group is shared by the strata of a family; what a stratum cannot fill under it
    is taken from the other strata in a second pass.
    """
    chosen: list[GoldRow] = []
    for family, target in targets.items():
        pool = _dedup([r for r in rows if r.family == family], seed)
        if not pool:
            continue
        cap = max(4, math.ceil(2.5 * target / len({r.group for r in pool})))
        strata = {s: [r for r in pool if r.stratum == s] for s in STRATA}
        room = {s: len(_pick(strata[s], len(strata[s]), cap, seed)) for s in STRATA}
        counts: Counter[str] = Counter()
        picked: list[GoldRow] = []
        for s, quota in water_fill(room, target).items():
            picked += _pick(strata[s], quota, cap, seed, counts)
        taken = {r.id for r in picked}
        for s in STRATA:
            rest = [r for r in strata[s] if r.id not in taken]
            picked += _pick(rest, target - len(picked), cap, seed, counts)
        chosen += picked
    return chosen


def draw_review(rows: list[GoldRow], n: int, families: Sequence[str], seed: int) -> list[GoldRow]:
    """Review-vote rows water-filled over (source, family), at most 8 per group per cell."""
    pool = _dedup([r for r in rows if r.vote == "review" and r.family in families], seed)
    cells: dict[tuple[str, str], list[GoldRow]] = defaultdict(list)
    for r in pool:
        cells[(r.cand.source, r.family)].append(r)
    picked = {k: _pick(cells[k], len(cells[k]), 8, seed) for k in sorted(cells)}
    quotas = water_fill({k: len(p) for k, p in picked.items()}, n)
    return [r for k, p in picked.items() for r in p[: quotas[k]]]


def _write_blind(
    out_dir: Path, stem: str, rows: Sequence[GoldRow], id_field: str, prefix: str, parts: int
) -> None:
    lines = [
        {id_field: prefix + r.id, "prompt": r.cand.prompt, "response": r.cand.text} for r in rows
    ]
    random.Random(f"{stem}:{len(lines)}").shuffle(lines)
    size = math.ceil(len(lines) / parts)
    for k in range(parts):
        atomic_write_jsonl(out_dir / f"{stem}_part{k + 1}.jsonl", lines[k * size : (k + 1) * size])


def _summary(rows: Sequence[GoldRow]) -> dict[str, Any]:
    return {
        "n": len(rows),
        "by_family_stratum": {
            f"{f}/{s}": n
            for (f, s), n in sorted(Counter((r.family, r.stratum) for r in rows).items())
        },
        "by_source_family": {
            f"{s}/{f}": n
            for (s, f), n in sorted(Counter((r.cand.source, r.family) for r in rows).items())
        },
        "by_model": dict(sorted(Counter(r.model for r in rows).items())),
        "groups": len({r.group for r in rows}),
    }


def draw(
    raw: Path,
    out_dir: Path,
    *,
    annotations: Path = DEFAULT_ANNOTATIONS,
    fraction: float = 0.3,
    seed: int = 0,
    review_n: int = 600,
    gold_parts: int = 5,
    review_parts: int = 3,
) -> dict[str, Any]:
    """Choose the held-out groups, draw gold and review rows, write design and blind files."""
    cands = {name: list(ADAPTERS[name].read(raw)) for name in NEW_SOURCES}
    pools = {name: set().union(*(_behaviour_keys(c) for c in cs)) for name, cs in cands.items()}
    gold = choose_gold_groups(pools, fraction=fraction, seed=seed)
    per_source = {
        n: {"groups": len(k), "held_out": len(k & gold)} for n, k in sorted(pools.items())
    }
    groups_meta: dict[str, Any] = {
        "description": "behaviour keys (prompt_groups.behaviour_key) held out for the external "
        "gold set; the corpus build drops every row of these groups from every split",
        "command": f"python -m refusal_detector.data.gold_draw --raw RAW --out DIR "
        f"--fraction {fraction} --seed {seed}",
        "per_source": per_source,
    }
    _write_groups(annotations / GOLD_GROUPS_FILE, gold, groups_meta)
    rows = [r for cs in cands.values() for r in _rows(cs, gold)]
    gold_rows = draw_gold([r for r, hit in rows if hit], GOLD_TARGETS, seed)
    review_rows = draw_review([r for r, hit in rows if not hit], review_n, list(GOLD_TARGETS), seed)
    atomic_write_jsonl(
        annotations / "external_gold_design.jsonl",
        [r.design("gold_id", "eg-") for r in sorted(gold_rows, key=lambda r: r.id)],
    )
    atomic_write_jsonl(
        annotations / "external_review_design.jsonl",
        [r.design("review_id", "rv-") for r in sorted(review_rows, key=lambda r: r.id)],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_blind(out_dir, "blind", gold_rows, "gold_id", "eg-", gold_parts)
    (out_dir / "READY").touch()
    _write_blind(out_dir, "review", review_rows, "review_id", "rv-", review_parts)
    (out_dir / "REVIEW_READY").touch()
    return {
        "gold_groups": {**per_source, "total": len(gold)},
        "gold": _summary(gold_rows),
        "review": _summary(review_rows),
    }


def run(args: argparse.Namespace) -> int:
    """Handler: draw, then print the counts as JSON."""
    summary = draw(
        args.raw,
        args.out,
        annotations=args.annotations,
        fraction=args.fraction,
        seed=args.seed,
        review_n=args.review_n,
    )
    print(json.dumps(summary, indent=1))  # noqa: T201
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m refusal_detector.data.gold_draw``."""
    parser = argparse.ArgumentParser(
        prog="python -m refusal_detector.data.gold_draw", formatter_class=HelpFormatter
    )
    add_gold_draw_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
