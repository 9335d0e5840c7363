"""The command line's shared vocabulary: one help style, value types and the common options.

Every ``refusal-detector`` subcommand is created with :func:`add_command` (so all of them print help
the same way) and takes its common options from here, so that a flag means one thing everywhere:

- ``--model DIR`` a model directory; with ``--backend`` and ``--batch-size`` from
  :func:`model_parent` for the commands that run a model;
- ``--data PATH`` a corpus directory (or one ``.jsonl`` split); ``--corpus`` is its alias;
- ``--out PATH`` where results go; ``--output``/``-o`` are its aliases;
- ``--quiet``/``-q`` no progress bar; :func:`progress_enabled` also turns bars off when stderr is
  not a terminal;
- ``--max-chars N`` for the commands that score texts: the text policy's cut (0: no limit).

Value types (:func:`positive_int`, :func:`probability`, :func:`ratio`, :func:`share`) reject bad
values while parsing, so the error names the flag. Nothing here imports more than argparse.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from refusal_detector.backends import BACKEND_KINDS
from refusal_detector.reasoning import REASONING_MODES

__all__ = [
    "HelpFormatter",
    "add_command",
    "add_data",
    "add_max_chars",
    "add_model",
    "add_out",
    "add_path",
    "add_quiet",
    "add_reasoning",
    "add_threshold",
    "max_chars",
    "model_parent",
    "positive_int",
    "probability",
    "progress_enabled",
    "ratio",
    "share",
    "threshold_or_auto",
    "to_argv",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """One help style: ``(default: X)`` is added once, by the formatter, where there is a value.

    Help text never states a literal default itself; it may describe what a missing value means
    ("default: the shipped model"), and then the formatter adds nothing.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or action.default in (None, False, "", [], argparse.SUPPRESS)
            or isinstance(action, argparse._StoreConstAction)
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str | None = None,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the shared help style; ``description`` defaults to ``help``."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        parents=list(parents),
        formatter_class=HelpFormatter,
    )


