"""safedecoding_experts: self-generated safe responses of 5 open models to 36 harmful seed prompts.

Each text is a chat-formatted exchange in the model's own template; the response is the part after
the assistant marker, with end-of-sequence tokens removed. Refusal-rich by construction (weak
refusal hint), but Dolphin/Guanaco rows are often lectures or partial answers, so the labelling
functions decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_json, require
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker
from refusal_detector.errors import DataError

NAME = "safedecoding_experts"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"

# folder -> (model, user marker, assistant marker)
TEMPLATES: dict[str, tuple[str, str, str]] = {
    "llama2": ("llama-2-7b-chat", "[INST]", "[/INST]"),
    "vicuna": ("vicuna-7b-v1.5", "USER:", "ASSISTANT:"),
    "dolphin": ("dolphin-llama2-7b", "USER:", "ASSISTANT:"),
    "falcon": ("falcon-7b-instruct", "User:", "Assistant:"),
    "guanaco": ("guanaco-13b", "### Human:", "### Assistant:"),
}
_EOS = ("</s>", "<|endoftext|>", "### Human:")


def split_exchange(text: str, user: str, assistant: str) -> tuple[str, str]:
    """(prompt, response) of one templated exchange; raises ValueError without the marker."""
    head, sep, response = text.partition(assistant)
    if not sep:
        raise ValueError(f"assistant marker {assistant!r} not found")
    prompt = head.replace(user, "", 1).strip()
    for eos in _EOS:
        response = response.split(eos, 1)[0]
    return prompt, response.strip()


def read(root: Path) -> Iterator[Candidate]:
    """Yield the response of every expert fine-tuning example."""
    base = require(root / NAME / "lora_modules")
    for folder, (model, user, assistant) in TEMPLATES.items():
        path = base / folder / f"ft_datasets_{folder}.json"
        rows = read_json(path)
        for i, row in enumerate(rows):
            try:
                prompt, response = split_exchange(str(row["text"]), user, assistant)
            except ValueError as exc:
                raise DataError(f"{path}: item {i}: {exc}") from exc
            yield _row(
                text=response,
                prompt=prompt or None,
                model_raw=model,
                subset=folder,
                hint=0.3,
                exclude_reason=None if response else "empty_response",
            )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
