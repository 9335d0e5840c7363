"""refusal_direction (Arditi et al. 2024): 5 open chat models on harmful and harmless prompts.

The stored ``is_jailbreak_substring_matching`` label is a substring heuristic and is ignored
(training on it would teach the list). Baseline and ablation conditions are labelled by the
labelling functions; ``*_actadd`` conditions are activation-steered, often degenerate loops and
are excluded as a separate slice (reason ``steered_actadd``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "refusal_direction"
LICENSE = "Apache-2.0"
LICENSE_CLASS: LicenseClass = "permissive"


def read(root: Path) -> Iterator[Candidate]:
    """Yield completions of every model and condition found under ``pipeline/runs``."""
    runs = require(root / NAME / "pipeline" / "runs")
    for path in sorted(runs.glob("*/completions/*_evaluations.json")):
        model = path.parent.parent.name
        condition = path.name.removesuffix("_evaluations.json")
        data = read_json(path)
        if not isinstance(data, dict) or "completions" not in data:
            raise DataError(f"{path}: expected an object with a 'completions' list")
        harmful = condition.startswith("jailbreakbench")
        for item in data["completions"]:
            yield _row(
                text=str(item["response"]),
                prompt=str(item["prompt"]),
                model_raw=model,
                subset=condition,
                hint=0.3 if condition == "jailbreakbench_baseline" else 0.0,
                exclude_reason="steered_actadd" if condition.endswith("actadd") else None,
                meta={"harmful_prompt": harmful},
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
