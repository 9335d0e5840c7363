"""safety_tuned_llamas (NC, CC BY-NC 4.0): 2,483 GPT-generated safe responses to harmful requests.

Dropped under ``--license permissive``. Refusal-rich by construction (weak refusal hint); 29% are
rebuttals, lectures or odd replies, so the labelling functions and review decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "safety_tuned_llamas"
LICENSE = "CC-BY-NC-4.0"
LICENSE_CLASS: LicenseClass = "nc"


def read(root: Path) -> Iterator[Candidate]:
    """Yield every safety demonstration."""
    path = root / NAME / "data" / "training" / "safety_only_data_Instructions.json"
    for item in read_json(path):
        prompt = " ".join(s for s in (item.get("instruction"), item.get("input")) if s)
        text = str(item.get("output") or "")
        yield _row(
            text=text,
            prompt=prompt or None,
            model_raw="gpt-3.5-turbo",
            hint=0.3,
            exclude_reason=None if text.strip() else "empty_response",
        )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
