"""chatgpt_refusals (Reuter & Schulze 2023): 1,721 gpt-3.5-turbo answers with human ``tone`` labels.

Mapping: the PROVENANCE "strict" mapping. ``rejected``/``redirected`` -> 1 and ``complied``/
``disclaimed``/``contradicted`` -> 0 (human). ``dontknow`` (access limitations) and ``counseling``
(moralising) are left to the labelling functions and the review queue rather than guessed;
``incoherent`` is excluded. Only ``all_hand_labeled.json`` is read: it is the union of the other
files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "chatgpt_refusals"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"

TONE_LABELS: dict[str, int | None] = {
    "rejected": 1,
    "redirected": 1,
    "complied": 0,
    "disclaimed": 0,
    "contradicted": 0,
    "dontknow": None,
    "counseling": None,
    "incoherent": None,
}


def read(root: Path) -> Iterator[Candidate]:
    """Yield one candidate per hand-labelled response."""
    path = root / NAME / "data" / "all_hand_labeled.json"
    rows = read_json(path)
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of rows, found {type(rows).__name__}")
    for i, row in enumerate(rows):
        tone = str(row.get("tone", "")).strip().lower()
        if tone not in TONE_LABELS:
            raise DataError(f"{path}: row {i}: unknown tone {tone!r}; known: {sorted(TONE_LABELS)}")
        label = TONE_LABELS[tone]
        yield _row(
            text=str(row["response"]),
            prompt=str(row["prompt"]),
            model_raw="gpt-3.5-turbo",
            subset=tone,
            source_label=label,
            source_rule="human" if label is not None else None,
            exclude_reason="incoherent_tone" if tone == "incoherent" else None,
        )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
