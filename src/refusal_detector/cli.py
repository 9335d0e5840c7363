"""The ``refusal-detector`` command line: ``main(argv) -> int``.

Layout. The commands are flat on purpose: every model command (``classify``, ``predict``,
``info``, ``train``, ``evaluate``, ``export``, ``card``, and the ones later packages add, such as
``calibrate``) takes one model directory through the same ``--model DIR`` and reads as a verb on
it, the way the original card's users already type them (``refusal-detector train``, ``...
export``). Only ``data`` is a group, because its commands act on a corpus and never on a model.

Where things live. Options and value types shared by several commands, and the one help style,
are in :mod:`refusal_detector.cli_options`; each package registers its own commands from a
``commands.py`` module listed in ``COMMAND_MODULES`` (a new package adds one line there). This
module holds ``classify``, ``predict`` and ``info``.

Every subcommand sets ``handler=func`` with ``func(args) -> int``. Heavy imports happen inside the
handlers, so ``refusal-detector --help`` never imports torch. User errors print ``error: ...`` to
stderr and exit 2; ``predict`` exits 1 when some rows could not be classified.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refusal_detector import __version__
from refusal_detector.cli_options import (
    HelpFormatter,
    add_command,
    add_max_chars,
    add_out,
    add_quiet,
    add_reasoning,
    add_threshold,
    model_parent,
    positive_int,
    progress_enabled,
)
from refusal_detector.errors import ConfigError, RefusalDetectorError

if TYPE_CHECKING:
    from refusal_detector.detector import RefusalDetector
    from refusal_detector.io import PredictSummary

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

EXIT_OK = 0
EXIT_ROW_ERRORS = 1
EXIT_USAGE = 2

_VERSIONED = ("refusal-detector", "numpy", "tokenizers", "onnxruntime", "torch", "transformers")

COMMAND_MODULES = (
    "refusal_detector.data.commands",
    "refusal_detector.training.commands",
    "refusal_detector.serve.commands",
    "refusal_detector.report.commands",
)
"""Modules whose ``register(subparsers)`` adds their commands, in --help order."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, including the data and training subcommands."""
    parser = argparse.ArgumentParser(
        prog="refusal-detector",
        description="Classify LLM outputs as refusals (REJECTION) or normal answers (NORMAL).",
        formatter_class=HelpFormatter,
    )
    # The package's own __version__: importlib.metadata costs more than the rest of the parser.
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model = model_parent()

    classify = add_command(
        sub,
        "classify",
        parents=[model],
        help="classify texts given as arguments or one per line on stdin",
        description=(
            "Print one JSON line per text: {label, score}, score = P(REJECTION), plus a warning "
            "when the text was changed before scoring (unencodable characters, --max-chars)."
        ),
    )
    classify.add_argument("texts", nargs="*", metavar="TEXT", help="texts (default: stdin lines)")
    add_threshold(classify, auto=True)
    add_max_chars(classify)
    add_reasoning(classify)
    classify.set_defaults(handler=_classify)

    predict = add_command(
        sub,
        "predict",
        parents=[model],
        help="classify a JSONL, CSV or Parquet file",
        description=(
            "Stream IN in chunks and write OUT (format by extension: .jsonl, .csv, "
            ".parquet) with every input field plus label and score = P(REJECTION). Rows whose text "
            "is missing or not a string get an error field instead; the exit code is then 1."
        ),
    )
    predict.add_argument(
        "--input",
        "-i",
        type=Path,
        required=True,
        metavar="IN",
        help="input file (.jsonl/.ndjson, .csv or .parquet); with --engine ray also a glob, "
        "directory or URI",
    )
    add_out(
        predict,
        metavar="OUT",
        help="output file (.jsonl, .csv or .parquet); with --engine ray a directory",
    )
    predict.add_argument("--text-field", default="text", help="column holding the text")
    add_threshold(predict, auto=True)
    add_max_chars(predict)
    add_reasoning(predict)
    predict.add_argument(
        "--chunk-size",
        type=positive_int,
        default=1024,
        metavar="ROWS",
        help="rows per checkpointed chunk",
    )
    predict.add_argument(
        "--prefix",
        default="",
        help="prefix for the added label/score/error fields, e.g. pred_ when the input has a label",
    )
    predict.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run with the same arguments instead of starting over",
    )
    add_quiet(predict)
    scale = predict.add_argument_group(
        "Ray Data engine (--engine ray; pip install 'refusal-detector[ray]')",
        "IN may be a glob or directory and OUT is a directory of Parquet or JSONL files.",
    )
    engines = "local: this process, resumable; ray: an actor pool on a Ray cluster"
    _add_choice(scale, "--engine", ("local", "ray"), help=engines)
    workers = "detector actors, one CPU each"
    scale.add_argument("--num-workers", type=positive_int, default=1, metavar="N", help=workers)
    scale.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: $RAY_ADDRESS, "
        "else a local Ray on this machine)",
    )
    _add_choice(scale, "--format", ("parquet", "jsonl"), help="output file format")
    scale.add_argument(
        "--overwrite", action="store_true", help="empty a non-empty output directory first"
    )
    predict.set_defaults(handler=_predict)

    info = add_command(
        sub, "info", parents=[model], help="print the model directory, backend, labels and versions"
    )
    add_reasoning(info)
    info.set_defaults(handler=_info)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except (RefusalDetectorError, OSError) as exc:  # OSError: missing, unreadable or full disk
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201
        return 130


