"""The ``refusal-detector train`` command: its options, its handler, and the way back.

The options' dests are :class:`~refusal_detector.training.config.TrainConfig`'s field names
(``out`` is ``output_dir``), so :func:`config_from_args` builds the config from them and
:func:`train_cli_args` (what ``TrainConfig.to_cli_args`` returns) writes a config back as the
flags that make it. Torch is imported only by the handler.
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
    add_out,
    add_quiet,
    positive_int,
    progress_enabled,
    to_argv,
)
from refusal_detector.training.config import TRAINING_ARGUMENT_FIELDS, TrainConfig

__all__ = ["add_train_arguments", "config_from_args", "register", "train_cli_args"]

# Short aliases users expect next to the TrainingArguments names.
_ALIASES = {
    "num_train_epochs": ["--epochs"],
    "per_device_train_batch_size": ["--batch-size"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` (handler: fine-tune, print the per-epoch table and a JSON summary)."""
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
        "--num-layers",
        type=positive_int,
        default=None,
        metavar="N",
        help="keep only the base model's bottom N transformer layers, for a faster model "
        "(default: all; a trained model directory as --base-model keeps its classifier head)",
    )
    parser.add_argument(
        "--teacher",
        default=None,
        metavar="DIR",
        help="trained classifier directory (same tokenizer) to distil from: the loss adds the KL "
        "divergence to its softened scores (default: labels only)",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=TrainConfig.distill_weight,
        metavar="W",
        help="the teacher's share of the loss, 0-1 (default: %(default)s)",
    )
    parser.add_argument(
        "--distill-temperature",
        type=float,
        default=TrainConfig.distill_temperature,
        metavar="T",
        help="temperature of the distillation term (default: %(default)s)",
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
