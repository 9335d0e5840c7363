"""The ``report`` command: refusal rates per group of an eval run, as HTML (and JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from refusal_detector.cli_options import (
    add_command,
    add_out,
    add_quiet,
    add_reasoning,
    add_threshold,
    model_parent,
    progress_enabled,
)
from refusal_detector.errors import ConfigError

if TYPE_CHECKING:
    from refusal_detector.report.build import Report

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``refusal-detector`` subcommands."""
    report = add_command(
        subparsers,
        "report",
        parents=[model_parent()],
        help="refusal rates per model/category of an eval run, with intervals, examples, plots",
        description=(
            "Read a predict output (label and score columns) or a raw file (scored first) and "
            "write a self-contained HTML page: per group n, refusal rate with a Wilson 95%% "
            "interval, partial-refusal rate (three-way verdict), mean score, the ten highest- and "
            "lowest-scoring examples with their refusal sentences highlighted, and plots."
        ),
    )
    report.add_argument(
        "--input", "-i", type=Path, required=True, metavar="IN", help="scored or raw file"
    )
    report.add_argument(
        "--group-by",
        required=True,
        metavar="COLS",
        help="comma-separated columns, e.g. model or model,category (the first two: heatmap)",
    )
    add_out(report, metavar="HTML", help="the HTML page to write")
    report.add_argument(
        "--json",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="also write the numbers as JSON (default path: the HTML's with .json)",
    )
    report.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="OTHER",
        help="another run with the same groups: change in refusal rate per group, with a test",
    )
    report.add_argument("--text-field", default="text", help="column holding the text")
    report.add_argument(
        "--prefix", default="", help="prefix of a scored file's label/score/error columns"
    )
    add_threshold(report, auto=True)
    add_reasoning(report)
    add_quiet(report)
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from refusal_detector.detector import RefusalDetector
    from refusal_detector.io.files import atomic_write_text
    from refusal_detector.report import build_report, render_html

    group_by = [c.strip() for c in args.group_by.split(",") if c.strip()]
    if not group_by:
        raise ConfigError("--group-by needs at least one column name")
    detector = RefusalDetector.from_pretrained(
        args.model, backend=args.backend, batch_size=args.batch_size, reasoning=args.reasoning
    )
    report = build_report(
        args.input,
        group_by,
        detector=detector,
        text_field=args.text_field,
        threshold=detector.resolve_threshold(args.threshold),
        prefix=args.prefix,
        compare=args.compare,
        progress=progress_enabled(args),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, render_html(report))
    written = [str(args.out)]
    if args.json is not None:
        path = args.out.with_suffix(".json") if args.json is True else Path(args.json)
        atomic_write_text(path, json.dumps(report.to_json(), indent=1) + "\n")
        written.append(str(path))
    _print_table(report)
    print(f"report: {report.overall.n} rows -> {', '.join(written)}", file=sys.stderr)  # noqa: T201
    return 0


def _print_table(report: Report) -> None:
    columns = [*report.group_by, "n", "refusal rate [95% CI]", "partial", "mean score"]
    if report.compare_input:
        columns += ["change", "test", "p"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for g in [*report.groups, report.overall]:
        key = g.key if g is not report.overall else ("all",) * len(report.group_by)
        lo, hi = g.refusal_ci
        cells = [*key, str(g.n), f"{g.refusal_rate:.1%} [{lo:.1%}, {hi:.1%}]"]
        cells += [f"{g.partial_rate:.1%}", f"{g.mean_score:.3f}"]
        if report.compare_input and g.comparison is not None:
            c = g.comparison
            cells += [f"{100 * c.difference:+.1f} pts", c.test, f"{c.p_value:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    sys.stdout.write("\n".join(lines) + "\n")
