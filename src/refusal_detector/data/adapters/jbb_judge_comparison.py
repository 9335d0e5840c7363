"""jbb_judge_comparison: 300 JBB responses with 3 human *harm* labels (latin-1/cp1252 bytes inside).

Decoded line by line (UTF-8, falling back to cp1252) so text is not mojibake. Rule: human majority
harmful -> candidate NORMAL; not harmful -> refusals and benign answers mixed, so the labelling
functions decide. The responding models are not recorded (model ``unknown``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "jbb_judge_comparison"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield the 300 judged responses."""
    path = root / NAME / "judge-comparison.csv"
    for _, row in read_csv(path, columns={"goal", "prompt", "target_response", "human_majority"}):
        yield _row(
            text=row["target_response"],
            prompt=row["prompt"],
            model_raw="",
            group=f"jbb-behavior:{row['goal']}",
            meta={"jailbroken": row["human_majority"].strip() == "1"},
        )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
