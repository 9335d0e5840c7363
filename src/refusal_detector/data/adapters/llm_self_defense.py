"""llm_self_defense: 210 GPT-3.5 / Llama-2 answers (benign, and attack-induced harmful ones).

``is harmful?`` is a harm label, ignored for the refusal label; the PROVENANCE suggests all are
compliant, so the rows get a weak NORMAL hint and the labelling functions decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "llm_self_defense"
LICENSE = "BSD-3-Clause"
LICENSE_CLASS: LicenseClass = "permissive"
# filenames are misspelled upstream
FILES = {"all_repsonses_gpt.csv": "gpt-3.5-turbo", "all_repsonses_llama.csv": "llama-2-7b-chat"}


def read(root: Path) -> Iterator[Candidate]:
    """Yield both CSVs."""
    for filename, model in FILES.items():
        path = root / NAME / filename
        for _, row in read_csv(path, columns={"prompt", "response"}):
            yield _row(
                text=row["response"],
                prompt=row["prompt"],
                model_raw=model,
                hint=-0.3,
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
