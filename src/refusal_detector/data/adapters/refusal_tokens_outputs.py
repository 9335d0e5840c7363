"""refusal_tokens_outputs: Llama-3-8B-Instruct and DeepSeek-R1-Distill-Llama-8B on safety sets.

Responses start with a leaked ``assistant`` role header and DeepSeek's contain ``</think>``
(rarely after a visible reasoning trace): both are stripped so the text is the user-visible
answer. No labels: harmful-prompt files get a weak refusal hint, the rest none; the labelling
functions decide. DeepSeek-R1-Distill often declines softly, without refusal words ("Creating X is
a complex project... However, it is important to emphasise ..."): three blind audit rounds found
about a third of its rule-NORMAL rows were such refusals, so its replies under 1,200 characters
need compliance evidence (code, lists, a pivot to content) to be labelled NORMAL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_jsonl, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "refusal_tokens_outputs"
LICENSE = "Apache-2.0"
LICENSE_CLASS: LicenseClass = "permissive"

_HEADER = re.compile(r"^\s*assistant\s*\n", re.IGNORECASE)
DEEPSEEK_STRICT_CHARS = 1200
HARMFUL_FILES = ("or_bench_toxic", "wildguard_harmful", "wildjailbreak_adversarial_harmful")


def clean_response(text: str) -> str:
    """Strip the leaked role header and any reasoning block ending in ``</think>``."""
    text = _HEADER.sub("", text, count=1)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text.replace("<think>", "").strip()


def read(root: Path) -> Iterator[Candidate]:
    """Yield every response of both baseline models."""
    base = require(root / NAME / "saved_outputs" / "model_outputs")
    for path in sorted(base.glob("*/*.jsonl")):
        benchmark = path.name.split("_outputs_")[0]
        harmful = benchmark.startswith(HARMFUL_FILES)
        for _, row in read_jsonl(path):
            text = clean_response(str(row.get("response") or ""))
            yield _row(
                text=text,
                prompt=str(row.get("prompt") or "") or None,
                model_raw=str(row.get("model") or path.parent.name),
                subset=benchmark,
                hint=0.2 if harmful else 0.0,
                strict_normal=DEEPSEEK_STRICT_CHARS if "deepseek" in path.parent.name else False,
                exclude_reason=None if text else "empty_response",
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
