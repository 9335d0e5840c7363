"""hh_rlhf_harmless_test: Anthropic HH-RLHF harmless-base test dialogues (2022 52B assistant).

Chosen/rejected are harmlessness preferences, not refusal labels (chosen holds refusals *and*
harmful compliance), so only the final assistant turn of each is taken and the labelling
functions decide. The prompt is the last human turn; both sides of a pair share a group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_jsonl
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "hh_rlhf_harmless_test"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"
MODEL = "anthropic-52b-hh-2022"


def split_dialogue(dialogue: str) -> tuple[str, str, str]:
    """(context before the last human turn, last human turn, final assistant turn)."""
    head, _, answer = dialogue.rpartition("\n\nAssistant:")
    context, _, human = head.rpartition("\n\nHuman:")
    return context, human.strip(), answer.strip()


def read(root: Path) -> Iterator[Candidate]:
    """Yield the final assistant turn of chosen and rejected dialogues."""
    path = root / NAME / "harmless-base" / "test.jsonl.gz"
    for lineno, row in read_jsonl(path):
        for side in ("chosen", "rejected"):
            context, human, answer = split_dialogue(str(row.get(side) or ""))
            key = hashlib.sha1((context + human).encode()).hexdigest()[:12]
            yield _row(
                text=answer,
                prompt=human or None,
                model_raw=MODEL,
                subset=side,
                strict_normal=True,  # the 2022 assistant evades without refusal words
                group=f"hh:{key}",
                exclude_reason=None if answer else "empty_response",
                meta={"line": lineno, "multi_turn": bool(context.strip())},
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
