"""overrefusal_legal_orbench: 6 small open models on OR-Bench prompts in 4 prompt conditions.

``is_refused`` is a noisy keyword detector, used only as a weak hint; ``is_error`` rows are
excluded. ``response_preview`` is cut at 500 characters, so long answers are truncated (not
refusals). The condition (none / lawyer / prefix / jailbreak) is in the filename only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "overrefusal_legal_orbench"
LICENSE = "CC-BY-4.0 (prompts); MIT (code)"
LICENSE_CLASS: LicenseClass = "permissive"


def condition_of(filename: str) -> str:
    """Prompt condition encoded in an OR-Bench result filename."""
    for tag in ("p2_lawyer", "p3_jailbreak", "prefix"):
        if f"_{tag}" in filename:
            return tag
    return "none"


def read(root: Path) -> Iterator[Candidate]:
    """Yield every row of the 56 result CSVs."""
    base = require(root / NAME / "results" / "english")
    columns = {"prompt_id", "model", "prompt", "response_preview", "is_refused", "is_error"}
    for path in sorted(base.glob("*/*.csv")):
        for _, row in read_csv(path, columns=columns):
            refused = row["is_refused"].strip().lower() == "true"
            yield _row(
                text=row["response_preview"],
                prompt=row["prompt"],
                model_raw=row["model"],
                subset=condition_of(path.name),
                hint=0.2 if refused else -0.1,
                group=f"orbench:{row['prompt_id']}",
                exclude_reason="is_error" if row["is_error"].strip().lower() == "true" else None,
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
