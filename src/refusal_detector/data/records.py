"""Record types of the corpus build: what an adapter yields and what the corpus files hold.

A built corpus directory holds ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl`` (one
:class:`CorpusRecord` per line), ``partial.jsonl``, ``review_queue.jsonl``, ``excluded.jsonl``,
``balanced_out.jsonl`` (:data:`CAPPED_FILE`) and the data card ``datacard.json``/``datacard.md``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "CAPPED_FILE",
    "DATACARD_JSON",
    "DATACARD_MD",
    "EXCLUDED_FILE",
    "PARTIAL_FILE",
    "PERMISSIVE",
    "REVIEW_QUEUE_FILE",
    "Candidate",
    "CorpusRecord",
    "LicenseClass",
    "candidate_maker",
    "content_id",
    "fix_mojibake",
    "normalise_text",
]

PARTIAL_FILE = "partial.jsonl"
REVIEW_QUEUE_FILE = "review_queue.jsonl"
EXCLUDED_FILE = "excluded.jsonl"
DATACARD_JSON = "datacard.json"
DATACARD_MD = "datacard.md"
CAPPED_FILE = "balanced_out.jsonl"
"""Labelled rows the build set aside for its source/model caps or class ratio (with a reason)."""

LicenseClass = Literal["permissive", "nc"]
PERMISSIVE: LicenseClass = "permissive"

_WS = re.compile(r"\s+")
# Mac-Roman / cp1252 mojibake of UTF-8 punctuation seen in coconot and the JBB judge CSV.
_MOJIBAKE_MARKERS = (
    "\u201a\u00c4\u00f4",  # mac_roman reading of U+2019
    "\u201a\u00c4\u00fa",
    "\u201a\u00c4\u00f9",
    "\u201a\u00c4\u00ee",
    "\u201a\u00c4\u00ec",
    "\u00e2\u20ac",  # cp1252 reading of U+20xx punctuation
    "\u00c3\u00a9",
    "\u00c3\u00b1",
)


def normalise_text(text: str) -> str:
    """Source-independent normal form used for ids and exact dedup: NFKC, casefold, one space."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = text.replace("\u201d", '"')
    return _WS.sub(" ", text).strip().casefold()


def content_id(prompt: str | None, text: str) -> str:
    """Stable 16-hex-digit id: sha256 of the normalised prompt and response (source-independent)."""
    key = normalise_text(prompt or "") + "\x1f" + normalise_text(text)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Mac-Roman or cp1252, when that round-trips cleanly."""
    if not any(marker in text for marker in _MOJIBAKE_MARKERS):
        return text
    for codec in ("mac_roman", "cp1252"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return fixed
    return text


@dataclass
class Candidate:
    """One response as an adapter reads it, before labelling.

    ``source_label`` is a label the source itself justifies (a human refusal label, or a harm label
    converted by an explicit rule named in ``source_rule``); ``None`` leaves the row to the
    labelling functions. ``hint`` is a weak source prior in [-1, 1] (positive: refusal-rich slice)
    that the labelling functions may use as one small vote. ``strict_normal`` marks sources whose
    short replies are often evasive, so NORMAL needs compliance evidence below 400 characters
    (an int sets another length). ``group`` joins rows
    that must share a split beyond the prompt (a conversation, a question id).
    """

    text: str
    prompt: str | None
    source: str
    model_raw: str
    license: str
    license_class: LicenseClass
    subset: str = ""
    source_label: int | None = None
    source_rule: str | None = None
    partial: bool = False
    hint: float = 0.0
    strict_normal: bool | int = False
    group: str | None = None
    exclude_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def candidate_maker(
    source: str, license: str, license_class: LicenseClass
) -> functools.partial[Candidate]:
    """``Candidate`` with the source's name and licence filled in: an adapter states them once."""
    return functools.partial(Candidate, source=source, license=license, license_class=license_class)


@dataclass
class CorpusRecord:
    """One line of train/validation/test/partial.jsonl (the output contract)."""

    id: str
    text: str
    prompt: str | None
    source: str
    model: str
    family: str
    label: int | None
    label_origin: str
    license: str
    split: str
    partial: bool

    def to_json(self) -> dict[str, Any]:
        """Plain dict in the field order of the contract."""
        return asdict(self)
