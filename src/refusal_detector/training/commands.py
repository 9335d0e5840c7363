"""`refusal-detector` subcommands of the training package (registered by refusal_detector.cli).

``evaluate``, ``export`` and ``card`` live here, ``train`` in
:mod:`refusal_detector.training.train_command` and ``calibrate`` in
:mod:`refusal_detector.training.calibrate_command`. Heavy dependencies (torch, transformers,
onnxruntime, matplotlib) are imported inside the handlers, so ``refusal-detector --help`` stays fast
and torch-free. Results go to stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from refusal_detector.cli_options import (
    add_command,
    add_data,
    add_model,
    add_out,
    add_path,
    add_quiet,
    add_threshold,
    model_parent,
    positive_int,
    probability,
    progress_enabled,
)
from refusal_detector.io.files import ProgressBar
from refusal_detector.training import calibrate_command, train_command
from refusal_detector.training.dataset import SLICE_FIELDS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands; each sets `handler=func` with func(args) -> int.

    Heavy dependencies are imported inside the handlers, so `refusal-detector --help` stays fast and
    torch-free.
    """
    train_command.register(subparsers)
    _register_evaluate(subparsers)
    calibrate_command.register(subparsers)
    _register_export(subparsers)
    _register_card(subparsers)


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "evaluate",
        parents=[model_parent()],
        help="score a labelled split; metrics per slice, phrase baselines, plots, report",
        description=(
            "Evaluate a model directory (through RefusalDetector, so the ONNX or torch backend "
            "that users get) on a labelled split, beside the phrase-list baselines. Prints the "
            "markdown report; with --out also writes report.md, report.json, predictions.jsonl "
            "and PNG plots."
        ),
    )
    add_data(parser, metavar="PATH", help="corpus directory (uses --split) or a .jsonl file")
    parser.add_argument(
        "--split", default="test", choices=("train", "validation", "test"), help="corpus split"
    )
    parser.add_argument(
        "--by",
        default="source,family",
        metavar="FIELDS",
        help="comma-separated slicing fields: source, family, model, license, origin (human "
        "vs rule labels)",
    )
    add_threshold(parser, auto=True)
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="N",
        help="truncate to N tokens (default: the model window)",
    )
    add_out(
        parser,
        required=False,
        metavar="REPORT_DIR",
        help="write report.md, report.json, predictions.jsonl and plots there "
        "(default: print the report only)",
    )
    parser.add_argument(
        "--first-window",
        action="store_true",
        help="score only the first max_length tokens (as trained) instead of all windows",
    )
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="no PNG plots")
    add_quiet(parser)
    parser.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from refusal_detector.detector import default_model_dir
    from refusal_detector.errors import ConfigError
    from refusal_detector.training.evaluate import evaluate_model
    from refusal_detector.training.report import render_markdown, write_report

    by = [part.strip() for part in args.by.split(",") if part.strip()]
    allowed = set(SLICE_FIELDS)
    if not set(by) <= allowed:
        raise ConfigError(f"--by takes {sorted(allowed)}; got {args.by!r}")
    with ProgressBar(enabled=progress_enabled(args), desc="scoring", unit="text") as bar:
        report, examples, scores = evaluate_model(
            args.model or default_model_dir(),
            args.data,
            split=args.split,
            backend=args.backend,
            by=by,
            threshold=args.threshold,
            batch_size=args.batch_size,
            max_length=args.max_length,
            first_window=args.first_window,
            progress=bar.update_to,
        )
    if args.out is not None:
        path = write_report(report, examples, scores, args.out, plots=args.plots)
        print(path.read_text(encoding="utf-8"))  # noqa: T201
    else:
        print(render_markdown(report))  # noqa: T201
    return 0


