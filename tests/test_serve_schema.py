"""schemathesis fuzzes every route of the OpenAPI spec against a real server: no answer is a 5xx.

Bounded and reproducible: a fixed number of examples per route, derandomized (fixed seed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("schemathesis")

import schemathesis
from hypothesis import HealthCheck, settings
from live_server import live_server
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from refusal_detector.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def base_url(tiny_model_dir: Path) -> Iterator[str]:
    with live_server(create_app(ServeSettings(model=tiny_model_dir))) as url:
        yield url


# The spec is the app's own (building an app loads nothing); the calls go to the live server.
schema = schemathesis.openapi.from_dict(create_app(ServeSettings()).openapi())
# Valid and invalid bodies alike (positive and negative generation), reproducibly, and without an
# example database in the working directory.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True, database="none"
)


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_route_answers_5xx(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error], excluded_checks=[])
