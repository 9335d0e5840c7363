"""Corpus build: adapters -> labels -> dedup -> leakage-free splits -> caps/ratio -> files + card.

Run as ``refusal-detector data build --raw ../shared/data/raw --out build/corpus``; the
configuration is :class:`~refusal_detector.data.config.BuildConfig`.

Label precedence per row: a hand label from ``annotations/hand_labels.jsonl`` (or an audit
verdict), then the source's human refusal label, then the explicit source rules and labelling
functions. Rows the rules cannot decide go to ``review_queue.jsonl``; partial refusals go to
``partial.jsonl``; only binary rows enter train/validation/test.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from refusal_detector.data.adapters import ADAPTERS, Adapter
from refusal_detector.data.annotations_io import (
    AuditRow,
    HandLabel,
    load_audit_rounds,
    load_hand_labels,
)
from refusal_detector.data.audit import audit_report
from refusal_detector.data.balance import BalanceItem, balance
from refusal_detector.data.card import DATACARD_JSON, DATACARD_MD, BuildStats, make_card, write_card
from refusal_detector.data.config import BuildConfig
from refusal_detector.data.dedup import deduplicate
from refusal_detector.data.gold_groups import (
    GOLD_DESIGN_FILE,
    GOLD_GROUPS_FILE,
    GOLD_REASON,
    gold_excluded,
    load_gold_groups,
    load_gold_ids,
)
from refusal_detector.data.model_names import family_of, normalise_model
from refusal_detector.data.records import (
    CAPPED_FILE,
    EXCLUDED_FILE,
    PARTIAL_FILE,
    REVIEW_QUEUE_FILE,
    content_id,
)
from refusal_detector.data.rows import (
    BuildRow,
    corpus_record,
    dedup_priority,
    hard_cases,
    interleave,
    label_row,
    review_line,
    rule_outcome,
)
from refusal_detector.data.split import SPLITS, SplitItem, assign_splits
from refusal_detector.errors import ConfigError
from refusal_detector.io.files import ProgressBar, atomic_write_jsonl, progress

__all__ = [
    "SourceSelection",
    "balance_rows",
    "build_corpus",
    "dedup_rows",
    "label_rows",
    "read_sources",
    "select_adapters",
    "split_rows",
    "write_outputs",
]

logger = logging.getLogger(__name__)


def build_corpus(config: BuildConfig) -> dict[str, Any]:
    """Build the corpus into ``config.out``; return the data card (also written as JSON).

    The stages run in this order, each a function below: select adapters, read, label, dedup,
    split, balance, write. Every row a stage drops goes to ``excluded.jsonl`` with its reason.
    """
    t0 = time.time()
    config.out.mkdir(parents=True, exist_ok=True)
    notes = _read_annotations(config.annotations)
    sources = select_adapters(config)
    excluded: list[dict[str, Any]] = []
    rows, raw_counts = read_sources(config, sources.adapters, excluded)
    # with a source subset or licence filter, labels of the other sources are expected to miss
    complete = config.sources is None and config.license == "all" and not sources.missing
    rows, audit_current, unmatched = label_rows(config, rows, notes, excluded, complete=complete)
    kept, cluster_of, dedup_stats = dedup_rows(config, rows, excluded)
    final = split_rows(config, kept, cluster_of, excluded)
    binary = [r for r in final if r.status == "binary"]
    drops = balance_rows(config, binary, excluded)
    corpus = [r for i, r in enumerate(binary) if i not in drops]
    partial = [r for r in final if r.status == "partial"]
    review = interleave([r for r in final if r.status == "review"], config.seed)
    write_outputs(config.out, corpus, partial, review, excluded, binary, drops)

    stats = BuildStats(
        corpus=[corpus_record(r) for r in corpus],
        unbalanced=[corpus_record(r) for r in binary],
        partial_n=len(partial),
        review_n=len(review),
        raw_counts=dict(raw_counts),
        excluded=excluded,
        dedup=dedup_stats,
        audit=audit_report(notes.audit_rounds, audit_current),
        hand_labels=len(notes.hand_labels),
        annotations_unmatched=len(unmatched) if complete else None,
        skipped_licence=sources.skipped_licence,
        missing=sources.missing,
        adapters=sources.adapters,
        build_seconds=round(time.time() - t0, 1),
        hard_cases=hard_cases(corpus),
    )
    card = make_card(config, stats)
    write_card(card, config.out / DATACARD_JSON, config.out / DATACARD_MD)
    if config.card_dir is not None:
        config.card_dir.mkdir(parents=True, exist_ok=True)
        write_card(card, config.card_dir / "data_card.json", config.card_dir / "data_card.md")
    return card


@dataclass(frozen=True)
class _Annotations:
    hand_labels: dict[str, HandLabel]
    audit_rounds: dict[int, dict[str, AuditRow]]
    audit: dict[str, AuditRow]
    """Every audited row, a later round winning."""
    verdicts: dict[str, HandLabel]
    """Hand labels and audit verdicts by id; an explicit hand label wins over an audit verdict."""


def _read_annotations(folder: Path) -> _Annotations:
    hand_labels = load_hand_labels(folder / "hand_labels.jsonl")
    audit_rounds = load_audit_rounds(folder)
    audit: dict[str, AuditRow] = {}
    for round_no in sorted(audit_rounds):
        audit.update(audit_rounds[round_no])
    # audit verdicts correct the corpus too; an explicit hand label wins over an audit verdict
    verdicts: dict[str, HandLabel] = {
        a.id: HandLabel(a.id, a.hand_label, a.reason or "audit") for a in audit.values()
    }
    verdicts.update(hand_labels)
    return _Annotations(hand_labels, audit_rounds, audit, verdicts)


@dataclass(frozen=True)
class SourceSelection:
    """The adapters a build reads, and the sources it leaves out (for the card)."""

    adapters: list[Adapter]
    skipped_licence: list[str]
    missing: list[str]


def select_adapters(config: BuildConfig) -> SourceSelection:
    """Stage 1: the adapters whose licence and raw folder fit ``config``.

    Raises:
        ConfigError: a ``--source`` folder is missing, or no source folder is found at all.
    """
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
    return SourceSelection(adapters, skipped_licence, missing)


def read_sources(
    config: BuildConfig, adapters: Sequence[Adapter], excluded: list[dict[str, Any]]
) -> tuple[list[BuildRow], Counter[str]]:
    """Stage 2: every candidate of every adapter as a row; raw counts per source."""
    rows: list[BuildRow] = []
    raw_counts: Counter[str] = Counter()
    for adapter in progress(adapters, enabled=config.progress, desc="read sources", unit="source"):
        for cand in adapter.read(config.raw):
            raw_counts[cand.source] += 1
            model = normalise_model(cand.model_raw)
            row = BuildRow(cand, content_id(cand.prompt, cand.text), model, family_of(model))
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
    return rows, raw_counts


def label_rows(
    config: BuildConfig,
    rows: list[BuildRow],
    notes: _Annotations,
    excluded: list[dict[str, Any]],
    *,
    complete: bool,
) -> tuple[list[BuildRow], dict[str, int | str | None], list[str]]:
    """Stage 3: label every row (hand label, source label, rules); drop hand-skipped rows.

    Returns the rows kept, what the current rules say for each audited id, and the hand/audit
    labels that match no row (only counted when ``complete``: every source was read).
    """
    verdicts = notes.verdicts
    matched = {r.id for r in rows if r.id in verdicts}
    unmatched = sorted(set(verdicts) - matched) if complete else []
    if unmatched:
        logger.warning(
            "%d hand/audit labels match no raw row (first: %s)", len(unmatched), unmatched[0]
        )
    audit_current: dict[str, int | str | None] = {}
    for row in progress(rows, enabled=config.progress, desc="label", unit="row", mininterval=0.5):
        label_row(row, verdicts.get(row.id))
        if row.id in notes.audit:
            if row.cand.source_label is not None:
                audit_current[row.id] = "human"
            else:
                outcome = rule_outcome(row.cand)
                audit_current[row.id] = "partial" if outcome.partial else outcome.label
    skipped_by_hand = [r for r in rows if r.origin == "review" and r.status == "review"]
    for r in skipped_by_hand:
        excluded.append(
            {"id": r.id, "source": r.cand.source, "model": r.model, "reason": "hand_skip"}
        )
    rows = [r for r in rows if not (r.origin == "review" and r.status == "review")]
    return rows, audit_current, unmatched


def dedup_rows(
    config: BuildConfig, rows: list[BuildRow], excluded: list[dict[str, Any]]
) -> tuple[list[BuildRow], dict[int, int], dict[str, Any]]:
    """Stage 4: exact and near-duplicate removal, best-labelled rows first.

    Returns the kept rows, each kept row's near-duplicate cluster (by ``id(row)``) and the stats.
    """
    # dedup over everything that reaches an output file, best-labelled rows first
    with ProgressBar(enabled=config.progress, total=len(rows), desc="dedup", unit="row") as bar:
        result = deduplicate(
            [r.cand.text for r in rows],
            priority=lambda i: dedup_priority(rows[i]),
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
    return kept_rows, cluster_of, asdict(result.stats)


def split_rows(
    config: BuildConfig,
    kept_rows: list[BuildRow],
    cluster_of: dict[int, int],
    excluded: list[dict[str, Any]],
) -> list[BuildRow]:
    """Stage 5: leakage-free train/validation/test by prompt, group and near-duplicate cluster.

    Rows of the external gold groups (``annotations/external_gold_groups.json``) go to no split.
    """
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
    final: list[BuildRow] = []
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
    return final


def balance_rows(
    config: BuildConfig, binary: list[BuildRow], excluded: list[dict[str, Any]]
) -> dict[int, str]:
    """Stage 6: source/model caps and the class ratio; the indices of ``binary`` to drop."""
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
    return drops


def write_outputs(
    out: Path,
    corpus: Sequence[BuildRow],
    partial: Sequence[BuildRow],
    review: Sequence[BuildRow],
    excluded: Sequence[dict[str, Any]],
    binary: Sequence[BuildRow],
    drops: dict[int, str],
) -> None:
    """Stage 7: the split files, partial refusals, review queue, excluded and capped rows."""
    for split in SPLITS:
        atomic_write_jsonl(
            out / f"{split}.jsonl", (corpus_record(r) for r in corpus if r.split == split)
        )
    atomic_write_jsonl(
        out / PARTIAL_FILE, (corpus_record(r) | {"reason": r.reason} for r in partial)
    )
    atomic_write_jsonl(out / REVIEW_QUEUE_FILE, (review_line(r) for r in review))
    atomic_write_jsonl(out / EXCLUDED_FILE, excluded)
    # rows dropped only by caps/ratio keep their labels: usable for extra training or analysis
    atomic_write_jsonl(
        out / CAPPED_FILE,
        (corpus_record(binary[i]) | {"reason": reason} for i, reason in sorted(drops.items())),
    )
