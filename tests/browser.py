"""Headless Chromium for the tests that open a page (the report, the playground)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("REFUSAL_DETECTOR_CHROMIUM", "/usr/bin/chromium")


def browser_or_skip() -> None:
    """Skip (or fail, with REFUSAL_DETECTOR_REQUIRE_BROWSER=1) without playwright or Chromium."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install playwright)"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} not found (apt-get install -y chromium)"
    if problem is not None:
        if os.environ.get("REFUSAL_DETECTOR_REQUIRE_BROWSER") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


@contextmanager
def chromium_page(width: int, height: int) -> Iterator[tuple[Any, list[str]]]:
    """A page of a fresh headless Chromium and the list of URLs it requests (filled as it runs)."""
    from playwright.sync_api import sync_playwright

    browser_or_skip()
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("request", lambda request: requested.append(request.url))
            yield page, requested
        finally:
            browser.close()
