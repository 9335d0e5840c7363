"""refusal_stability: Mistral-7B-Instruct-v0.3 answers to 876 AdvBench/HarmBench prompts (x20).

Each prompt was sampled at 4 temperatures x 5 seeds (temperature-0 rows are nearly identical
across seeds), so at most ``CAP_PER_PROMPT`` distinct responses per prompt are kept. The ``label``
column is an automatic judge (identity inconsistent across the repo) that calls "I must clarify
... for educational purposes only" followed by the content a refusal; it is only a weak vote
(``meta["jailbroken"]``: COMPLY -> True, REFUSE -> False, PARTIAL -> None) for the explicit rules
of ``apply_source_rules``. ERROR rows (6,812: rate-limit text in ``reasoning``) and UNKNOWN rows are
unlabelled (``None``). Responses stop at 512 tokens (about half mid-sentence).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv, require
from refusal_detector.data.adapters._resample import cap_per_group
from refusal_detector.data.prompt_groups import behaviour_group
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "refusal_stability"
LICENSE = "MIT (README statement)"
LICENSE_CLASS: LicenseClass = "permissive"
CAP_PER_PROMPT = 3
_COLUMNS = {"prompt_id", "prompt", "response", "label", "model", "temperature", "seed"}
_VOTES = {"COMPLY": True, "REFUSE": False}


def _read_all(root: Path) -> Iterator[Candidate]:
    base = require(root / NAME / "data" / "results" / "labels")
    sources: dict[str, str] = {}
    prompts = root / NAME / "data" / "processed" / "prompts.csv"
    if prompts.exists():
        sources = {r["id"]: r["source"] for _, r in read_csv(prompts, columns={"id", "source"})}
    for path in sorted(base.glob("*_labels.csv")):
        for _, row in read_csv(path, columns=_COLUMNS):
            if not row["response"].strip():
                continue
            yield _row(
                text=row["response"],
                prompt=row["prompt"],
                model_raw="mistral-7b-instruct-v0.3",
                subset=sources.get(row["prompt_id"], ""),
                group=behaviour_group(row["prompt"]),
                meta={
                    "jailbroken": _VOTES.get(row["label"]),
                    "judge_label": row["label"],
                    "temperature": row["temperature"],
                    "seed": row["seed"],
                },
            )


def read(root: Path) -> Iterator[Candidate]:
    """Yield at most ``CAP_PER_PROMPT`` distinct responses per prompt."""
    yield from cap_per_group(_read_all(root), lambda c: c.group or "", CAP_PER_PROMPT)


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
