"""The model card's leave-one-family-out section and the command that reproduces it.

The results come from ``benchmarks/lofo.py`` (``refusal-detector card --lofo PATH``); a run whose
settings match the shipped run's sample size and max_length is called full-size. ``--lofo`` may be
given more than once (say the first round's recipe on five families, then the whole multi-round
recipe on the families that missed); each result gets its own table.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from refusal_detector.training.card_sections import _f, later_round

if TYPE_CHECKING:
    from refusal_detector.training.card import CardInputs

__all__ = ["lofo_command", "lofo_section"]


def lofo_section(inputs: CardInputs) -> str:
    """One paragraph and table per leave-one-family-out result (``--lofo``, repeatable)."""
    if inputs.lofo is None:
        return "_Leave-one-family-out results were not given to the card generator._"
    return "\n\n".join(_lofo_table(inputs, lofo) for lofo in [inputs.lofo, *inputs.more_lofo])


def _rounds_caveat(inputs: CardInputs, settings: dict[str, Any]) -> str:
    """What the rows measure: every round of the shipped recipe, or its first round only."""
    config = inputs.training_log.get("config", {})
    rounds = int(settings.get("rounds", 1))
    if rounds > 1:
        seeds = settings.get("seeds", [42] * rounds)
        return (
            f" Each family's run is the whole {rounds}-round recipe: round 1 from the base model, "
            "each later round from the previous round's weights (seeds "
            f"{', '.join(str(s) for s in seeds)}), as the shipped model was trained, so these rows "
            "measure the shipped recipe."
        )
    layers = config.get("num_layers")
    if later_round(inputs.training_log) or (
        layers is not None and settings.get("num_layers") != layers
    ):
        kept = f"the bottom {layers} layers of " if layers is not None else ""
        flags = "--base-model RUN" + (f" --num-layers {layers}" if layers is not None else "")
        return (
            " The shipped model is a later round, not run per family here: "
            f"{kept}a trained run fine-tuned again with the same recipe (`{flags}`), so these rows "
            "measure the first round."
        )
    return ""


def _lofo_table(inputs: CardInputs, lofo: dict[str, Any]) -> str:
    settings = lofo.get("settings", {})
    config = inputs.training_log.get("config", {})
    full_size = settings.get("max_train_samples") == config.get("max_train_samples") and (
        settings.get("max_length") == config.get("max_length")
    )
    size = (
        "**full-size** training run (the shipped run's sample size and max_length)"
        if full_size
        else "**short** training run"
    )
    caveat = (
        "Each run is as long as the shipped one."
        if full_size
        else "These are shorter than the main run, so they understate what a full run without "
        "the family would reach."
    )
    caveat += _rounds_caveat(inputs, settings)
    parts = [
        f"Each row is a separate, {size} from the same base model with every "
        "response of one LLM family removed from training and validation, then scored on the "
        f"{settings.get('scored_on', 'held-out family test rows')} (none seen in training), to "
        "estimate how the detector does on a family it never saw. "
        f"Settings: {json.dumps(settings)}. {caveat} F1 is at threshold 0.5; AUROC does not "
        "depend on the threshold.",
        "",
        "| held-out family | test n | refusals | accuracy | precision | recall | F1 | AUROC "
        "| shipped model F1 (test split, see Evaluation) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    main_families = (inputs.evaluation or {}).get("slices", {}).get("family", {})
    for family, r in lofo.get("families", {}).items():
        main = main_families.get(family, {})
        parts.append(
            f"| {family} | {r['n']} | {r['refusals']} | {_f(r['accuracy'])} "
            f"| {_f(r.get('precision'))} | {_f(r.get('recall'))} | {_f(r.get('f1'))} "
            f"| {_f(r.get('auroc'))} | {_f(main.get('f1'))} |"
        )
    return "\n".join(parts)


def lofo_command(lofo: dict[str, Any] | None, data: str) -> str:
    """The benchmark's own command when its JSON records it, else rebuilt from its settings."""
    lofo = lofo or {}
    if "command" in lofo:
        return str(lofo["command"])
    flags = ""
    for key, value in lofo.get("settings", {}).items():
        if key == "scored_on" or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        flags += f" {flag}" if value is True else f" {flag} {value}"
    return f"python benchmarks/lofo.py --data {data} --out runs/lofo.json{flags}"
