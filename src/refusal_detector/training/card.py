"""Model card generator: README.md in the format of ProtectAI's distilroberta-base-rejection-v1.

Every figure comes from a file written by a command, never typed by hand:

- ``training_log.json`` (``refusal-detector train``): hyperparameters, sample, per-epoch table;
- ``emissions.json`` (codecarbon, offline): kg CO2-eq;
- ``quantization_report.json`` (``refusal-detector export``): int8 vs fp32 agreement and F1;
- an evaluation ``report.json`` (``refusal-detector evaluate --out``): test metrics and slices;
- the corpus ``datacard.json``: sources, licences, counts;
- optionally a leave-one-family-out JSON (``benchmarks/lofo.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refusal_detector.errors import DataError
from refusal_detector.model_dir import (
    CARD_FILE,
    EMISSIONS_FILE,
    ONNX_SUBDIR,
    QUANTIZATION_REPORT_FILE,
    REPORT_FILE,
    TRAINING_LOG_FILE,
)
from refusal_detector.templates import render_template
from refusal_detector.training import card_sections as sections
from refusal_detector.training.card_external import external_gold_section
from refusal_detector.training.card_lofo import lofo_section
from refusal_detector.training.config import PACKAGED_BASE_MODEL

__all__ = ["CardInputs", "render_card", "write_card"]

MODEL_NAME = "refusal-detector-minilm"


@dataclass(frozen=True)
class CardInputs:
    """The JSON documents a card is built from (missing ones leave their section out, saying so)."""

    model_dir: Path
    training_log: dict[str, Any]
    emissions: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    datacard: dict[str, Any] | None = None
    lofo: dict[str, Any] | None = None
    more_lofo: list[dict[str, Any]] = field(default_factory=list)
    """Further leave-one-family-out results, each its own table after ``lofo``'s."""
    external_gold: dict[str, Any] | None = None
    model_name: str = MODEL_NAME
    extra_notes: list[str] = field(default_factory=list)

    @classmethod
    def from_paths(
        cls,
        *,
        model_dir: Path,
        eval_dir: Path | None = None,
        datacard: Path | None = None,
        lofo: Path | Sequence[Path] | None = None,
        external_gold: Path | None = None,
        training_log: Path | None = None,
        notes: list[str] | None = None,
    ) -> CardInputs:
        """Read the inputs; files default to their names inside ``model_dir``.

        Raises:
            DataError: a named file is missing or not a JSON object; ``training_log.json`` is
                required.
        """
        log_path = training_log or model_dir / TRAINING_LOG_FILE
        lofos = [lofo] if isinstance(lofo, Path) else list(lofo or [])
        lofo_docs = [_read(path, required=True) or {} for path in lofos]
        return cls(
            model_dir=model_dir,
            training_log=_read(log_path, required=True) or {},
            emissions=_read(model_dir / EMISSIONS_FILE),
            quantization=_read(model_dir / QUANTIZATION_REPORT_FILE),
            evaluation=_read(eval_dir / REPORT_FILE, required=True) if eval_dir else None,
            datacard=_read(datacard, required=True) if datacard else None,
            lofo=lofo_docs[0] if lofo_docs else None,
            more_lofo=lofo_docs[1:],
            external_gold=_read(external_gold, required=True) if external_gold else None,
            extra_notes=list(notes or []),
        )


def _read(path: Path, *, required: bool = False) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise DataError(f"{path}: file not found (it is written by refusal-detector commands)")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object")
    return value


def render_card(inputs: CardInputs) -> str:
    """The model card as markdown with YAML front matter (``templates/model_card.md``, filled)."""
    log = inputs.training_log
    versions = log.get("framework_versions", {})
    values = {
        "front_matter": sections.front_matter(inputs),
        "model_name": inputs.model_name,
        "base_model": log.get("base_model_name", PACKAGED_BASE_MODEL),
        "n_sources": (inputs.datacard or {}).get("n_sources", "several"),
        "headline": sections.headline(inputs.evaluation),
        "external_gold_section": external_gold_section(inputs.external_gold),
        "max_length": log.get("max_length"),
        "usage_dir": "path/to/refusal-detector-minilm",
        "onnx_subdir": ONNX_SUBDIR,
        "data_section": sections.data_section(inputs),
        "changed_defaults": sections.changed_defaults(log),
        "hyperparameters": sections.hyperparameters(log),
        "epoch_table": sections.epoch_table(log),
        "emissions": sections.emissions(inputs.emissions),
        "evaluation_section": sections.evaluation_section(inputs),
        "lofo_section": lofo_section(inputs),
        "export_section": sections.export_section(inputs),
        "reproduce_commands": sections.reproduce_commands(inputs),
        "notes": sections.notes(inputs.extra_notes),
        "framework_versions": "\n".join(f"- {k} {v}" for k, v in versions.items() if v),
    }
    return render_template("refusal_detector.training", "model_card.md", values)


def write_card(inputs: CardInputs, out_dir: Path) -> Path:
    """Write README.md into ``out_dir`` and return its path."""
    path = out_dir / CARD_FILE
    path.write_text(render_card(inputs), encoding="utf-8")
    return path
