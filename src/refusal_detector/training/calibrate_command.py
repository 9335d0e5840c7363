"""`refusal-detector calibrate`: fold a fitted temperature and write a threshold for a target.

Registered by :mod:`refusal_detector.training.commands`; heavy imports happen inside the handler.
"""

from __future__ import annotations

import argparse
import json
import sys

from refusal_detector.cli_options import (
    add_command,
    add_data,
    add_quiet,
    model_parent,
    progress_enabled,
    share,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    parser = add_command(
        subparsers,
        "calibrate",
        parents=[model_parent(required=True, model_help="model directory (changed in place)")],
        help="fit a temperature on labelled data, fold it into the weights, choose a threshold",
        description=(
            "Fit a temperature T on labelled rows (NLL of P(REJECTION) = sigmoid(margin / T), "
            "read through the model as users get it) and fold it into the classifier head of "
            "model.safetensors and every onnx/*.onnx, so every consumer of the directory sees "
            "calibrated scores; then choose the threshold meeting --target-precision (most "
            "recall), --target-recall (highest threshold), --best-f1 or a given --threshold on "
            "the same rows. Both go into calibration.json; --threshold auto in classify, predict "
            "and evaluate uses the threshold. Prints the figures (ECE before and after, "
            "out-of-fold ECE of temperature and isotonic scaling) as JSON. The directory is "
            "modified in place: calibrate a copy to keep the original."
        ),
    )
    add_data(
        parser,
        metavar="PATH",
        help="corpus directory (uses --split) or a labelled .jsonl file",
    )
    parser.add_argument(
        "--split",
        default="validation",
        choices=("train", "validation", "test"),
        help="split of a corpus directory",
    )
    temperature = parser.add_mutually_exclusive_group()
    temperature.add_argument(
        "--temperature",
        dest="temperature",
        action="store_true",
        default=True,
        help="fit and fold a temperature (the default; refused if one is already folded)",
    )
    temperature.add_argument(
        "--no-temperature",
        dest="temperature",
        action="store_false",
        help="keep the weights; only choose a threshold",
    )
    parser.add_argument(
        "--temperature-if-better",
        dest="only_if_better",
        action="store_true",
        help="fold the fitted temperature only if its out-of-fold ECE on the rows is below the "
        "unscaled scores' ECE; otherwise keep the weights and report it as declined_temperature",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--target-precision",
        type=share,
        default=None,
        metavar="P",
        help="choose the threshold with the most recall at precision >= P",
    )
    target.add_argument(
        "--target-recall",
        type=share,
        default=None,
        metavar="R",
        help="choose the highest threshold with recall >= R",
    )
    target.add_argument(
        "--best-f1",
        action="store_true",
        help="choose the threshold with the highest F1 on the rows",
    )
    target.add_argument(
        "--threshold",
        dest="fixed_threshold",
        type=float,
        default=None,
        metavar="T",
        help="record this threshold (e.g. 0.5 for calibrated scores) with its figures on the rows",
    )
    add_quiet(parser)
    parser.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from refusal_detector.io.files import ProgressBar
    from refusal_detector.training.calibrate import calibrate_model

    options = {name: getattr(args, name) for name in _OPTIONS}
    with ProgressBar(enabled=progress_enabled(args), desc="scoring", unit="text") as bar:
        result = calibrate_model(args.model, args.data, progress=bar.update_to, **options)
    sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    return 0


_OPTIONS = (
    "split",
    "temperature",
    "only_if_better",
    "target_precision",
    "target_recall",
    "best_f1",
    "fixed_threshold",
    "backend",
    "batch_size",
)
"""The options passed to ``calibrate_model`` under their own names."""
