"""Corpus build: adapters -> labels -> dedup -> leakage-free splits -> caps/ratio -> files + card.

Run as ``refusal-detector data build --raw ../shared/data/raw --out build/corpus`` (or
``python -m refusal_detector.data.build`` with the same arguments).

Label precedence per row: a hand label from ``annotations/hand_labels.jsonl`` (or an audit
verdict), then the source's human refusal label, then the explicit source rules and labelling
functions. Rows the rules cannot decide go to ``review_queue.jsonl``; partial refusals go to
``partial.jsonl``; only binary rows enter train/validation/test.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from refusal_detector.data.adapters import ADAPTERS, Adapter
from refusal_detector.data.annotations_io import (
    DEFAULT_ANNOTATIONS,
    AuditRow,
    HandLabel,
    load_audit_rounds,
    load_hand_labels,
)
from refusal_detector.data.balance import BalanceItem, balance
from refusal_detector.data.dedup import deduplicate
from refusal_detector.data.gold_groups import (
    GOLD_DESIGN_FILE,
    GOLD_GROUPS_FILE,
    GOLD_REASON,
    gold_excluded,
    load_gold_groups,
    load_gold_ids,
)
from refusal_detector.data.labeling_functions import LFResult, apply_source_rules, label_response
from refusal_detector.data.model_names import family_of, normalise_model
from refusal_detector.data.records import Candidate, CorpusRecord, content_id
from refusal_detector.data.split import SPLITS, SplitItem, assign_splits
from refusal_detector.errors import ConfigError
from refusal_detector.io.files import ProgressBar, atomic_write_jsonl, progress

__all__ = ["BuildConfig", "build_corpus", "main"]

logger = logging.getLogger(__name__)

LICENSE_MODES = ("permissive", "all")


@dataclass(frozen=True)
class BuildConfig:
    """Configuration of one corpus build.

    Args:
        raw: the raw data folder (``shared/data/raw``), read only.
        out: output folder for the jsonl files and ``datacard.json``.
        license: ``permissive`` drops NC sources (what the shipped model trains on); ``all``
            keeps them.
        holdout_family: put every row of this family in test and split the rest train/validation.
        holdout_overlap: ``drop`` (strict) also drops other families' answers to the held-out
            prompts; ``keep`` drops only near-duplicates of held-out rows.
        refusal_ratio: target share of refusals among binary rows; 0 keeps the natural mix.
            Normals are downsampled to reach it; refusals above it are kept unless
            ``cut_refusals``.
        cut_refusals: also drop refusals when they exceed ``refusal_ratio``.
        max_source_share: cap of one source's share of a class.
        max_model_share: cap of one model's share of a class.
        seed: seed of the split hash, the balancing order and the audit sample.
        annotations: folder holding ``hand_labels.jsonl`` and ``audit.jsonl``.
        sources: restrict to these sources (default: all adapters).
        card_dir: also write ``data_card.md`` and ``data_card.json`` there (e.g. ``docs``).
        progress: show progress bars on stderr (only when stderr is a terminal).
    """

    raw: Path
    out: Path
    license: str = "permissive"
    holdout_family: str | None = None
    holdout_overlap: str = "drop"
    refusal_ratio: float = 0.1
    cut_refusals: bool = False
    max_source_share: float = 0.3
    max_model_share: float = 0.2
    seed: int = 0
    annotations: Path = DEFAULT_ANNOTATIONS
    sources: tuple[str, ...] | None = None
    card_dir: Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.license not in LICENSE_MODES:
            raise ConfigError(f"license must be one of {LICENSE_MODES}, found {self.license!r}")
        if self.holdout_overlap not in ("drop", "keep"):
            raise ConfigError(
                f"holdout_overlap must be 'drop' or 'keep', found {self.holdout_overlap!r}"
            )
        if not 0 <= self.refusal_ratio < 1:
            raise ConfigError(f"refusal_ratio must be in [0, 1), found {self.refusal_ratio}")
        for name in ("max_source_share", "max_model_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], found {value}")
        if not self.raw.is_dir():
            raise ConfigError(
                f"raw={self.raw}: not a directory; pass --raw pointing at shared/data/raw"
            )
        unknown = set(self.sources or ()) - set(ADAPTERS)
        if unknown:
            raise ConfigError(f"sources: unknown {sorted(unknown)}; known: {sorted(ADAPTERS)}")


@dataclass
class _Row:
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


def _rule_outcome(c: Candidate) -> LFResult:
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


def _label_row(row: _Row, hand: HandLabel | None) -> None:
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
    lf = _rule_outcome(c)
    row.lf, row.reason = lf, lf.reason
    if lf.partial:
        row.status, row.partial, row.origin = "partial", True, f"rule:{lf.rule}"
    elif lf.label is not None:
        row.status, row.label, row.origin = "binary", lf.label, f"rule:{lf.rule}"
    else:
        row.status = "review"


_ORIGIN_RANK = {"review": 0, "human": 1}


def _priority(row: _Row) -> tuple[int, int, str]:
    origin_rank = _ORIGIN_RANK.get(row.origin, 2)
    status_rank = {"binary": 0, "partial": 1, "review": 2}[row.status]
    return (origin_rank, status_rank, row.id)


def _record(row: _Row) -> dict[str, Any]:
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


def _review_line(row: _Row) -> dict[str, Any]:
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


def _interleave(rows: Sequence[_Row], seed: int) -> list[_Row]:
    """Round-robin over (source, model) in a seeded order, so any prefix covers many styles."""
    rng = random.Random(seed)
    by: dict[tuple[str, str], list[_Row]] = defaultdict(list)
    for r in rows:
        by[(r.cand.source, r.model)].append(r)
    for members in by.values():
        rng.shuffle(members)
    keys = sorted(by)
    rng.shuffle(keys)
    out: list[_Row] = []
    depth = 0
    while len(out) < len(rows):
        for k in keys:
            if depth < len(by[k]):
                out.append(by[k][depth])
        depth += 1
    return out


def _current_rules_summary(
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


def _hard_cases(rows: Sequence[_Row]) -> dict[str, Any]:
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


def _audit_report(
    rounds: dict[int, dict[str, AuditRow]], current: dict[str, int | str | None]
) -> dict[str, Any]:
    """Headline: the latest round as audited; every round also scored against current rules."""
    if not rounds:
        return _audit_summary({}) | {"rounds": {}}
    latest = max(rounds)
    per_round = {
        str(r): _audit_summary(rows)
        | {
            "current_rules": _current_rules_summary(
                rows, {i: v for i, v in current.items() if i in rows}
            )
        }
        for r, rows in sorted(rounds.items())
    }
    return per_round[str(latest)] | {"round": latest, "rounds": per_round}


def _audit_summary(audit: dict[str, AuditRow]) -> dict[str, Any]:
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


def build_corpus(config: BuildConfig) -> dict[str, Any]:
    """Build the corpus into ``config.out``; return the data card (also written as JSON)."""
    t0 = time.time()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    hand_labels = load_hand_labels(config.annotations / "hand_labels.jsonl")
    audit_rounds = load_audit_rounds(config.annotations)
    audit: dict[str, AuditRow] = {}
    for round_no in sorted(audit_rounds):
        audit.update(audit_rounds[round_no])
    # audit verdicts correct the corpus too; an explicit hand label wins over an audit verdict
    verdicts: dict[str, HandLabel] = {
        a.id: HandLabel(a.id, a.hand_label, a.reason or "audit") for a in audit.values()
    }
    verdicts.update(hand_labels)

    adapters: list[Adapter] = [
        a
        for name, a in ADAPTERS.items()
        if (config.sources is None or name in config.sources)
        and (config.license == "all" or a.license_class == "permissive")
    ]
    skipped_licence = sorted(
        name
        for name, a in ADAPTERS.items()
        if (config.sources is None or name in config.sources)
        and a not in adapters
        and (config.raw / name).is_dir()
    )
    missing = sorted(a.name for a in adapters if not (config.raw / a.name).is_dir())
    if missing and config.sources is not None:
        raise ConfigError(f"--source given but {missing} not found under {config.raw}")
    if missing:
        logger.warning("raw folders missing, sources skipped: %s", ", ".join(missing))
    adapters = [a for a in adapters if a.name not in missing]
    if not adapters:
        raise ConfigError(f"raw={config.raw}: no source folders found; expected e.g. gptfuzz/")
    excluded: list[dict[str, Any]] = []
    rows: list[_Row] = []
    raw_counts: Counter[str] = Counter()
    for adapter in progress(adapters, enabled=config.progress, desc="read sources", unit="source"):
        for cand in adapter.read(config.raw):
            raw_counts[cand.source] += 1
            model = normalise_model(cand.model_raw)
            row = _Row(cand, content_id(cand.prompt, cand.text), model, family_of(model))
            if cand.exclude_reason:
                excluded.append(
                    {
                        "id": row.id,
                        "source": cand.source,
                        "model": model,
                        "reason": cand.exclude_reason,
                    }
                )
                continue
            rows.append(row)

    matched = {r.id for r in rows if r.id in verdicts}
    # with a source subset or licence filter, labels of the other sources are expected to miss
    complete = config.sources is None and config.license == "all" and not missing
    unmatched = sorted(set(verdicts) - matched) if complete else []
    if unmatched:
        logger.warning(
            "%d hand/audit labels match no raw row (first: %s)", len(unmatched), unmatched[0]
        )
    audit_current: dict[str, int | str | None] = {}
    for row in progress(rows, enabled=config.progress, desc="label", unit="row", mininterval=0.5):
        _label_row(row, verdicts.get(row.id))
        if row.id in audit:
            if row.cand.source_label is not None:
                audit_current[row.id] = "human"
            else:
                outcome = _rule_outcome(row.cand)
                audit_current[row.id] = "partial" if outcome.partial else outcome.label
    skipped_by_hand = [r for r in rows if r.origin == "review" and r.status == "review"]
    for r in skipped_by_hand:
        excluded.append(
            {"id": r.id, "source": r.cand.source, "model": r.model, "reason": "hand_skip"}
        )
    rows = [r for r in rows if not (r.origin == "review" and r.status == "review")]

    # dedup over everything that reaches an output file, best-labelled rows first
    with ProgressBar(enabled=config.progress, total=len(rows), desc="dedup", unit="row") as bar:
        result = deduplicate(
            [r.cand.text for r in rows],
            priority=lambda i: _priority(rows[i]),
            seed=config.seed,
            progress=bar.update,
        )
    for i, (reason, kept_i) in result.dropped.items():
        excluded.append(
            {
                "id": rows[i].id,
                "source": rows[i].cand.source,
                "model": rows[i].model,
                "reason": reason,
                "duplicate_of": rows[kept_i].id,
            }
        )
    kept_rows = [rows[i] for i in result.kept]
    cluster_of = {id(rows[i]): result.cluster[i] for i in result.kept}
    # an id can repeat only through identical prompt+text, which exact dedup removed
    split_items = [
        SplitItem(r.id, r.cand.prompt, r.cand.group, cluster_of[id(r)], r.family) for r in kept_rows
    ]
    splits = assign_splits(
        split_items,
        seed=config.seed,
        holdout_family=config.holdout_family,
        holdout_overlap=config.holdout_overlap,
    )
    held_out = gold_excluded(
        split_items,
        load_gold_groups(config.annotations / GOLD_GROUPS_FILE),
        load_gold_ids(config.annotations / GOLD_DESIGN_FILE),
    )
    final: list[_Row] = []
    for r, s, held in zip(kept_rows, splits, held_out, strict=True):
        if held:  # external gold groups: in no split of any source
            excluded.append(
                {"id": r.id, "source": r.cand.source, "model": r.model, "reason": GOLD_REASON}
            )
            continue
        if s is None:
            excluded.append(
                {
                    "id": r.id,
                    "source": r.cand.source,
                    "model": r.model,
                    "reason": "holdout_component_overlap",
                }
            )
            continue
        r.split = s
        final.append(r)

    binary = [r for r in final if r.status == "binary"]
    drops = balance(
        [
            BalanceItem(
                r.id, int(r.label or 0), r.cand.source, r.model, r.origin in ("human", "review")
            )
            for r in binary
        ],
        refusal_ratio=config.refusal_ratio or None,
        max_source_share=config.max_source_share,
        max_model_share=config.max_model_share,
        seed=config.seed,
        cut_refusals=config.cut_refusals,
    )
    for i, reason in drops.items():
        r = binary[i]
        excluded.append(
            {
                "id": r.id,
                "source": r.cand.source,
                "model": r.model,
                "reason": reason,
                "label": r.label,
                "label_origin": r.origin,
                "split": r.split,
            }
        )
    corpus = [r for i, r in enumerate(binary) if i not in drops]
    partial = [r for r in final if r.status == "partial"]
    review = _interleave([r for r in final if r.status == "review"], config.seed)

    for split in SPLITS:
        atomic_write_jsonl(out / f"{split}.jsonl", (_record(r) for r in corpus if r.split == split))
    atomic_write_jsonl(out / "partial.jsonl", (_record(r) | {"reason": r.reason} for r in partial))
    atomic_write_jsonl(out / "review_queue.jsonl", (_review_line(r) for r in review))
    atomic_write_jsonl(out / "excluded.jsonl", excluded)
    # rows dropped only by caps/ratio keep their labels: usable for extra training or analysis
    atomic_write_jsonl(
        out / "balanced_out.jsonl",
        (_record(binary[i]) | {"reason": reason} for i, reason in sorted(drops.items())),
    )

    from refusal_detector.data.card import make_card, write_card

    card = make_card(
        config=config,
        corpus=[_record(r) for r in corpus],
        partial_n=len(partial),
        review_n=len(review),
        raw_counts=dict(raw_counts),
        excluded=excluded,
        dedup=asdict(result.stats),
        audit=_audit_report(audit_rounds, audit_current),
        hand_labels=len(hand_labels),
        annotations_unmatched=len(unmatched) if complete else None,
        skipped_licence=skipped_licence,
        missing=missing,
        adapters=adapters,
        build_seconds=round(time.time() - t0, 1),
        unbalanced=[_record(r) for r in binary],
        hard_cases=_hard_cases(corpus),
    )
    write_card(card, out / "datacard.json", out / "datacard.md")
    if config.card_dir is not None:
        config.card_dir.mkdir(parents=True, exist_ok=True)
        write_card(card, config.card_dir / "data_card.json", config.card_dir / "data_card.md")
    return card


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m refusal_detector.data.build``; same arguments as ``data build``."""
    import argparse

    from refusal_detector.data.commands import add_build_arguments, run_build

    parser = argparse.ArgumentParser(prog="python -m refusal_detector.data.build")
    add_build_arguments(parser)
    return run_build(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