def _add_choice(
    group: argparse._ArgumentGroup, flag: str, choices: tuple[str, ...], *, help: str
) -> None:
    """An option taking one of ``choices``, the first being the default."""
    group.add_argument(flag, choices=choices, default=choices[0], help=help)


def _load(args: argparse.Namespace) -> RefusalDetector:
    from refusal_detector.detector import RefusalDetector

    # info has no --max-chars: it scores nothing, and the detector's default applies.
    options = {"max_chars": args.max_chars} if "max_chars" in args else {}
    return RefusalDetector.from_pretrained(
        args.model,
        backend=args.backend,
        batch_size=args.batch_size,
        reasoning=args.reasoning,
        **options,
    )


def _classify(args: argparse.Namespace) -> int:
    texts: list[str] = list(args.texts)
    if not texts:
        if sys.stdin.isatty():
            raise ConfigError("give texts as arguments or one per line on stdin")
        texts = _stdin_lines()
    detector = _load(args)
    threshold = detector.resolve_threshold(args.threshold)
    prepared = detector.prepare_texts(texts)
    scores = detector.predict_proba([p.text for p in prepared])
    for item, score in zip(prepared, scores, strict=True):
        label = detector.id2label[1] if score >= threshold else detector.id2label[0]
        result: dict[str, object] = {"label": label, "score": round(float(score), 6)}
        if item.warning is not None:
            result["warning"] = item.warning
        sys.stdout.write(json.dumps(result) + "\n")
    return EXIT_OK


def _stdin_lines() -> list[str]:
    # Bytes, decoded with surrogateescape like argv, so invalid UTF-8 reaches the text policy
    # (U+FFFD and a warning) instead of failing the whole read with UnicodeDecodeError.
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes underneath (tests, embedded interpreters)
        return [line.rstrip("\r\n") for line in sys.stdin]
    raw = stream.read().decode("utf-8", errors="surrogateescape")
    lines = re.split(r"\r\n|\r|\n", raw)  # universal newlines, as text-mode stdin splits
    return lines[:-1] if lines[-1] == "" else lines


def _predict(args: argparse.Namespace) -> int:
    # The options both engines take, under predict_file's names.
    shared: dict[str, Any] = {
        "text_field": args.text_field,
        "threshold": args.threshold,
        "chunk_rows": args.chunk_size,
        "field_prefix": args.prefix,
        "progress": progress_enabled(args),
    }
    if args.engine == "ray":
        summary = _predict_ray(args, shared)
    else:
        from refusal_detector.io import predict_file

        detector = _load(args)
        shared["threshold"] = detector.resolve_threshold(args.threshold)
        summary = predict_file(detector, args.input, args.out, resume=args.resume, **shared)
    print(summary.describe(), file=sys.stderr)  # noqa: T201
    return EXIT_ROW_ERRORS if summary.errors else EXIT_OK


def _predict_ray(args: argparse.Namespace, shared: dict[str, Any]) -> PredictSummary:
    if args.resume:
        raise ConfigError("--resume is for the local engine; with --engine ray use --overwrite")
    if args.backend == "torch":
        raise ConfigError("--engine ray runs the ONNX model; drop --backend torch")
    from refusal_detector.scale import connect, predict_ray

    if isinstance(shared["threshold"], str):  # "auto": the model's calibrated threshold
        shared["threshold"] = _load(args).resolve_threshold(shared["threshold"])
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    connect(address)
    ray_only = {"fmt": args.format, "num_workers": args.num_workers, "overwrite": args.overwrite}
    model = {
        "model": args.model,
        "batch_size": args.batch_size,
        "max_chars": args.max_chars,
        "reasoning": args.reasoning,
    }
    return predict_ray(
        str(args.input), args.out, strict_cpus=address is None, **model, **ray_only, **shared
    )


def _info(args: argparse.Namespace) -> int:
    detector = _load(args)
    report = {
        "model_dir": str(detector.model_dir),
        "backend": detector.backend_name,
        "labels": {str(k): v for k, v in detector.id2label.items()},
        "max_length": detector.max_length,
        "input_names": list(detector.backend.input_names),
        "reasoning": detector.reasoning,
        "calibration": detector.calibration.to_json(),
        "versions": {name: _version(name) for name in _VERSIONED},
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


def _version(distribution: str = "refusal-detector") -> str | None:
    # importlib.metadata reads versions without importing the packages, so torch stays out.
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
