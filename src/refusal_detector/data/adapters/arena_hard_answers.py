"""arena_hard_answers: Arena-Hard v0.1 (3 GPT models) and v2.0 (o3-mini) answers; no label.

Answers are joined to their question by ``uid``; the assistant message content is
``{"answer": ...}``. Labelled by the labelling functions (almost all normal).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_jsonl, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "arena_hard_answers"
LICENSE = "Apache-2.0"
LICENSE_CLASS: LicenseClass = "permissive"


def _answer_text(messages: list[dict[str, object]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, dict):
                return str(content.get("answer") or "")
            return str(content or "")
    return ""


def read(root: Path) -> Iterator[Candidate]:
    """Yield every answer of both benchmark versions."""
    base = require(root / NAME / "data")
    for version_dir in sorted(base.glob("arena-hard-*")):
        questions = {
            row["uid"]: str(row["prompt"]) for _, row in read_jsonl(version_dir / "question.jsonl")
        }
        for path in sorted((version_dir / "model_answer").glob("*.jsonl")):
            for _, row in read_jsonl(path):
                text = _answer_text(row.get("messages") or [])
                yield _row(
                    text=text,
                    prompt=questions.get(row["uid"]),
                    model_raw=str(row.get("model") or path.stem),
                    subset=version_dir.name,
                    exclude_reason=None if text.strip() else "empty_response",
                )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
