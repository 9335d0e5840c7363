"""Data card of a built corpus: a machine-read JSON and the same facts as markdown.

:func:`make_card` assembles the JSON from a :class:`BuildStats`; :func:`render_markdown` fills
``templates/data_card.md`` with it (the prose lives in that file, the tables are built here).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refusal_detector.data.adapters import Adapter
from refusal_detector.data.config import BuildConfig
from refusal_detector.data.records import DATACARD_JSON, DATACARD_MD
from refusal_detector.templates import render_template

__all__ = [
    "DATACARD_JSON",
    "DATACARD_MD",
    "KNOWN_LIMITATIONS",
    "BuildStats",
    "make_card",
    "render_markdown",
    "write_card",
]


KNOWN_LIMITATIONS = [
    "Most labels of unlabelled pools come from labelling functions (label_origin rule:*), not "
    "humans; their error rate is estimated by the audit (see the audit section), not known "
    "per row.",
    "Harm/jailbreak labels (gptfuzz, jailbreakbench_artifacts, jbb_judge_comparison, "
    "jailbreakeval_judge_sets, and the judge fields of adaptive_attacks, refusal_stability, "
    "past_tense) are converted only by the explicit rules in "
    "labeling_functions.apply_source_rules; gptfuzz two-persona outputs are kept out as partial.",
    "Rows the rules cannot decide (review queue) are not in train/validation/test until hand "
    "labelled, so the corpus under-represents the hardest soft refusals and hard negatives.",
    "overrefusal_legal_orbench responses are cut at 500 characters upstream.",
    "wildbench_outputs has no prompt text; short, ambiguous rows from it go to review.",
    "Several sources do not name the answering model (model 'unknown').",
    "gptfuzz's model (gpt-3.5-turbo) is inferred by the PROVENANCE, not stated in the files.",
    "refusal_direction's activation-steered outputs (actadd) are excluded; ablation outputs "
    "(refusal direction removed) are kept as compliant answers to harmful prompts.",
    "English only; the class ratio is rebalanced (see class_ratio), so corpus frequencies are "
    "not natural frequencies.",
    "Claude, Mistral and Zephyr (R2D2) outputs come only from three jailbreak studies "
    "(adaptive_attacks, refusal_stability, past_tense): harmful prompts only, 50 AdvBench "
    "behaviours for most Claude rows, and the behaviour groups held out for the external gold set "
    "(annotations/external_gold_groups.json) are in no split. Few GPT-4 refusals.",
    "The headline audit round was drawn from a build with the rules as they are now and "
    "labelled blind (the labeller did not see the rule label); each error rate rests on about "
    "200 rows, so its 95% interval is roughly +-2.5 points. Rule-REJECTION rows also hold about "
    "2.5% partial refusals (refusal plus a watered-down answer), counted apart from errors.",
    "Audited rows keep their hand label (label_origin review) in later builds, so earlier rounds "
    "re-scored against the current rules are optimistic; only the newest round is unbiased.",
]


def _nested() -> defaultdict[str, Any]:
    return defaultdict(_nested)


def _plain(d: Any) -> Any:
    if isinstance(d, dict):
        return {str(k): _plain(v) for k, v in sorted(d.items(), key=lambda kv: str(kv[0]))}
    return d


@dataclass(frozen=True)
class BuildStats:
    """What a corpus build counted: the input of :func:`make_card`.

    Attributes:
        corpus: the records of train/validation/test (after balancing), as written.
        unbalanced: the binary records before the caps and the class ratio.
        partial_n: partial refusals kept out of the binary label.
        review_n: rows in the review queue.
        raw_counts: rows read per source, before any filter.
        excluded: the excluded rows, each with its ``reason``.
        dedup: deduplication statistics.
        audit: the audit report (:func:`refusal_detector.data.audit.audit_report`).
        hand_labels: hand labels read from the annotations.
        annotations_unmatched: hand/audit labels that match no row (None: not every source read).
        skipped_licence: sources left out by the licence mode.
        missing: sources whose raw folder is missing.
        adapters: the adapters that were read.
        build_seconds: wall-clock time of the build.
        hard_cases: counts of hard cases by cue.
    """

    corpus: Sequence[dict[str, Any]]
    unbalanced: Sequence[dict[str, Any]]
    partial_n: int
    review_n: int
    raw_counts: dict[str, int]
    excluded: Sequence[dict[str, Any]]
    dedup: dict[str, Any]
    audit: dict[str, Any]
    hand_labels: int
    skipped_licence: Sequence[str]
    missing: Sequence[str]
    adapters: Sequence[Adapter]
    build_seconds: float
    annotations_unmatched: int | None = None
    hard_cases: dict[str, Any] | None = None


def make_card(config: BuildConfig, stats: BuildStats) -> dict[str, Any]:
    """Assemble the data card dict (see docs/data.md for the meaning of every field)."""
    corpus, unbalanced, excluded = stats.corpus, stats.unbalanced, stats.excluded
    counts = _nested()
    for r in corpus:
        node = counts[r["source"]][str(r["label"])][r["split"]]
        node[r["label_origin"]] = node.get(r["label_origin"], 0) + 1
    models: dict[str, dict[str, Any]] = {}
    for r in corpus:
        m = models.setdefault(
            r["model"], {"family": r["family"], "records": 0, "refusals": 0, "sources": set()}
        )
        m["records"] += 1
        m["refusals"] += int(r["label"] == 1)
        m["sources"].add(r["source"])
    for m in models.values():
        m["sources"] = sorted(m["sources"])
    n = len(corpus)
    n1 = sum(1 for r in corpus if r["label"] == 1)
    u1 = sum(1 for r in unbalanced if r["label"] == 1)
    licences = {
        a.name: {"license": a.license, "license_class": a.license_class} for a in stats.adapters
    }
    by_source = Counter(r["source"] for r in corpus)
    by_source_label = Counter((r["source"], r["label"]) for r in corpus)
    sources = {
        name: {
            **licences[name],
            "raw_rows": stats.raw_counts.get(name, 0),
            "records": by_source.get(name, 0),
            "refusals": by_source_label.get((name, 1), 0),
            "normals": by_source_label.get((name, 0), 0),
        }
        for name in sorted(licences)
    }
    split_counts = Counter((r["split"], r["label"]) for r in corpus)
    card: dict[str, Any] = {
        "total_records": n,
        "class_ratio": {
            "refusal_share": round(n1 / n, 4) if n else None,
            "refusals": n1,
            "normals": n - n1,
            "target_refusal_ratio": config.refusal_ratio or None,
            "refusals_cut_to_ratio": config.cut_refusals,
            "before_balancing": {
                "records": len(unbalanced),
                "refusals": u1,
                "refusal_share": round(u1 / len(unbalanced), 4) if unbalanced else None,
            },
        },
        "n_sources": sum(1 for s in sources.values() if s["records"]),
        "sources": sources,
        "n_models": sum(1 for m in models if m != "unknown"),
        "models": _plain(models),
        "families": _plain(dict(Counter(r["family"] for r in corpus))),
        "family_refusals": _plain(dict(Counter(r["family"] for r in corpus if r["label"] == 1))),
        "splits": {
            s: {
                "records": split_counts[(s, 0)] + split_counts[(s, 1)],
                "refusals": split_counts[(s, 1)],
                "normals": split_counts[(s, 0)],
            }
            for s in ("train", "validation", "test")
        },
        "label_origins": _plain(dict(Counter(r["label_origin"] for r in corpus))),
        "counts": _plain(counts),
        "counts_help": "source -> label -> split -> label_origin -> records",
        "hard_cases": stats.hard_cases or {},
        "partial_records": stats.partial_n,
        "review_queue": stats.review_n,
        "hand_labels": stats.hand_labels,
        "annotations_unmatched": stats.annotations_unmatched,
        "dedup": stats.dedup,
        "excluded": _plain(dict(Counter(e["reason"] for e in excluded))),
        "audit": stats.audit,
        "licenses": _plain(dict(Counter(r["license"] for r in corpus))),
        "license_mode": config.license,
        "sources_dropped_by_license": list(stats.skipped_licence),
        "sources_missing": list(stats.missing),
        "known_limitations": [*KNOWN_LIMITATIONS, *_coverage_limitations(corpus)],
        "build": {
            "seconds": stats.build_seconds,
            "command": _command(config),
            "seed": config.seed,
            "holdout_family": config.holdout_family,
            "holdout_overlap": config.holdout_overlap,
            "max_source_share": config.max_source_share,
            "max_model_share": config.max_model_share,
        },
    }
    return card


def _coverage_limitations(corpus: Sequence[dict[str, Any]]) -> list[str]:
    """Families whose refusal styles the corpus barely covers (measured, not assumed)."""
    refusals = Counter(r["family"] for r in corpus if r["label"] == 1)
    families = sorted({r["family"] for r in corpus} - {"unknown"})
    thin = [f"{f} ({refusals.get(f, 0)})" for f in families if refusals.get(f, 0) < 50]
    out = []
    if thin:
        out.append(
            "Families with fewer than 50 refusals in this corpus (refusal styles barely covered): "
            + ", ".join(thin)
        )
    return out


def _command(config: BuildConfig) -> str:
    parts = ["refusal-detector data build --raw ../shared/data/raw --out build/corpus"]
    if config.license != "permissive":
        parts.append(f"--license {config.license}")
    if config.holdout_family:
        parts.append(f"--holdout-family {config.holdout_family}")
        if config.holdout_overlap != "drop":
            parts.append(f"--holdout-overlap {config.holdout_overlap}")
    if config.refusal_ratio != 0.1:
        parts.append(f"--refusal-ratio {config.refusal_ratio}")
    if config.cut_refusals:
        parts.append("--cut-refusals")
    if config.seed:
        parts.append(f"--seed {config.seed}")
    return " ".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(card: dict[str, Any]) -> str:
    """The data card as markdown (``templates/data_card.md``, filled; edit those, not the file)."""
    cr = card["class_ratio"]
    audit = card["audit"]
    values = {
        "command": card["build"]["command"],
        "seconds": card["build"]["seconds"],
        **{k: cr[k] for k in ("refusal_share", "refusals", "normals", "target_refusal_ratio")},
        **{
            k: card[k]
            for k in (
                "total_records",
                "n_sources",
                "n_models",
                "partial_records",
                "review_queue",
                "hand_labels",
                "license_mode",
            )
        },
        "ratio_rule": (
            "refusals cut to it"
            if cr.get("refusals_cut_to_ratio")
            else "a floor: normals are downsampled to it; refusals are not cut for it, only by "
            "the caps"
        ),
        "records_before": cr["before_balancing"]["records"],
        "refusal_share_before": cr["before_balancing"]["refusal_share"],
        "dropped_by_license": ", ".join(card["sources_dropped_by_license"]) or "none",
        "splits_table": _table(
            ["split", "records", "refusals", "normal"],
            [[s, v["records"], v["refusals"], v["normals"]] for s, v in card["splits"].items()],
        ),
        "sources_table": _table(
            ["source", "licence", "raw rows", "records", "refusals", "normal"],
            [
                [k, v["license"], v["raw_rows"], v["records"], v["refusals"], v["normals"]]
                for k, v in card["sources"].items()
            ],
        ),
        "counts_table": _counts_table(card["counts"]),
        "models_table": _table(
            ["model", "family", "records", "refusals", "sources"],
            [
                [k, v["family"], v["records"], v["refusals"], ", ".join(v["sources"])]
                for k, v in card["models"].items()
            ],
        ),
        "families_table": _table(
            ["family", "records", "refusals"],
            [
                [f, n, card["family_refusals"].get(f, 0)]
                for f, n in sorted(card["families"].items(), key=lambda kv: -kv[1])
            ],
        ),
        "dedup_table": _table(
            ["stat", "value"], [[k, v] for k, v in card["dedup"].items() if k != "params"]
        ),
        "dedup_params": json.dumps(card["dedup"]["params"]),
        "excluded_table": _table(["reason", "rows"], list(card["excluded"].items())),
        "hard_cases_table": _hard_cases_table(card["hard_cases"]),
        "audit_round": audit.get("round", 1),
        "audit_sample_size": audit["sample_size"],
        "audit_how": audit["how"],
        "audit_table": _audit_table(audit),
        "audit_error_rate": audit["overall_error_rate"],
        "audit_goal": audit["goal_max_error_rate"],
        "audit_rounds_table": _audit_rounds_table(audit),
        "label_origins_table": _table(
            ["label_origin", "records"], list(card["label_origins"].items())
        ),
        "licences_table": _table(["licence", "records"], list(card["licenses"].items())),
        "known_limitations": "\n".join(f"- {x}" for x in card["known_limitations"]),
    }
    return render_template("refusal_detector.data", "data_card.md", values)


def _counts_table(counts: dict[str, Any]) -> str:
    rows = []
    for source, by_label in counts.items():
        for label, by_split in by_label.items():
            for split, by_origin in by_split.items():
                for origin, n in by_origin.items():
                    rows.append([source, label, split, origin, n])
    return _table(["source", "label", "split", "label_origin", "records"], rows)


def _hard_cases_table(hard_cases: dict[str, Any]) -> str:
    return _table(
        ["kind", "cue", "rows"],
        [
            ["hard negative (0)", k, v]
            for k, v in hard_cases.get("hard_negatives_by_cue", {}).items()
        ]
        + [
            ["hard positive (1)", k, v]
            for k, v in hard_cases.get("hard_positives_by_cue", {}).items()
        ],
    )


def _audit_table(audit: dict[str, Any]) -> str:
    return _table(
        ["rule label", "audited", "binary verdicts", "errors", "error rate", "partial", "skip"],
        [
            [
                k,
                v["n"],
                v["n_binary_verdicts"],
                v["errors"],
                v["error_rate"],
                v["hand_partial"],
                v["hand_skip"],
            ]
            for k, v in audit["per_class"].items()
        ],
    )


def _audit_rounds_table(audit: dict[str, Any]) -> str:
    rows = []
    for r, rd in audit.get("rounds", {}).items():
        cur = rd["current_rules"]["per_class"]
        rows.append(
            [
                r,
                rd["sample_size"],
                rd["per_class"]["0"]["error_rate"],
                rd["per_class"]["1"]["error_rate"],
                cur["0"]["error_rate"],
                cur["1"]["error_rate"],
                rd["current_rules"]["now_review_or_partial"],
            ]
        )
    return _table(
        [
            "round",
            "sample",
            "error 0 (audited)",
            "error 1 (audited)",
            "error 0 (current rules)",
            "error 1 (current rules)",
            "now review/partial",
        ],
        rows,
    )


def write_card(card: dict[str, Any], json_path: Path, md_path: Path) -> None:
    """Write the card as JSON (sorted, stable) and markdown."""
    json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(card), encoding="utf-8")
