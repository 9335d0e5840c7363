"""`refusal-detector` subcommands of the data package (registered by refusal_detector.cli)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands; each sets `handler=func` with func(args) -> int.

    Import heavy dependencies inside the handlers, never here: `refusal-detector --help` must
    stay fast and torch-free.
    """
