"""Markdown templates shipped as package data, filled with ``{{ name }}`` placeholders.

The model card (``training/templates/model_card.md``) and the data card
(``data/templates/data_card.md``) keep their prose in those files; small section functions in
:mod:`refusal_detector.training.card` and :mod:`refusal_detector.data.card` compute the values.
A placeholder with no value, or a value with no placeholder, is an error: nothing is left out or
filled in silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

from refusal_detector.errors import ConfigError

__all__ = ["fill", "load_template", "render_template"]

_PLACEHOLDER = re.compile(r"\{\{ *([a-z_][a-z0-9_]*) *\}\}")


def load_template(package: str, name: str) -> str:
    """The text of ``templates/<name>`` inside ``package`` (e.g. ``refusal_detector.training``)."""
    return (resources.files(package) / "templates" / name).read_text(encoding="utf-8")


def fill(template: str, values: Mapping[str, object]) -> str:
    """Replace every ``{{ name }}`` in ``template`` with ``str(values[name])``.

    Raises:
        ConfigError: a placeholder has no value, or a value has no placeholder.
    """
    names = set(_PLACEHOLDER.findall(template))
    missing = sorted(names - set(values))
    unused = sorted(set(values) - names)
    if missing or unused:
        raise ConfigError(
            f"template placeholders without a value: {missing}; values without a placeholder: "
            f"{unused}"
        )
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def render_template(package: str, name: str, values: Mapping[str, object]) -> str:
    """:func:`load_template` then :func:`fill`."""
    return fill(load_template(package, name), values)