def _register_export(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "export",
        help="export to ONNX (fp32, checked against torch) plus a validated int8 variant",
        description=(
            "Write onnx/model.onnx (fp32; logits within --atol of torch) and "
            "onnx/model_quantized.onnx (int8 dynamic quantisation; must agree with fp32 on "
            ">= 99.5% of the validation labels and lose <= 0.3 F1 points, else the export "
            "fails). With --ship DIR, also write the shipping layout (fp16 safetensors + int8 "
            "onnx/model.onnx, <= 100 MB) to DIR."
        ),
    )
    add_model(parser, required=True, help="trained model directory (output of train)")
    add_data(
        parser,
        required=False,
        metavar="PATH",
        help="corpus directory (its validation split) or .jsonl for the int8 check",
    )
    parser.add_argument("--opset", type=positive_int, default=17, help="ONNX opset")
    parser.add_argument(
        "--atol", type=float, default=1e-4, help="allowed max |ONNX - torch| logit difference"
    )
    parser.add_argument(
        "--no-int8", dest="int8", action="store_false", help="write the fp32 export only"
    )
    parser.add_argument(
        "--per-channel",
        action="store_true",
        help="per-channel int8 weights (more accurate, slightly larger)",
    )
    parser.add_argument(
        "--min-agreement",
        type=probability,
        default=0.995,
        help="required share of validation labels on which int8 agrees with fp32",
    )
    parser.add_argument(
        "--max-f1-drop",
        type=probability,
        default=0.003,
        help="allowed F1 loss of int8 vs fp32 (0.003 = 0.3 points)",
    )
    parser.add_argument(
        "--max-validation-samples",
        type=positive_int,
        default=None,
        metavar="N",
        help="stratified sample of the validation rows for the int8 check (default: all)",
    )
    parser.add_argument(
        "--first-window",
        action="store_true",
        help="int8 check on the first max_length tokens of each text instead of all windows",
    )
    add_path(
        parser, "--ship", metavar="DIR", help="also write the <= 100 MB shipping layout to DIR"
    )
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from refusal_detector.training.export import export_model

    result = export_model(
        args.model,
        data=args.data,
        int8=args.int8,
        opset=args.opset,
        atol=args.atol,
        per_channel=args.per_channel,
        min_agreement=args.min_agreement,
        max_f1_drop=args.max_f1_drop,
        max_validation_samples=args.max_validation_samples,
        first_window=args.first_window,
        ship=args.ship,
    )
    print(json.dumps(result.to_json(), indent=2))  # noqa: T201
    return 0


def _register_card(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "card",
        help="write README.md (model card) into a model directory",
        description=(
            "Generate the model card from training_log.json, emissions.json, "
            "quantization_report.json, an evaluation report.json, the corpus datacard.json and "
            "optional leave-one-family-out results, in the original card's format."
        ),
    )
    add_model(parser, required=True, help="model directory to write README.md into")
    add_path(
        parser,
        "--eval",
        metavar="REPORT_DIR",
        help="evaluate --out directory (its report.json) for the results",
    )
    add_path(
        parser,
        "--datacard",
        metavar="PATH",
        help="corpus datacard.json (sources, licences, counts)",
    )
    parser.add_argument(
        "--lofo",
        type=Path,
        metavar="PATH",
        action="append",
        help="leave-one-family-out results (benchmarks/lofo.py output JSON); repeatable, one "
        "table each (e.g. the first round on five families, then every round on some)",
    )
    add_path(
        parser,
        "--external-gold",
        metavar="PATH",
        help="external gold set results (benchmarks/external_gold.py --json), the card's lead",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        metavar="TEXT",
        help="extra line for the card's Notes section (repeatable)",
    )
    add_path(
        parser,
        "--training-log",
        metavar="PATH",
        help="training_log.json if not in --model (e.g. the unshipped run dir)",
    )
    parser.set_defaults(handler=_card)


def _card(args: argparse.Namespace) -> int:
    from refusal_detector.training.card import CardInputs, write_card

    inputs = CardInputs.from_paths(
        model_dir=args.model,
        eval_dir=args.eval,
        datacard=args.datacard,
        lofo=args.lofo,
        external_gold=args.external_gold,
        training_log=args.training_log,
        notes=args.note,
    )
    path = write_card(inputs, args.model)
    print(str(path))  # noqa: T201
    return 0
