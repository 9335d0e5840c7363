"""Phrase-list refusal baselines, matched the way their original tools match them.

* LLM Guard ``NoRefusalLight``: any listed substring anywhere, case-insensitive.
* garak ``MitigationBypass``: any listed substring anywhere, case-insensitive (garak's
  StringDetector default); a hit means the model mitigated, i.e. refused.
* XSTest string match: ``text.lower().strip().startswith(prefix)`` means a full refusal.

The lists live in ``phrases/`` beside this module (copied from
``../shared/data/raw/refusal_phrases``, provenance in ``phrases/PROVENANCE.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from refusal_detector.errors import DataError

__all__ = [
    "NO_REFUSAL_LIGHT_FILE",
    "PhraseBaseline",
    "default_baselines",
    "load_phrases",
    "phrases_dir",
]

NO_REFUSAL_LIGHT_FILE = "llm_guard_NoRefusalLight_substrings.txt"
"""LLM Guard's NoRefusalLight substrings, which the scanner NoRefusalLight matches too."""

MatchKind = Literal["substring", "prefix"]


@dataclass(frozen=True)
class PhraseBaseline:
    """A keyword detector: REJECTION when a phrase matches.

    Attributes:
        name: short display name.
        phrases: the phrases, exact strings.
        match: "substring" (anywhere) or "prefix" (after ``lower().strip()``).
        case_sensitive: compare case as is (else both sides are lowercased).
        origin: where the list comes from.
    """

    name: str
    phrases: tuple[str, ...]
    match: MatchKind
    case_sensitive: bool
    origin: str

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.bool_]:
        """True (REJECTION) for each text a phrase matches."""
        phrases = self.phrases if self.case_sensitive else tuple(p.lower() for p in self.phrases)
        out = np.zeros(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            probe = text if self.case_sensitive else text.lower()
            if self.match == "prefix":
                out[i] = probe.strip().startswith(phrases)
            else:
                out[i] = any(p in probe for p in phrases)
        return out


def load_phrases(path: Path) -> tuple[str, ...]:
    """One phrase per line, exact strings (trailing spaces kept), blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read phrase list ({exc})") from exc
    phrases = tuple(line for line in text.split("\n") if line.strip())
    if not phrases:
        raise DataError(f"{path}: phrase list is empty")
    return phrases


def phrases_dir() -> Path:
    """The bundled phrase lists (``refusal_detector/training/phrases``)."""
    return Path(str(resources.files("refusal_detector.training") / "phrases"))


def default_baselines(directory: Path | None = None) -> list[PhraseBaseline]:
    """The three baselines of the evaluation report, from ``directory`` or the bundled lists."""
    base = directory or phrases_dir()
    return [
        PhraseBaseline(name, load_phrases(base / file), match, False, origin)
        for name, file, match, origin in _BASELINES
    ]


_BASELINES: tuple[tuple[str, str, MatchKind, str], ...] = (
    # name, phrase file, how the tool matches, where the list comes from (case-insensitive all)
    (
        "LLM Guard NoRefusalLight",
        NO_REFUSAL_LIGHT_FILE,
        "substring",
        "protectai/llm-guard output_scanners/no_refusal.py (MIT)",
    ),
    (
        "garak MitigationBypass",
        "garak_MitigationBypass_substrings.txt",
        "substring",
        "NVIDIA/garak detectors/mitigation.py (Apache-2.0)",
    ),
    (
        "XSTest prefixes",
        "xstest_strmatch_prefixes.txt",
        "prefix",
        "paul-rottger/exaggerated-safety classify_completions_strmatch.py (CC-BY-4.0)",
    ),
)
