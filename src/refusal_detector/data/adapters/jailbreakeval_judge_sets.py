"""jailbreakeval_judge_sets: JAILJUDGE-mini (1,000) and Safe-RLHF-mini (4,000) with *harm* labels.

Rule: harm label 1 -> candidate NORMAL (harmful compliance); label 0 -> refusals or harmless
answers, decided by the labelling functions. Answering models are not named (model ``unknown``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "jailbreakeval_judge_sets"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"
FILES = ("JAILJUDGEmini.csv", "Safe-RLHFmini.csv")


def read(root: Path) -> Iterator[Candidate]:
    """Yield both judge test sets."""
    for filename in FILES:
        path = root / NAME / "data" / filename
        for _, row in read_csv(path, columns={"question", "answer", "label"}):
            yield _row(
                text=row["answer"],
                prompt=row["question"],
                model_raw="",
                subset=filename.removesuffix(".csv"),
                meta={"jailbroken": row["label"].strip() == "1"},
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
