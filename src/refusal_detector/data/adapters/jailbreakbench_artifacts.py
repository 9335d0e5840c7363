"""jailbreakbench_artifacts: jailbreak prompts and responses of 4 target models with judge verdicts.

``jailbroken`` is an automatic harm judge, not a refusal label. Rule: ``jailbroken = true`` ->
candidate NORMAL (kept only when the labelling functions see no refusal); ``false`` -> refusals
and off-target outputs mixed, so the labelling functions decide. Null responses are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "jailbreakbench_artifacts"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield every artifact entry that has a response."""
    base = require(root / NAME / "attack-artifacts")
    for path in sorted(base.glob("*/*/*.json")):
        if "test-artifact" in path.relative_to(base).parts:  # 3 dummy entries upstream
            continue
        data = read_json(path)
        if not isinstance(data, dict) or "jailbreaks" not in data:
            continue
        model = str(data.get("parameters", {}).get("model") or path.stem)
        method = path.parent.parent.name
        for item in data["jailbreaks"]:
            if not item.get("response") or not item.get("prompt"):
                continue
            yield _row(
                text=str(item["response"]),
                prompt=str(item["prompt"]),
                model_raw=model,
                subset=method,
                group=f"jbb-behavior:{item.get('goal', '')}",
                meta={"jailbroken": bool(item.get("jailbroken"))},
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
