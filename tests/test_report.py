"""`report`: figures on a small hand-made file against hand-computed values, the CLI, the page.

Verdicts come from the keyword detector (fake_detector: "sorry" refuses), so which rows are
partial refusals is known by construction. Wilson intervals were worked by hand from
(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.95996.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from browser import browser_or_skip, chromium_page
from fake_detector import fake_detector

from refusal_detector import RefusalDetector
from refusal_detector.cli import main
from refusal_detector.errors import DataError
from refusal_detector.report import build_report, render_html, wilson_interval

CONTENT = "Here are the steps of the recipe: mix the flour, eggs and milk, then bake it. " * 3
FULL = "Sorry, I can't help with that."
PARTIAL = "Sorry, I can't help with that part. " + CONTENT
NORMAL = "Here are the steps of the recipe: mix the flour and eggs."


def _row(model: str, category: str, text: str, label: str | None, score: float | None) -> dict:
    row: dict[str, Any] = {"model": model, "category": category, "text": text}
    if label is None:
        row["error"] = "line 1: field 'text' is null"
    else:
        row.update(label=label, score=score)
    return row


def _scored_rows(a_refusals: int, b_refusals: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(10):  # model A: 10 rows; the first a_refusals refuse, one of them in part
        refuses = i < a_refusals
        text = (PARTIAL if i == 0 else FULL) if refuses else NORMAL
        label, score = ("REJECTION", 0.9 - i / 100) if refuses else ("NORMAL", 0.1 + i / 100)
        rows.append(_row("A", "xy"[i % 2], text, label, score))
    for i in range(8):  # model B: 8 scored rows (two partial refusals) and one error row
        refuses = i < b_refusals
        text = (PARTIAL if i < 2 else FULL) if refuses else NORMAL
        label, score = ("REJECTION", 0.8) if refuses else ("NORMAL", 0.2)
        rows.append(_row("B", "xy"[i % 2], text, label, score))
    rows.append(_row("B", "x", "", None, None))
    return rows


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def scored(tmp_path: Path) -> Path:
    return _write(tmp_path / "scored.jsonl", _scored_rows(a_refusals=3, b_refusals=6))


def test_figures_match_hand_computed_values(scored: Path, tmp_path: Path) -> None:
    other = _write(tmp_path / "other.jsonl", _scored_rows(a_refusals=7, b_refusals=1))
    report = build_report(scored, ["model"], detector=fake_detector(), compare=other)

    a, b = report.groups
    assert (a.key, a.n, a.refusals, a.partial_refusals, a.errors) == (("A",), 10, 3, 1, 0)
    assert a.refusal_rate == pytest.approx(0.3)
    assert a.refusal_ci == pytest.approx((0.10779, 0.60322), abs=1e-5)
    assert a.partial_rate == pytest.approx(0.1)
    assert a.partial_ci == pytest.approx((0.01788, 0.40415), abs=1e-5)
    mean_a = (0.9 + 0.89 + 0.88 + sum(0.1 + i / 100 for i in range(3, 10))) / 10
    assert a.mean_score == pytest.approx(mean_a)
    assert (b.key, b.n, b.refusals, b.partial_refusals, b.errors) == (("B",), 8, 6, 2, 1)
    assert b.refusal_ci == pytest.approx((0.40928, 0.92852), abs=1e-5)
    assert b.mean_score == pytest.approx((6 * 0.8 + 2 * 0.2) / 8)
    overall = report.overall
    assert (overall.n, overall.refusals, overall.errors) == (18, 9, 1)
    assert overall.refusal_ci == pytest.approx((0.29031, 0.70969), abs=1e-5)

    # A: 3/10 -> 7/10, every expected cell count is 5: pooled z = 0.4 / sqrt(.25 * .2) = 1.789
    assert a.comparison is not None and a.comparison.test == "two-proportion z"
    assert a.comparison.difference == pytest.approx(0.4)
    assert a.comparison.p_value == pytest.approx(0.07364, abs=1e-5)
    # B: 6/8 -> 1/8, expected counts 3.5 < 5: Fisher's exact test (scipy gives 0.040559)
    assert b.comparison is not None and b.comparison.test == "Fisher exact"
    assert b.comparison.p_value == pytest.approx(0.040559, abs=1e-6)


def test_examples_and_two_column_groups(scored: Path) -> None:
    report = build_report(scored, ["model", "category"], detector=fake_detector())

    assert [g.key for g in report.groups] == [("A", "x"), ("A", "y"), ("B", "x"), ("B", "y")]
    assert [(g.n, g.refusals) for g in report.groups] == [(5, 2), (5, 1), (4, 3), (4, 3)]
    top = report.groups[0].top[0]
    assert (top.score, top.verdict) == (0.9, "partial_refusal")
    assert [top.text[s:e] for s, e in top.spans] == ["Sorry, I can't help with that part."]
    assert report.groups[0].bottom[0].score == pytest.approx(0.14)  # rows 4, 6, 8 of A are x
    page = render_html(report)
    assert "<mark>Sorry, I can&#x27;t help with that part.</mark>" in page
    assert page.count("<svg") == 3 and "http" not in page.replace('xmlns="http', "")


def test_raw_file_is_scored_first(tmp_path: Path) -> None:
    raw = _write(
        tmp_path / "raw.jsonl",
        [{"model": m, "text": t} for m, t in [("A", FULL), ("A", NORMAL), ("B", PARTIAL)]],
    )
    report = build_report(raw, ["model"], detector=fake_detector())

    assert not report.scored_input
    assert [(g.n, g.refusals, g.partial_refusals) for g in report.groups] == [(2, 1, 0), (1, 1, 1)]


def test_missing_group_column_names_the_columns(scored: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(DataError, match=r"no column 'family'; columns found: model, category"):
        build_report(scored, ["family"], detector=fake_detector())
    code = main(["report", "-i", str(scored), "--group-by", "model,family", "-o", "r.html"])
    assert code == 2
    assert "columns found: model, category, text, label, score, error" in capsys.readouterr().err


def test_cli_writes_html_and_json_with_the_counts_of_the_scored_file(
    tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    texts = [FULL, NORMAL, PARTIAL, "sure, here is the answer", "i can't do that"] * 6
    raw = [{"model": "m1" if i % 3 else "m2", "text": t} for i, t in enumerate(texts)]
    source = _write(tmp_path / "raw.jsonl", raw)
    out = tmp_path / "report.html"

    model = ["--model", str(tiny_model_dir)]
    argv = ["report", "-i", str(source), "--group-by", "model", "-o", str(out), "--json"]
    code = main([*argv, *model])

    assert code == 0 and out.exists()
    figures = json.loads(out.with_suffix(".json").read_text())
    scores = RefusalDetector.from_pretrained(tiny_model_dir).predict_proba(texts)
    for group in figures["groups"]:
        mine = [s for r, s in zip(raw, scores, strict=True) if r["model"] == group["key"][0]]
        assert group["n"] == len(mine)
        assert group["refusals"] == sum(s >= 0.5 for s in mine)
        k = group["refusals"]
        assert group["refusal_ci"] == pytest.approx(list(wilson_interval(k, len(mine))))
    assert "| model | n | refusal rate [95% CI]" in capsys.readouterr().out

    scored_out = tmp_path / "s.jsonl"
    assert main(["predict", "-i", str(source), "-o", str(scored_out), "-q", *model]) == 0
    argv = ["report", "-i", str(scored_out), "--group-by", "model", "-o", str(out), "-q"]
    assert main([*argv, *model]) == 0
    scored_rows = [json.loads(line) for line in scored_out.read_text().splitlines()]
    html = out.read_text()
    m1 = [r for r in scored_rows if r["model"] == "m1"]
    rate = sum(r["label"] == "REJECTION" for r in m1) / len(m1)
    assert f"<td class=n>{100 * rate:.1f}% [" in html  # the scored file's labels, as counted


def test_page_renders_its_plots_in_headless_chromium(scored: Path, tmp_path: Path) -> None:
    browser_or_skip()
    other = _write(tmp_path / "other.jsonl", _scored_rows(a_refusals=7, b_refusals=1))
    report = build_report(scored, ["model", "category"], detector=fake_detector(), compare=other)
    page_path = tmp_path / "report.html"
    page_path.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "report.png"
    with chromium_page(1100, 900) as (page, requested):
        page.goto(page_path.as_uri())
        boxes = [page.locator("svg").nth(i).bounding_box() for i in range(3)]
        bars = page.locator("svg").first.locator("rect").count()
        cells = page.locator("svg").nth(1).locator("rect").count()
        page.screenshot(path=str(shot), full_page=True)
    assert all(box is not None and box["width"] > 300 and box["height"] > 50 for box in boxes)
    assert bars == 4 and cells == 4  # one bar per group; a 2 x 2 heatmap
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    assert requested == [page_path.as_uri()]  # self-contained: nothing else is fetched
    target = os.environ.get("REFUSAL_DETECTOR_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / shot.name)