def _number(value: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {name}, got {value!r}") from None


def positive_int(value: str) -> int:
    """An integer >= 1."""
    number: int = _number(value, int)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def probability(value: str) -> float:
    """A number in [0, 1]."""
    number: float = _number(value, float)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {number}")
    return number


def ratio(value: str) -> float:
    """A number in [0, 1): a share of rows where 1 would leave no room for the other class."""
    number: float = _number(value, float)
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {number}")
    return number


def share(value: str) -> float:
    """A number in (0, 1]: a cap on a share, where 0 would keep nothing."""
    number: float = _number(value, float)
    if not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {number}")
    return number


def add_path(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *flags: str,
    help: str,
    required: bool = False,
    default: Path | None = None,
    metavar: str = "DIR",
) -> None:
    """A path option (``type=Path``); its dest is the first flag's name."""
    parser.add_argument(
        *flags,
        dest=flags[0].lstrip("-").replace("-", "_"),
        type=Path,
        required=required,
        default=default,
        metavar=metavar,
        help=help,
    )


def add_model(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    required: bool = False,
    help: str = "model directory (default: the shipped model)",
) -> None:
    """``--model DIR``: a model directory (None when optional and not given: the shipped model)."""
    add_path(parser, "--model", required=required, help=help)


def model_parent(
    *, required: bool = False, model_help: str = "model directory (default: the shipped model)"
) -> argparse.ArgumentParser:
    """Parent parser of the commands that run a model: --model, --backend and --batch-size."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("model")
    add_model(group, required=required, help=model_help)
    group.add_argument(
        "--backend",
        choices=BACKEND_KINDS,
        default="auto",
        help="inference backend; auto = onnx if the model has onnx/model.onnx",
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        metavar="N",
        help="texts per model call",
    )
    return parent


def max_chars(value: str) -> int | None:
    """An integer >= 0; 0 means no limit (None)."""
    number: int = _number(value, int)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0: no limit), got {number}")
    return number or None


def add_max_chars(parser: argparse.ArgumentParser) -> None:
    """``--max-chars N``: characters of a text that are scored (the text policy's cut)."""
    from refusal_detector.text_input import DEFAULT_MAX_CHARS

    parser.add_argument(
        "--max-chars",
        type=max_chars,
        default=DEFAULT_MAX_CHARS,
        metavar="N",
        help="a longer text is scored on its first N characters and gets a warning; 0 reads all",
    )


def add_data(
    parser: argparse.ArgumentParser,
    *,
    required: bool = True,
    help: str = "corpus directory (output of data build)",
    metavar: str = "DIR",
) -> None:
    """``--data PATH`` (alias ``--corpus``): a built corpus directory or one of its ``.jsonl``."""
    add_path(parser, "--data", "--corpus", required=required, metavar=metavar, help=help)


def add_out(
    parser: argparse.ArgumentParser,
    *,
    required: bool = True,
    help: str,
    metavar: str = "DIR",
) -> None:
    """``--out PATH`` (aliases ``--output``, ``-o``): where a command writes its results."""
    add_path(parser, "--out", "--output", "-o", required=required, metavar=metavar, help=help)


def threshold_or_auto(value: str) -> float | str:
    """A probability in [0, 1], or "auto": the threshold ``calibrate`` wrote into the model."""
    if value == "auto":
        return value
    try:
        return probability(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(
            f"must be a number in [0, 1] or auto (the threshold refusal-detector calibrate "
            f"chose), got {value!r}"
        ) from exc


def add_threshold(
    parser: argparse.ArgumentParser, *, default: float = 0.5, auto: bool = False
) -> None:
    """``--threshold P``: REJECTION when P(REJECTION) >= P; with ``auto``, also ``auto``.

    ``auto`` is resolved by the handler, with ``RefusalDetector.resolve_threshold``.
    """
    parser.add_argument(
        "--threshold",
        type=threshold_or_auto if auto else probability,
        default=default,
        metavar="P",
        help="REJECTION when P(REJECTION) >= P"
        + ("; auto = the threshold refusal-detector calibrate chose for the model" if auto else ""),
    )


def add_reasoning(parser: argparse.ArgumentParser) -> None:
    """``--reasoning MODE``: what of a ``<think>...</think>`` output is scored."""
    parser.add_argument(
        "--reasoning",
        choices=REASONING_MODES,
        default="answer",
        help="what of an output with a <think>...</think> trace is scored: the answer after it, "
        "the trace, both (a refusal in either counts) or the raw text",
    )


def add_quiet(parser: argparse.ArgumentParser, *, help: str = "no progress bar") -> None:
    """``--quiet``/``-q``; read it with :func:`progress_enabled`."""
    parser.add_argument("--quiet", "-q", action="store_true", help=help)


def progress_enabled(args: argparse.Namespace) -> bool:
    """Show progress bars: not ``--quiet`` and stderr is a terminal."""
    return not args.quiet and sys.stderr.isatty()


def to_argv(parser: argparse.ArgumentParser, values: Mapping[str, Any]) -> list[str]:
    """The options that make ``parser`` parse to ``values`` (by dest), in the parser's order.

    Only values that differ from the option's default are written; a flag (``store_true`` or
    ``store_false``) is written when its value is the one the flag sets. Dests missing from
    ``values`` are skipped. Sequences are joined with commas (as ``--sample-by`` reads them).
    This is how a saved configuration turns back into the command that reproduces it, so the
    flags in a model card cannot drift from the command line's own.

    Raises:
        ValueError: a value that no flag can express (None where the default is not None).
    """
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest not in values:
            continue
        flag, value = action.option_strings[0], values[action.dest]
        if isinstance(action, argparse._StoreConstAction):
            if value == action.const:
                argv.append(flag)
        elif value is None and action.default is not None:
            raise ValueError(f"{flag} cannot express None (its default is {action.default!r})")
        elif value != action.default:
            argv += [flag, _argv_value(value)]
    return argv


def _argv_value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
