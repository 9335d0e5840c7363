"""wildbench_outputs: WildBench v2 outputs of 8 models on real-user tasks; no prompt text, no label.

Mostly normal answers with a few percent real refusals, so the labelling functions decide; with
the prompt missing, uncertain rows go to review instead of being guessed. Empty outputs excluded.
Rows answering one ``session_id`` share a group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "wildbench_outputs"
LICENSE = "Apache-2.0"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield every model output of every stored file."""
    base = require(root / NAME / "eval_results")
    for path in sorted(base.glob("*/*/*/*.json")):
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of outputs")
        for item in data:
            output = item.get("model_output")
            text = output if isinstance(output, str) else ""
            yield _row(
                text=text,
                prompt=None,
                model_raw=str(item.get("model_test") or path.stem),
                group=f"wildbench:{item.get('session_id')}",
                exclude_reason=None if text.strip() else "empty_response",
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
