"""fastchat_bench_answers: Vicuna-bench (7 models) and MT-bench 2-turn answers (3 models); no label.

Each MT-bench turn is one record; the prompt is that turn's question and both turns share a
group. Vicuna-7b answers start with a stray ": ", stripped. Labelled by the labelling functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_jsonl, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "fastchat_bench_answers"
LICENSE = "Apache-2.0"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield Vicuna-bench answers and each MT-bench turn."""
    base = require(root / NAME / "fastchat")
    table = base / "eval" / "table"
    questions = {row["question_id"]: row["text"] for _, row in read_jsonl(table / "question.jsonl")}
    for path in sorted((table / "answer").glob("answer_*.jsonl")):
        for _, row in read_jsonl(path):
            model = str(row.get("model_id") or path.stem.removeprefix("answer_"))
            text = str(row.get("text") or "")
            if text.startswith(": "):
                text = text[2:]
            qid = row["question_id"]
            yield _row(
                text=text,
                prompt=questions.get(qid),
                model_raw=model,
                subset="vicuna_bench",
                group=f"vicuna-bench:{qid}",
                exclude_reason=None if text.strip() else "empty_response",
            )
    mt = base / "llm_judge" / "data" / "mt_bench"
    mt_questions = {
        row["question_id"]: row["turns"] for _, row in read_jsonl(mt / "question.jsonl")
    }
    for path in sorted((mt / "model_answer").glob("*.jsonl")):
        for _, row in read_jsonl(path):
            qid = row["question_id"]
            turns = (row.get("choices") or [{}])[0].get("turns") or []
            prompts = mt_questions.get(qid) or []
            for i, text in enumerate(turns):
                yield _row(
                    text=str(text),
                    prompt=prompts[i] if i < len(prompts) else None,
                    model_raw=str(row.get("model_id") or path.stem),
                    subset=f"mt_bench_turn{i + 1}",
                    group=f"mt-bench:{qid}",
                    exclude_reason=None if str(text).strip() else "empty_response",
                )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
