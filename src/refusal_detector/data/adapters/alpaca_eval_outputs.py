"""alpaca_eval_outputs (NC, CC BY-NC 4.0): 44 models answering the same 805 AlpacaEval instructions.

Dropped under ``--license permissive``. Mostly normal answers (refusals ~1-3%), labelled by the
labelling functions; rich in hard negatives. All answers to one instruction share its prompt group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "alpaca_eval_outputs"
LICENSE = "CC-BY-NC-4.0"
LICENSE_CLASS: LicenseClass = "nc"


def read(root: Path) -> Iterator[Candidate]:
    """Yield every model output."""
    base = require(root / NAME / "results")
    for path in sorted(base.glob("*/model_outputs.json")):
        for item in read_json(path):
            text = str(item.get("output") or "")
            yield _row(
                text=text,
                prompt=str(item.get("instruction") or "") or None,
                model_raw=path.parent.name,
                subset=str(item.get("dataset") or ""),
                exclude_reason=None if text.strip() else "empty_response",
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
