"""`refusal-detector data ...` subcommands (registered by refusal_detector.cli).

- ``data build``: build the labelled corpus from the raw sources.
- ``data audit-sample``: draw a random, class-stratified sample of rule-labelled rows to hand-check.
"""

from __future__ import annotations

import argparse
import sys

from refusal_detector.cli_options import (
    add_command,
    add_data,
    add_out,
    add_path,
    add_quiet,
    positive_int,
    progress_enabled,
    ratio,
    share,
)

__all__ = [
    "add_audit_arguments",
    "add_build_arguments",
    "add_gold_draw_arguments",
    "add_raw",
    "register",
    "run_audit_sample",
    "run_build",
    "run_gold_draw",
]


def add_raw(parser: argparse.ArgumentParser) -> None:
    """``--raw DIR``: the raw data folder (shared/data/raw), read only."""
    add_path(parser, "--raw", required=True, help="raw data folder (shared/data/raw); read only")


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``data build``."""
    add_raw(parser)
    add_out(
        parser,
        help="output folder for train/validation/test.jsonl, partial, review "
        "queue, excluded rows and datacard.json",
    )
    parser.add_argument(
        "--license",
        choices=("permissive", "all"),
        default="permissive",
        help="permissive drops the NC sources",
    )
    parser.add_argument(
        "--holdout-family",
        default=None,
        metavar="F",
        help="leave-one-family-out: family F only in test (e.g. llama-2)",
    )
    parser.add_argument(
        "--holdout-overlap",
        choices=("drop", "keep"),
        default="drop",
        help="with --holdout-family: drop other families' answers to held-out prompts (drop, "
        "strict) or only near-duplicates of held-out rows (keep)",
    )
    parser.add_argument(
        "--refusal-ratio",
        type=ratio,
        default=0.1,
        metavar="R",
        help="share of refusals among binary rows, reached by downsampling normal rows; "
        "0 keeps the natural mix",
    )
    parser.add_argument(
        "--cut-refusals",
        action="store_true",
        help="also drop refusals when they exceed --refusal-ratio (without it every refusal "
        "is kept)",
    )
    parser.add_argument(
        "--max-source-share",
        type=share,
        default=0.3,
        metavar="S",
        help="cap of one source's share of a class",
    )
    parser.add_argument(
        "--max-model-share",
        type=share,
        default=0.2,
        metavar="S",
        help="cap of one model's share of a class",
    )
    add_path(
        parser,
        "--annotations",
        help="folder with hand_labels.jsonl and audit.jsonl (default: the package's "
        "data/annotations)",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="NAME",
        help="only this source (repeatable)",
    )
    add_path(
        parser, "--card-dir", help="also write data_card.md and data_card.json there (e.g. docs)"
    )
    parser.add_argument("--seed", type=int, default=0, help="split/balance seed")
    add_quiet(parser, help="no progress bars")


def run_build(args: argparse.Namespace) -> int:
    """Handler of ``data build``: prints a one-line JSON summary to stdout."""
    import json

    from refusal_detector.data.annotations_io import DEFAULT_ANNOTATIONS
    from refusal_detector.data.build import build_corpus
    from refusal_detector.data.config import BuildConfig

    config = BuildConfig(
        raw=args.raw,
        out=args.out,
        license=args.license,
        holdout_family=args.holdout_family,
        holdout_overlap=args.holdout_overlap,
        refusal_ratio=args.refusal_ratio,
        cut_refusals=args.cut_refusals,
        max_source_share=args.max_source_share,
        max_model_share=args.max_model_share,
        seed=args.seed,
        annotations=args.annotations or DEFAULT_ANNOTATIONS,
        sources=tuple(args.source) if args.source else None,
        card_dir=args.card_dir,
        progress=progress_enabled(args),
    )
    card = build_corpus(config)
    summary = {k: card[k] for k in ("total_records", "class_ratio", "n_sources", "n_models")}
    summary["out"] = str(args.out)
    summary["build_seconds"] = card["build"]["seconds"]
    print(json.dumps(summary))  # noqa: T201
    return 0


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``data audit-sample``."""
    add_data(parser, help="a built corpus folder (output of data build)")
    parser.add_argument("--n", type=positive_int, default=400, help="sample size")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    add_out(
        parser,
        metavar="FILE",
        help="jsonl to write: id, text, prompt, source, model, rule_label, ...",
    )


def run_audit_sample(args: argparse.Namespace) -> int:
    """Handler of ``data audit-sample``."""
    from refusal_detector.data.audit import draw_audit_sample

    n = draw_audit_sample(args.data, n=args.n, seed=args.seed, out=args.out)
    print(f"wrote {n} rows to {args.out}", file=sys.stderr)  # noqa: T201
    return 0


def add_gold_draw_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``data gold-draw`` (here, so that building the parser imports no adapters)."""
    from refusal_detector.data.annotations_io import DEFAULT_ANNOTATIONS

    add_raw(parser)
    add_out(parser, help="folder for the blind files (e.g. /work/gold)")
    add_path(
        parser,
        "--annotations",
        default=DEFAULT_ANNOTATIONS,
        help="where the groups and design files go",
    )
    parser.add_argument("--fraction", type=ratio, default=0.3, help="held-out share of groups")
    parser.add_argument("--review-n", type=positive_int, default=600, help="review rows")
    parser.add_argument("--seed", type=int, default=0, help="draw seed")


def run_gold_draw(args: argparse.Namespace) -> int:
    """Handler of ``data gold-draw``: the adapters and labelling functions load only now."""
    from refusal_detector.data import gold_draw

    return gold_draw.run(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group; each subcommand sets ``handler=func`` (func(args) -> int)."""
    data = add_command(subparsers, "data", help="build and audit the labelled training corpus")
    sub = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    build = add_command(sub, "build", help="build the labelled corpus from the raw sources")
    add_build_arguments(build)
    build.set_defaults(handler=run_build)
    audit = add_command(
        sub, "audit-sample", help="draw a class-stratified random sample of rule-labelled rows"
    )
    add_audit_arguments(audit)
    audit.set_defaults(handler=run_audit_sample)
    draw = add_command(
        sub, "gold-draw", help="hold out gold groups; write blind gold and review files for readers"
    )
    add_gold_draw_arguments(draw)
    draw.set_defaults(handler=run_gold_draw)
    from refusal_detector.data import gold_merge

    merge = add_command(
        sub,
        "gold-merge",
        help="merge readers' labels into external_gold.jsonl and hand_labels.jsonl",
    )
    gold_merge.add_arguments(merge)
    merge.set_defaults(handler=gold_merge.run)
