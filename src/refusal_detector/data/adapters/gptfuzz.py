"""gptfuzz (GPTFuzzer): 7,700 human jailbreak-success labels on (very likely) gpt-3.5-turbo outputs.

The label is jailbreak success, not refusal. Explicit rules (see ``labeling_functions``):
``label 1`` (jailbroken) -> candidate NORMAL, but rows that also carry refusal markers are
two-persona outputs and become ``partial``; ``label 0`` -> candidate REFUSAL confirmed only by the
labelling functions (role-play and off-topic rows go to review). Prompts: the question text
(the jailbreak template is not in the files); all 77 responses to one question share a group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "gptfuzz"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield the train and evaluate responses with their jailbreak label in ``meta``."""
    base = root / NAME / "datasets"
    questions = {
        row["index"]: row["text"]
        for _, row in read_csv(base / "questions" / "question_list.csv", columns={"index", "text"})
    }
    for split in ("train", "evaluate"):
        path = base / "responses_labeled" / f"{split}.csv"
        for rowno, row in read_csv(path, columns={"question", "Response", "label"}):
            if row["label"] not in ("0", "1"):
                raise DataError(f"{path}:{rowno}: label must be 0 or 1, found {row['label']!r}")
            qid = row["question"]
            yield _row(
                text=row["Response"],
                prompt=questions.get(qid),
                model_raw="gpt-3.5-turbo",
                subset=split,
                group=f"{NAME}:q{qid}",
                meta={"jailbroken": row["label"] == "1"},
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
