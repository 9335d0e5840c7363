"""Reasoning traces: split a ``<think>...</think>`` block (DeepSeek-R1 style) from the answer.

Reasoning models write their deliberation before the answer, and the deliberation often reads like
a refusal ("I should not help with this ... but the user is a nurse, so ...") when the answer
complies, or the other way round. What the user received is the answer, so by default the detector
scores the answer alone. The rules, all case-insensitive and for the tags ``<think>`` and
``<thinking>`` alike:

- every ``<think>...</think>`` block, wherever it is, belongs to the trace; several blocks are
  joined (one per line);
- a closing tag with no opening tag before it (R1's chat template puts ``<think>`` in the prompt,
  so its outputs often start inside the trace): everything before it is trace;
- an opening tag that is never closed (an output cut off while thinking): the rest of the text is
  trace, so the answer may be empty;
- a text without any tag has no trace, and is scored whole in every mode.

Modes (:data:`REASONING_MODES`): ``"answer"`` (the default) scores the text outside the blocks;
``"trace"`` scores the trace instead; ``"both"`` scores both parts and the text's score is the
detector's reduction over the windows of both (max by default: a refusal in either counts);
``"raw"`` ignores the tags and scores the text as given. Refusal spans and the three-way verdict
read the sentences of the same parts (:func:`scored_regions`), with offsets into the original
text. An empty part is scored as the empty
text (the model sees just ``[CLS] [SEP]``), which is what an answer mode user gets for an output
that is all trace; ``"both"`` drops an empty part when the other is not empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from refusal_detector.errors import ConfigError

__all__ = [
    "REASONING_MODES",
    "ReasoningSplit",
    "check_reasoning_mode",
    "scored_parts",
    "split_reasoning",
]

REASONING_MODES = ("answer", "trace", "both", "raw")

_OPEN = re.compile(r"<(?:think|thinking)\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"</(?:think|thinking)\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReasoningSplit:
    """A text cut into its answer and its reasoning trace (both stripped of outer whitespace).

    ``answer_regions`` and ``trace_regions`` are the ``(start, end)`` character ranges of the
    text that make up each part (tags excluded), in text order.
    """

    answer: str
    trace: str
    has_trace: bool
    """True when the text held any think tag (even an empty block)."""
    answer_regions: tuple[tuple[int, int], ...] = ()
    trace_regions: tuple[tuple[int, int], ...] = ()


def check_reasoning_mode(mode: str) -> str:
    """Return ``mode`` if it is one of REASONING_MODES, else raise ConfigError."""
    if mode not in REASONING_MODES:
        raise ConfigError(f"reasoning must be one of {', '.join(REASONING_MODES)}; got {mode!r}")
    return mode


def split_reasoning(text: str) -> ReasoningSplit:
    """Cut ``text`` into answer and trace by the rules in the module docstring."""
    first_open = _OPEN.search(text)
    first_close = _CLOSE.search(text)
    if first_open is None and first_close is None:
        return ReasoningSplit(text.strip(), "", False, ((0, len(text)),), ())
    answer: list[tuple[int, int]] = []
    trace: list[tuple[int, int]] = []
    pos = 0
    if first_close is not None and (first_open is None or first_close.start() < first_open.start()):
        trace.append((0, first_close.start()))
        pos = first_close.end()
    while True:
        opened = _OPEN.search(text, pos)
        if opened is None:
            answer.append((pos, len(text)))
            break
        answer.append((pos, opened.start()))
        closed = _CLOSE.search(text, opened.end())
        if closed is None:
            trace.append((opened.end(), len(text)))
            break
        trace.append((opened.end(), closed.start()))
        pos = closed.end()
    # A stray closing tag left in the answer (a nested block, a doubled tag) is not content.
    answer = [piece for a, b in answer for piece in _without_closers(text, a, b)]
    return ReasoningSplit(
        answer="".join(text[a:b] for a, b in answer).strip(),
        trace="\n".join(text[a:b].strip() for a, b in trace if text[a:b].strip()),
        has_trace=True,
        answer_regions=tuple((a, b) for a, b in answer if b > a),
        trace_regions=tuple((a, b) for a, b in trace if b > a),
    )


def _without_closers(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces = []
    for match in _CLOSE.finditer(text, start, end):
        pieces.append((start, match.start()))
        start = match.end()
    pieces.append((start, end))
    return pieces


def scored_parts(text: str, mode: str) -> list[str]:
    """The texts the detector scores for ``text`` under ``mode`` (one or two; see the module)."""
    if mode == "raw":
        return [text]
    split = split_reasoning(text)
    if not split.has_trace:
        return [text]
    if mode == "answer":
        return [split.answer]
    if mode == "trace":
        return [split.trace]
    if mode == "both":
        parts = [p for p in (split.answer, split.trace) if p]
        return parts or [""]
    raise ConfigError(f"reasoning must be one of {', '.join(REASONING_MODES)}; got {mode!r}")


def scored_regions(text: str, mode: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` character ranges of ``text`` that ``mode`` reads, in text order.

    What refusal spans and the three-way verdict split into sentences, so that their offsets
    still index the original text.
    """
    check_reasoning_mode(mode)
    split = split_reasoning(text)
    if mode == "raw" or not split.has_trace:
        return [(0, len(text))]
    if mode == "answer":
        return list(split.answer_regions)
    if mode == "trace":
        return list(split.trace_regions)
    return sorted([*split.answer_regions, *split.trace_regions])
