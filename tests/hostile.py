"""Hypothesis strategies for hostile input, shared by the fuzz tests (``from hostile import ...``).

Text is built from pieces that have broken text pipelines before: lone surrogates, NUL and other
control characters, bidi marks, combining-mark pile-ups, emoji ZWJ runs, every newline Python
knows, markdown structure the sentence splitter reacts to, abbreviations, and very long runs.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHARACTER = st.one_of(st.characters(exclude_categories=()), SURROGATES)
PIECES = (
    "\ud800", "\udfff", "\udc80", "\ud83d\ude00", "\ude00\ud83d", "\x00", "\x07", "\x1b[31m",
    "\x7f",
    "\u200e", "\u200f", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u0301" * 30, "e\u0301",
    "\U0001f44d\U0001f3fd" * 5, "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1fa\U0001f1f8",
    "\r\n", "\r", "\n", "\n\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85", " ", "\t",
    "\u3000", "\ufffe", "\uffff", "\U0010ffff", "\ue000", "```", "```python\n", "~~~", "# ", "## ",
    "1. ", "- ", "* ", "> ", "| a | b |", "---", "...", "\u2026", "e.g. ", "Dr. ", "U.S. ", "3.14",
    "\u3002", "\uff01", "\"", "'", ")", "Sorry, I can't help with that. ", "I cannot do that. ",
    "Sure! Here is a recipe for pancakes. ", "As an AI language model, ", "word ", "",
)  # fmt: skip
PIECE = st.sampled_from(PIECES)
RUN = st.tuples(PIECE, st.integers(1, 400)).map(lambda pair: pair[0] * pair[1])


def texts(*, max_pieces: int = 12, runs: bool = True) -> st.SearchStrategy[str]:
    """Arbitrary text: hostile pieces, arbitrary code points (surrogates included) and, with
    ``runs``, long runs of one piece (up to ~15,000 characters)."""
    parts = [PIECE, PIECE, st.text(ANY_CHARACTER, max_size=40)]
    part = st.one_of(*parts, RUN) if runs else st.one_of(*parts)
    return st.lists(part, max_size=max_pieces).map("".join)


def long_texts() -> st.SearchStrategy[str]:
    """A few long lines: thousands of words with no sentence end, or long hostile runs."""
    return st.tuples(
        st.sampled_from(("word ", "sorry ", "a", "\u0301", "\ud800", "x\r")),
        st.integers(2_000, 20_000),
    ).map(lambda pair: pair[0] * pair[1])


def json_values(leaf_text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """JSON-able values with hostile strings (keys too) and numbers at the edges of the format."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        leaf_text,
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(leaf_text, inner, max_size=3)
        ),
        max_leaves=6,
    )


@st.composite
def jsonl_lines(draw: st.DrawFn) -> bytes:
    """One JSONL line as bytes: mostly objects with a ``text`` field, sometimes broken."""
    kind = draw(st.sampled_from(("object",) * 6 + ("raw", "bad_utf8", "deep", "scalar")))
    if kind == "raw":
        return draw(st.sampled_from((b"not json", b"{", b'{"text": "x"', b"NaN", b"[]", b"null")))
    if kind == "deep":
        return b"[" * draw(st.integers(500, 5_000)) + b"]" * 3
    if kind == "scalar":
        return json.dumps(draw(json_values(texts(max_pieces=3)))).encode()
    row: dict[str, Any] = {}
    text_kind = draw(st.sampled_from(("text",) * 5 + ("null", "number", "missing", "nested")))
    if text_kind == "text":
        row["text"] = draw(texts())
    elif text_kind == "null":
        row["text"] = None
    elif text_kind == "number":
        row["text"] = draw(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
    elif text_kind == "nested":
        row["text"] = draw(st.lists(texts(max_pieces=2), max_size=2))
    row.update(
        draw(st.dictionaries(texts(max_pieces=2), json_values(texts(max_pieces=3)), max_size=3))
    )
    for name in ("label", "score", "error", "warning"):
        row.pop(name, None)  # an input that has them is refused as a whole, tested elsewhere
    # ensure_ascii turns every surrogate into a \ud800-style escape: JSON with odd escapes.
    line = json.dumps(row, ensure_ascii=draw(st.booleans()) or _has_surrogates(row))
    if kind == "bad_utf8":
        raw = line.encode("utf-8", "surrogatepass")
        cut = draw(st.integers(0, len(raw)))
        return (
            raw[:cut]
            + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90")))
            + raw[cut:]
        )
    return line.encode("utf-8")


def _has_surrogates(value: Any) -> bool:
    return "\\ud" in json.dumps(value).lower()


def has_newline(text: str) -> bool:
    """Whether ``text`` holds a character that ends a line of text-mode stdin."""
    return "\n" in text or "\r" in text
