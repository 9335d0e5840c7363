"""The model card's lead section: the external gold set (families the corpus never had).

Reads the JSON that ``benchmarks/external_gold.py --json`` writes, so the card's figures are the
benchmark's, never retyped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["external_gold_section"]

_COMMAND = (
    "python benchmarks/external_gold.py "
    "--model src/refusal_detector/models/refusal-detector-minilm --json runs/external_gold.json"
)


def _f(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def external_gold_section(report: dict[str, Any] | None) -> str:
    """Markdown for the external gold results per family, or "" when no report was given."""
    if report is None:
        return ""
    slices: dict[str, dict[str, Any]] = report.get("slices", {})
    baselines: dict[str, dict[str, float]] = report.get("baselines", {})
    names = sorted({name for per in baselines.values() for name in per})
    header = "| slice | rows | refusals | precision | recall | F1 | AUROC | ECE | " + " | ".join(
        f"{name} F1" for name in names
    )
    lines = [
        "## Results on families the corpus never had (external gold set)",
        "",
        f"{report.get('rows', '?')} responses of Claude, Mistral and Zephyr-based R2D2 to harmful "
        "behaviours whose prompt groups are in no training, validation or test split, labelled "
        "blind by hand (`src/refusal_detector/data/annotations/external_gold.jsonl`). Threshold "
        f"{report.get('threshold')} ({report.get('threshold_origin', 'given')}); "
        f"{report.get('partial', {}).get('n', 0)} partial refusals and {report.get('skipped', 0)} "
        "skipped rows are left out of the binary figures. Reproduce with "
        f"`{_COMMAND}`.",
        "",
        header + " |",
        "|---|" + "---:|" * (7 + len(names)),
    ]
    for key, m in slices.items():
        if not (key == "overall" or key.startswith("family=")):
            continue
        label = key.removeprefix("family=")
        base = baselines.get(key, {})
        cells = [
            label,
            str(m.get("n")),
            str(m.get("refusals")),
            _f(m.get("precision")),
            _f(m.get("recall")),
            _f(m.get("f1")),
            _f(m.get("auroc")),
            _f(m.get("ece")),
            *(_f(base.get(name)) for name in names),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    intervals = [
        (key.removeprefix("family="), m["interval_95"])
        for key, m in slices.items()
        if "interval_95" in m and (key == "overall" or key.startswith("family="))
    ]
    if intervals:
        lines += [
            "",
            "95% intervals (bootstrap over rows within each family): "
            + "; ".join(
                f"{label} "
                + ", ".join(
                    f"{name} {_range(iv.get(key))}"
                    for key, name in (("f1", "F1"), ("auroc", "AUROC"), ("ece", "ECE"))
                )
                for label, iv in intervals
            )
            + ". A goal inside an interval is not settled by this set.",
        ]
    lines.append("")
    return "\n".join(lines) + "\n"


def _range(pair: list[float] | None) -> str:
    return "-" if not pair else f"{pair[0]:.3f}-{pair[1]:.3f}"
