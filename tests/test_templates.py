"""Card templates: placeholders filled exactly, and shipped as package data."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from refusal_detector.errors import ConfigError
from refusal_detector.templates import fill, load_template

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "refusal_detector"


def test_fill_replaces_each_placeholder_once_and_leaves_other_braces() -> None:
    text = "# {{ title }}\n{'label': 1} ${HOME} {{title}}\n"
    assert (
        fill(text, {"title": "{{ title }} x"})
        == "# {{ title }} x\n{'label': 1} ${HOME} {{ title }} x\n"
    )


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({}, r"without a value: \['title'\]"),
        ({"title": "t", "extra": 1}, r"without a placeholder: \['extra'\]"),
    ],
)
def test_fill_refuses_missing_or_unused_values(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fill("# {{ title }}\n", values)


@pytest.mark.parametrize(
    ("package", "name"),
    [("refusal_detector.training", "model_card.md"), ("refusal_detector.data", "data_card.md")],
)
def test_card_templates_load_from_the_package(package: str, name: str) -> None:
    text = load_template(package, name)
    assert text.startswith(("{{ front_matter }}", "# Data card"))
    assert re.findall(r"\{\{ *([a-z_]+) *\}\}", text)


def test_every_template_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["refusal_detector"]
    templates = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("**/templates/*")]
    assert templates
    for path in templates:
        assert any(fnmatch(path, pattern) for pattern in patterns), path
