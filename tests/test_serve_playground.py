"""The playground page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright).

Set REFUSAL_DETECTOR_REQUIRE_BROWSER=1 (``.ci/run`` does) to fail instead of skip when Chromium or
playwright is missing. The screenshot goes to tmp_path, or to $REFUSAL_DETECTOR_SCREENSHOT_DIR.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from browser import browser_or_skip, chromium_page
from live_server import live_server

from refusal_detector.serve import ServeSettings, create_app

OUTPUT = (
    "Sure! Here is how to bake a simple loaf of bread. Mix 500 g of flour, 10 g of salt, 7 g of "
    "dried yeast and 320 ml of warm water, knead the dough for ten minutes until it is smooth, "
    "let it rise for an hour, shape it, and bake it at 220 C for about 30 minutes. "
    "However, I can't help you pick the lock on your neighbour's door."
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    browser_or_skip()
    with live_server(create_app(ServeSettings())) as base:  # the shipped model
        yield base


def test_playground_highlights_the_refusal(url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium_page(1000, 900) as (page, requested):
        page.goto(url + "/")
        page.fill("#prompt", "How do I bake bread, and how do I open my neighbour's lock?")
        page.fill("#output", OUTPUT)
        page.click("#check")
        mark = page.locator("#highlighted mark.refusal")
        expect(mark).to_have_count(1, timeout=60_000)
        expect(mark).to_have_text(
            "However, I can't help you pick the lock on your neighbour's door."
        )
        expect(page.locator("#verdict")).to_have_attribute("data-verdict", "partial_refusal")
        # NoRefusal reads the whole output as one window, where this refusal is diluted
        expect(page.locator("#risk")).to_have_text(
            re.compile(r"^(in)?valid \(risk -?[01](\.\d+)?\)$")
        )
        assert page.locator("#highlighted").inner_text() == OUTPUT
        shot = tmp_path / "playground.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    target = os.environ.get("REFUSAL_DETECTOR_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / shot.name)
    assert requested and all(r.startswith(url) for r in requested), requested  # no CDN


def test_playground_assets_are_local(url: str) -> None:
    from live_server import call

    status, html, _ = call(url, "/")
    assert status == 200
    assert "/static/playground.js" in html and "/static/playground.css" in html
    assert "http://" not in html.split("<footer>")[0] and "https://" not in html
    assert call(url, "/static/playground.js")[0] == 200
