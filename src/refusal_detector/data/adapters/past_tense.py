"""past_tense: JBB-100 behaviours reformulated in the past/future tense, 11 target models.

One stored response per (model, tense, behaviour): the restart at which the attack stopped. The
prompt sent was ``request_reformulated`` (not ``request``); ``request`` is the JBB behaviour and
becomes the ``jbb-behavior:`` group, so the same behaviour in jailbreakbench_artifacts and
jbb_judge_comparison shares a split. ``jailbroken_gpt`` (GPT-4 harm judge) is only a weak vote
(``meta["jailbroken"]``) for the explicit rules of ``apply_source_rules``: R2D2 is 94-98 %
"jailbroken" while a third of its answers open with a refusal. Responses stop at 150 tokens;
the generic "I'm sorry, but I can't assist with that request." recurs (dedup keeps one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "past_tense"
LICENSE = "MIT (README statement)"
LICENSE_CLASS: LicenseClass = "permissive"
TENSES = ("past_tense", "future_tense", "finetuned_gpt3.5_turbo")


def read(root: Path) -> Iterator[Candidate]:
    """Yield every artifact with a response."""
    base = require(root / NAME / "jailbreak_artifacts")
    for tense in TENSES:
        for path in sorted((base / tense).glob("*.json")):
            data = read_json(path)
            if not isinstance(data, dict) or "jb_artifacts" not in data:
                raise DataError(f"{path}: expected an object with 'jb_artifacts'")
            model = str(data.get("target_model") or path.stem)
            if tense == "finetuned_gpt3.5_turbo":  # ft:gpt-3.5-turbo-0125:<org>::<id>
                model = "gpt-3.5-turbo-0125-finetuned"
            for item in data["jb_artifacts"]:
                response, prompt = item.get("response"), item.get("request_reformulated")
                if not response or not prompt:
                    continue
                jailbroken = item.get("jailbroken_gpt")
                yield _row(
                    text=str(response),
                    prompt=str(prompt),
                    model_raw=model,
                    subset=tense,
                    group=f"jbb-behavior:{item.get('request', '')}",
                    meta={
                        "jailbroken": jailbroken if isinstance(jailbroken, bool) else None,
                        "jailbroken_llama": item.get("jailbroken_llama"),
                        "jailbroken_rules": item.get("jailbroken_rules"),
                        "behavior": item.get("request", ""),
                    },
                )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
