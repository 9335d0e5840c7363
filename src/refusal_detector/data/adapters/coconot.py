"""coconot (CoCoNot, Brahman et al. 2024): noncompliance eval, contrast set and preference pairs.

Trap: ``is_refusal`` describes the *prompt* (should not be complied with), not the response, and
is ignored. Evaluation responses are labelled by the labelling functions; contrast-set answers and
preference ``chosen`` answers get a weak NORMAL hint; ``rejected`` answers (over-refusals mixed
with weaker answers) get no hint. Mac-Roman mojibake is repaired. Evaluation and contrast
responses have no recorded model (``unknown``); ``chosen`` is gpt-4 per ``chosen_model``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_jsonl
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker, fix_mojibake

NAME = "coconot"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"


def _candidate(text: str, prompt: str, subset: str, model: str, hint: float) -> Candidate:
    return _row(
        text=fix_mojibake(text),
        prompt=fix_mojibake(prompt),
        model_raw=model,
        subset=subset,
        hint=hint,
    )


def read(root: Path) -> Iterator[Candidate]:
    """Yield evaluation, contrast and both sides of the preference pairs."""
    base = root / NAME
    for _, row in read_jsonl(base / "commit_3206be6" / "data" / "coconot_evaluation.jsonl"):
        if row.get("response"):
            yield _candidate(row["response"], row["prompt"], "evaluation", "", 0.0)
    for _, row in read_jsonl(base / "commit_3206be6" / "data" / "coconot_contrast_eval.jsonl"):
        if row.get("response"):
            yield _candidate(row["response"], row["prompt"], "contrast", "", -0.3)
    for _, row in read_jsonl(base / "commit_25bf77c_HEAD_data" / "coconot_pref.jsonl"):
        chosen_model = str(row.get("chosen_model") or "")
        if row.get("chosen"):
            yield _candidate(row["chosen"], row["prompt"], "pref_chosen", chosen_model, -0.2)
        if row.get("rejected"):
            rejected_model = str(row.get("rejected_model") or "")
            yield _candidate(row["rejected"], row["prompt"], "pref_rejected", rejected_model, 0.0)


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
