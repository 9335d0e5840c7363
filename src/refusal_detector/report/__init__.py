"""Refusal reports for eval runs: rates per group with intervals, examples, plots, comparisons.

:func:`~refusal_detector.report.build.build_report` computes a :class:`Report` from a scored or raw
file; :func:`~refusal_detector.report.html.render_html` writes it as one self-contained page with
inline SVG plots, and :meth:`Report.to_json` gives the same numbers for CI.
"""

from __future__ import annotations

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
