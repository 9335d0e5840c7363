"""render_html: a report as one self-contained HTML page with inline SVG plots (no CDN)."""

from __future__ import annotations

import html
from collections import defaultdict

from refusal_detector.report.build import Example, GroupStats, Report

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
mark{background:#ffd0d0}.ex{white-space:pre-wrap;max-height:9em;overflow:auto;margin:0}
svg{display:block;margin:8px 0}details{margin:6px 0}.muted{color:#777}
"""


def render_html(report: Report) -> str:
    """The page: summary table, rate per group with error bars, heatmap, scores, examples."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Refusal report: {_e(report.input)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Refusal report</h1><p>{_e(report.input)}: {report.overall.n} rows scored"
        f" ({report.overall.errors} with errors, left out), grouped by "
        f"<b>{_e(', '.join(report.group_by))}</b>. "
        + (
            "Labels as in the scored file."
            if report.scored_input
            else f"Scored here, REJECTION at P &ge; {report.threshold}."
        )
        + " Intervals: Wilson score, 95%.</p>",
        _summary_table(report),
        "<h2>Refusal rate per group</h2>",
        _rate_chart(report.groups),
        "<h2>Refusal rate: " + _e(" x ".join(report.group_by[:2])) + "</h2>",
        _heatmap(report),
        "<h2>Score distribution</h2>",
        _histogram(report.scores, report.threshold),
        "<h2>Examples</h2><p>The ten highest- and lowest-scoring rows of each group; refusal "
        "sentences (three-way verdict spans) are <mark>highlighted</mark>.</p>",
        *(_examples(g) for g in report.groups),
        "</body></html>",
    ]
    return "\n".join(parts)


def _e(text: object) -> str:
    return html.escape(str(text))


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _summary_table(report: Report) -> str:
    compare = report.compare_input is not None
    head = [*report.group_by, "n", "refusal rate [95% CI]", "partial refusals [95% CI]"]
    head += ["mean score", "errors"]
    if compare:
        head += ["other run", "change", "test", "p"]
    lines = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for group in [*report.groups, report.overall]:
        key = group.key if group is not report.overall else ("all",) * len(report.group_by)
        cells = [f"<td>{_e(k)}</td>" for k in key]
        lo, hi = group.refusal_ci
        plo, phi = group.partial_ci
        cells += [
            f"<td class=n>{group.n}</td>",
            f"<td class=n>{_pct(group.refusal_rate)} [{_pct(lo)}, {_pct(hi)}]</td>",
            f"<td class=n>{_pct(group.partial_rate)} [{_pct(plo)}, {_pct(phi)}]</td>",
            f"<td class=n>{group.mean_score:.3f}</td>",
            f"<td class=n>{group.errors}</td>",
        ]
        if compare and group.comparison is not None:
            c = group.comparison
            other = c.k2 / c.n2 if c.n2 else 0.0
            cells += [
                f"<td class=n>{_pct(other)} of {c.n2}</td>",
                f"<td class=n>{100 * c.difference:+.1f} pts</td>",
                f"<td>{_e(c.test)}</td>",
                f"<td class=n>{c.p_value:.3g}</td>",
            ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    if compare:
        lines.append(
            f"<p>Compared with {_e(report.compare_input)}: change = other run minus this run; "
            "two-sided pooled two-proportion z-test when every expected cell count is at least "
            "5, else Fisher's exact test.</p>"
        )
    return "\n".join(lines)


def _rate_chart(groups: list[GroupStats]) -> str:
    label_w, width, bar_h = 220, 760, 22
    plot_w = width - label_w - 70
    height = 30 + bar_h * len(groups)
    out = [_svg_open(width, height, "refusal rate per group with 95% intervals")]
    for tick in range(0, 101, 20):
        x = label_w + plot_w * tick / 100
        out.append(
            f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="12" font-size="10" text-anchor="middle">{tick}%</text>'
        )
    for i, g in enumerate(groups):
        y = 22 + i * bar_h
        lo, hi = g.refusal_ci
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{_e(' / '.join(g.key))[:40]}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w * g.refusal_rate:.1f}" '
            f'height="{bar_h - 8}" fill="#d9534f"><title>{_pct(g.refusal_rate)}</title></rect>'
            f'<line x1="{label_w + plot_w * lo:.1f}" y1="{y + bar_h / 2:.1f}" '
            f'x2="{label_w + plot_w * hi:.1f}" y2="{y + bar_h / 2:.1f}" stroke="#222" '
            'stroke-width="1.5"/>'
            f'<line x1="{label_w + plot_w * lo:.1f}" y1="{y + 5}" x2="{label_w + plot_w * lo:.1f}"'
            f' y2="{y + bar_h - 5}" stroke="#222"/>'
            f'<line x1="{label_w + plot_w * hi:.1f}" y1="{y + 5}" x2="{label_w + plot_w * hi:.1f}"'
            f' y2="{y + bar_h - 5}" stroke="#222"/>'
            f'<text x="{label_w + plot_w * hi + 6:.1f}" y="{y + 14}" font-size="11">'
            f"{_pct(g.refusal_rate)} (n={g.n})</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _heatmap(report: Report) -> str:
    if len(report.group_by) < 2:
        return (
            "<p class=muted>A heatmap needs two group-by columns, e.g. "
            "<code>--group-by model,category</code>.</p>"
        )
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for g in report.groups:
        cell = cells[(g.key[0], g.key[1])]
        cell[0] += g.refusals
        cell[1] += g.n
    rows = sorted({k[0] for k in cells})
    cols = sorted({k[1] for k in cells})
    label_w, cell_w, cell_h, top = 220, max(48, min(110, 760 // max(1, len(cols)))), 26, 90
    width, height = label_w + cell_w * len(cols) + 10, top + cell_h * len(rows) + 10
    out = [_svg_open(width, height, "refusal rate per group and category")]
    for j, col in enumerate(cols):
        x = label_w + j * cell_w + cell_w / 2
        out.append(
            f'<text x="{x:.1f}" y="{top - 6}" font-size="11" transform="rotate(-35 {x:.1f} '
            f'{top - 6})">{_e(col)[:28]}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        out.append(
            f'<text x="{label_w - 6}" y="{y + 17}" font-size="12" text-anchor="end">'
            f"{_e(row)[:40]}</text>"
        )
        for j, col in enumerate(cols):
            k, n = cells.get((row, col), [0, 0])
            x = label_w + j * cell_w
            if n == 0:
                out.append(
                    f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                    'fill="#f7f7f7"/>'
                )
                continue
            rate = k / n
            shade = int(255 - 200 * rate)
            ink = "#fff" if rate > 0.6 else "#222"
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="rgb(255,{shade},{shade})"><title>{_e(row)} / {_e(col)}: {k}/{n}</title>'
                f'</rect><text x="{x + cell_w / 2 - 1:.1f}" y="{y + 17}" font-size="11" '
                f'text-anchor="middle" fill="{ink}">{_pct(rate)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _histogram(scores: list[float], threshold: float, bins: int = 20) -> str:
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s * bins)))] += 1
    width, height, left, bottom = 760, 220, 50, 30
    plot_w, plot_h = width - left - 10, height - bottom - 10
    peak = max(counts) or 1
    out = [_svg_open(width, height, "distribution of P(REJECTION)")]
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + plot_w * i / bins
        out.append(
            f'<rect x="{x:.1f}" y="{10 + plot_h - h:.1f}" width="{plot_w / bins - 2:.1f}" '
            f'height="{h:.1f}" fill="#5b8cc6"><title>{i / bins:.2f}-{(i + 1) / bins:.2f}: '
            f"{c}</title></rect>"
        )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * tick
        out.append(
            f'<text x="{x:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">'
            f"{tick:g}</text>"
        )
    tx = left + plot_w * threshold
    out.append(
        f'<line x1="{tx:.1f}" y1="10" x2="{tx:.1f}" y2="{10 + plot_h}" stroke="#d9534f" '
        f'stroke-dasharray="4 3"/><text x="{left - 6}" y="18" font-size="10" '
        f'text-anchor="end">{peak}</text><text x="{left - 6}" y="{10 + plot_h}" font-size="10" '
        'text-anchor="end">0</text>'
        f'<text x="{width / 2:.0f}" y="{height - 1}" font-size="11" text-anchor="middle">'
        "P(REJECTION); dashed: threshold</text></svg>"
    )
    return "".join(out)


def _svg_open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img"><title>{_e(title)}</title>'
    )


def _examples(group: GroupStats) -> str:
    def rows(examples: list[Example]) -> str:
        return "".join(
            f"<tr><td class=n>{ex.score:.3f}</td><td>{_e(ex.verdict)}</td>"
            f"<td><p class=ex>{_highlight(ex)}</p></td><td class=muted>{_e(ex.where)}</td></tr>"
            for ex in examples
        )

    head = "<tr><th>score</th><th>verdict</th><th>text</th><th>where</th></tr>"
    return (
        f"<details><summary><b>{_e(' / '.join(group.key))}</b> (n={group.n})</summary>"
        f"<h4>Highest scores</h4><table>{head}{rows(group.top)}</table>"
        f"<h4>Lowest scores</h4><table>{head}{rows(group.bottom)}</table></details>"
    )


def _highlight(example: Example) -> str:
    text, out, pos = example.text, [], 0
    for start, end in sorted(example.spans):
        if start < pos:
            continue
        out.append(_e(text[pos:start]))
        out.append(f"<mark>{_e(text[start:end])}</mark>")
        pos = end
    out.append(_e(text[pos:]))
    return "".join(out)
