"""`refusal-detector` subcommands of the training package (registered by refusal_detector.cli).

``train``, ``evaluate``, ``export`` and ``card``. Heavy dependencies (torch, transformers,
onnxruntime, matplotlib) are imported inside the handlers, so ``refusal-detector --help`` stays fast
and torch-free. Results go to stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from typing import Any

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
    to_argv,
)
from refusal_detector.io.files import ProgressBar
from refusal_detector.training.config import TRAINING_ARGUMENT_FIELDS, TrainConfig
from refusal_detector.training.dataset import SLICE_FIELDS

__all__ = ["add_train_arguments", "config_from_args", "register", "train_cli_args"]

# Short aliases users expect next to the TrainingArguments names.
_ALIASES = {
    "num_train_epochs": ["--epochs"],
    "per_device_train_batch_size": ["--batch-size"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands; each sets `handler=func` with func(args) -> int.

    Heavy dependencies are imported inside the handlers, so `refusal-detector --help` stays fast and
    torch-free.
    """
    _register_train(subparsers)
    _register_evaluate(subparsers)
    _register_export(subparsers)
    _register_card(subparsers)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "train",
        help="fine-tune a refusal classifier with transformers' Trainer",
        description=(
            "Fine-tune a NORMAL/REJECTION classifier. Defaults are the original "
            "distilroberta-base-rejection-v1 card's hyperparameters; the default base model is "
            "the packaged all-MiniLM-L6-v2. Multi-GPU: accelerate launch --multi_gpu "
            '"$(which refusal-detector)" train ... or torchrun --nproc-per-node N '
            '"$(which refusal-detector)" train ... (see docs/training.md).'
        ),
    )
    add_train_arguments(parser)
    parser.set_defaults(handler=_train)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``train``; their dests are TrainConfig's field names (``out``: output_dir)."""
    add_data(parser)
    add_out(parser, help="model directory to write (checkpoints go to DIR/checkpoints)")
    parser.add_argument(
        "--base-model",
        default=None,
        metavar="PATH_OR_NAME",
        help="local model directory or Hub name such as distilroberta-base "
        "(default: the packaged all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="N",
        help="tokens per training example (default: the base tokenizer's limit, at most 512)",
    )
    parser.add_argument(
        "--max-train-samples",
        type=positive_int,
        default=None,
        metavar="N",
        help="stratified sample of the training rows (default: all)",
    )
    parser.add_argument(
        "--max-per-source",
        type=positive_int,
        default=None,
        metavar="N",
        help="cap on training rows from any one source, applied first (default: none)",
    )
    parser.add_argument(
        "--refusal-share",
        type=float,
        default=None,
        metavar="F",
        help="share of refusals in the training sample, each label water-filled over the "
        "strata on its own (default: the corpus' share after the stratum caps)",
    )
    parser.add_argument(
        "--sample-by",
        type=lambda value: tuple(part.strip() for part in value.split(",") if part.strip()),
        default=("source", "family", "label"),
        metavar="FIELDS",
        help="sampling strata, comma-separated Example fields (default: source,family,label; "
        "source,label water-fills over source x label)",
    )
    parser.add_argument(
        "--max-eval-samples",
        type=positive_int,
        default=None,
        metavar="N",
        help="stratified sample of the validation rows for the per-epoch evaluation (default: all)",
    )
    parser.add_argument(
        "--include-capped",
        action="store_true",
        help="also sample training rows from balanced_out.jsonl (rows the corpus caps set "
        "aside; train split only)",
    )
    parser.add_argument(
        "--mid-windows",
        type=float,
        default=0.0,
        metavar="F",
        help="extra NORMAL examples cut from later windows of long normal responses, as a "
        "fraction of the training sample (0 turns it off)",
    )
    parser.add_argument(
        "--permissive-only",
        action="store_true",
        help="train only on permissively licensed rows (MIT, Apache, BSD, CC0, CC-BY)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint under --out"
    )
    parser.add_argument(
        "--country",
        dest="country_iso_code",
        default="USA",
        metavar="ISO3",
        help="country of the energy mix for the CO2 estimate (codecarbon, offline)",
    )
    parser.add_argument(
        "--no-emissions",
        dest="track_emissions",
        action="store_false",
        help="do not measure energy with codecarbon",
    )
    add_quiet(parser, help="no progress output")
    hyper = parser.add_argument_group(
        "TrainingArguments (same names as transformers.TrainingArguments)"
    )
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    for name in TRAINING_ARGUMENT_FIELDS:
        default = defaults[name]
        flag = "--" + name.replace("_", "-")
        words = name.replace("_", " ")
        if isinstance(default, bool):
            hyper.add_argument(flag, dest=name, action="store_true", help=f"turn on {words}")
            continue
        kind: Any = type(default) if default is not None else int
        metavar = {int: "N", float: "X"}.get(kind, "NAME")
        hyper.add_argument(
            flag,
            *_ALIASES.get(name, []),
            dest=name,
            type=kind,
            default=default,
            metavar=metavar,
            help=words,
        )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that ``train``'s parsed arguments describe."""
    names = {f.name for f in fields(TrainConfig)} - {"data", "output_dir", "disable_tqdm", "extra"}
    return TrainConfig(
        data=args.data,
        output_dir=args.out,
        disable_tqdm=None if progress_enabled(args) else True,
        **{name: getattr(args, name) for name in names},
    )


def train_cli_args(config: TrainConfig) -> list[str]:
    """``train`` arguments that reproduce ``config``: see :meth:`TrainConfig.to_cli_args`."""
    from refusal_detector.errors import ConfigError

    if config.extra:
        raise ConfigError(
            f"extra TrainingArguments {sorted(config.extra)} have no train flags; "
            "they cannot be written as a command"
        )
    parser = argparse.ArgumentParser(add_help=False)
    add_train_arguments(parser)
    values = {f.name: getattr(config, f.name) for f in fields(TrainConfig)}
    values["out"] = values.pop("output_dir")
    try:
        return to_argv(parser, values)
    except ValueError as exc:
        raise ConfigError(f"this config cannot be written as train flags: {exc}") from exc


def _train(args: argparse.Namespace) -> int:
    from refusal_detector.training.train import format_epoch_table, train

    config = config_from_args(args)
    progress = None if args.quiet or sys.stderr.isatty() else _stderr_line
    result = train(config, progress=progress)
    print(format_epoch_table(result.epochs))  # noqa: T201
    summary: dict[str, Any] = {
        "model_dir": str(result.output_dir),
        "best_checkpoint": result.best_checkpoint,
        "best_validation_f1": result.best_f1,
        "train_examples": result.train_examples,
        "eval_examples": result.eval_examples,
        "emissions_kg": result.emissions_kg,
    }
    print(json.dumps(summary))  # noqa: T201
    return 0


def _stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # noqa: T201


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
    add_threshold(parser)
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
    add_path(
        parser,
        "--lofo",
        metavar="PATH",
        help="leave-one-family-out results (benchmarks/lofo.py output JSON)",
    )
    parser.add_argument(
        "--external-gold",
        type=Path,
        default=None,
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
