"""Refusal reports for eval runs: rates per group with intervals, examples, plots, comparisons.

:func:`~refusal_detector.report.build.build_report` computes a :class:`Report` from a scored or raw
file; :func:`~refusal_detector.report.html.render_html` writes it as one self-contained page with
inline SVG plots, and :meth:`Report.to_json` gives the same numbers for CI.

The names below are imported on first use, so that registering the ``report`` command (which
imports this package) does not pull in the detector (numpy, tokenizers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from refusal_detector.report.build import Example, GroupStats, Report, build_report
    from refusal_detector.report.html import render_html
    from refusal_detector.report.stats import (
        compare_proportions,
        fisher_exact,
        two_proportion_z,
        wilson_interval,
    )

__all__ = [
    "Example",
    "GroupStats",
    "Report",
    "build_report",
    "compare_proportions",
    "fisher_exact",
    "render_html",
    "two_proportion_z",
    "wilson_interval",
]

_SOURCE = {
    "Example": "build",
    "GroupStats": "build",
    "Report": "build",
    "build_report": "build",
    "render_html": "html",
    "compare_proportions": "stats",
    "fisher_exact": "stats",
    "two_proportion_z": "stats",
    "wilson_interval": "stats",
}


def __getattr__(name: str) -> Any:
    if name in _SOURCE:
        module = importlib.import_module(f"refusal_detector.report.{_SOURCE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'refusal_detector.report' has no attribute {name!r}")
