"""The ``refusal-detector`` command line: classify, predict, info (plus data and training commands).

Every subcommand sets ``handler=func`` with ``func(args) -> int``. Heavy imports happen inside the
handlers, so ``refusal-detector --help`` never imports torch. User errors print ``error: ...`` to
stderr and exit 2; ``predict`` exits 1 when some rows could not be classified.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from refusal_detector.errors import ConfigError, RefusalDetectorError

if TYPE_CHECKING:
    from refusal_detector.detector import RefusalDetector

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ROW_ERRORS = 1
EXIT_USAGE = 2

_VERSIONED = ("refusal-detector", "numpy", "tokenizers", "onnxruntime", "torch", "transformers")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def _probability(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {number}")
    return number


def _model_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("model")
    group.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="DIR",
        help="model directory (default: the shipped model)",
    )
    group.add_argument(
        "--backend",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="inference backend; auto = onnx if the model has onnx/model.onnx (default: auto)",
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        metavar="N",
        help="texts per model call (default: 32)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, including the data and training subcommands."""
    parser = argparse.ArgumentParser(
        prog="refusal-detector",
        description="Classify LLM outputs as refusals (REJECTION) or normal answers (NORMAL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model = _model_options()

    classify = sub.add_parser(
        "classify",
        parents=[model],
        help="classify texts given as arguments or one per line on stdin",
        description="Print one JSON line per text: {label, score}, score = P(REJECTION).",
    )
    classify.add_argument("texts", nargs="*", metavar="TEXT", help="texts (default: stdin lines)")
    classify.add_argument(
        "--threshold",
        type=_probability,
        default=0.5,
        help="REJECTION when P(REJECTION) >= threshold (default: 0.5)",
    )
    classify.set_defaults(handler=_classify)

    predict = sub.add_parser(
        "predict",
        parents=[model],
        help="classify a JSONL, CSV or Parquet file",
        description=(
            "Stream INPUT in chunks and write OUTPUT (format by extension: .jsonl, .csv, "
            ".parquet) with every input field plus label and score = P(REJECTION). Rows whose text "
            "is missing or not a string get an error field instead; the exit code is then 1."
        ),
    )
    predict.add_argument("--input", "-i", type=Path, required=True, metavar="IN")
    predict.add_argument("--output", "-o", type=Path, required=True, metavar="OUT")
    predict.add_argument(
        "--text-field", default="text", help="column holding the text (default: text)"
    )
    predict.add_argument("--threshold", type=_probability, default=0.5, help="(default: 0.5)")
    predict.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=1024,
        metavar="ROWS",
        help="rows per checkpointed chunk (default: 1024)",
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
    predict.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    predict.set_defaults(handler=_predict)

    info = sub.add_parser(
        "info", parents=[model], help="print the model directory, backend, labels and versions"
    )
    info.set_defaults(handler=_info)

    from refusal_detector.data import commands as data_commands
    from refusal_detector.training import commands as training_commands

    data_commands.register(sub)
    training_commands.register(sub)
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
    except (RefusalDetectorError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # noqa: T201
        return 130


def _load(args: argparse.Namespace) -> RefusalDetector:
    from refusal_detector.detector import RefusalDetector

    return RefusalDetector.from_pretrained(
        args.model, backend=args.backend, batch_size=args.batch_size
    )


def _classify(args: argparse.Namespace) -> int:
    texts: list[str] = list(args.texts)
    if not texts:
        if sys.stdin.isatty():
            raise ConfigError("give texts as arguments or one per line on stdin")
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    detector = _load(args)
    scores = detector.predict_proba(texts)
    for score in scores:
        label = detector.id2label[1] if score >= args.threshold else detector.id2label[0]
        sys.stdout.write(json.dumps({"label": label, "score": round(float(score), 6)}) + "\n")
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from refusal_detector.io import predict_file

    detector = _load(args)
    summary = predict_file(
        detector,
        args.input,
        args.output,
        text_field=args.text_field,
        threshold=args.threshold,
        chunk_rows=args.chunk_size,
        field_prefix=args.prefix,
        resume=args.resume,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    print(summary.describe(), file=sys.stderr)  # noqa: T201
    return EXIT_ROW_ERRORS if summary.errors else EXIT_OK


def _info(args: argparse.Namespace) -> int:
    detector = _load(args)
    report = {
        "model_dir": str(detector.model_dir),
        "backend": detector.backend_name,
        "labels": {str(k): v for k, v in detector.id2label.items()},
        "max_length": detector.max_length,
        "input_names": list(detector.backend.input_names),
        "versions": {name: _version(name) for name in _VERSIONED},
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


def _version(distribution: str = "refusal-detector") -> str | None:
    # importlib.metadata reads versions without importing the packages, so torch stays out.
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
