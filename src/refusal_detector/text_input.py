"""The one policy for text the model cannot read as given: unencodable characters, over-long texts.

It is applied where text enters the package: :class:`~refusal_detector.RefusalDetector`'s public
methods (and so the scanners and ``classify``), and the file readers of ``predict``.

- **Unencodable characters are replaced.** A Python ``str`` can hold lone surrogates
  (U+D800..U+DFFF): JSON escapes such as ``"\\ud800"``, or undecodable bytes that Python maps to
  U+DC80..U+DCFF (command-line arguments, ``errors="surrogateescape"``). They are not Unicode
  scalar values, so they have no UTF-8 encoding, and neither the tokenizer nor a UTF-8 output file
  can take them. Each one becomes U+FFFD, one character for one, so that character offsets (refusal
  spans, token windows) still index the original text; the text is then scored, and the
  replacement is reported (a ``warning`` field per row in ``predict`` output, a ``warning`` key in
  ``classify`` output, a log warning from the API). Every other code point (NUL, control
  characters, noncharacters such as U+FFFE, private use) encodes fine and is read as is. Invalid
  UTF-8 bytes in an input file follow the same rule.
- **Texts longer than ``max_chars`` are cut.** Such a text is scored on its first ``max_chars``
  characters (:data:`DEFAULT_MAX_CHARS` unless configured; None reads every character), which
  bounds the time one row can take; the cut is reported the same way. A refusal beyond the cut is
  not seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from refusal_detector.errors import ConfigError, InvalidTextError

__all__ = [
    "DEFAULT_MAX_CHARS",
    "REPLACEMENT_CHARACTER",
    "PreparedText",
    "check_max_chars",
    "describe_replaced",
    "prepare_texts",
    "replace_unencodable",
]

DEFAULT_MAX_CHARS = 100_000
"""Characters of a text the model reads by default: about 20,000 words, a few hundred windows of
128 tokens (317 for "word " x 20,000). Longer LLM outputs are rare; see docs/reliability.md."""
REPLACEMENT_CHARACTER = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_unencodable(text: str) -> tuple[str, int]:
    """``text`` with every lone surrogate replaced by U+FFFD, and how many were replaced."""
    try:
        text.encode("utf-8")  # the common case: a C-speed check, no copy kept
    except UnicodeEncodeError:
        return _SURROGATE.subn(REPLACEMENT_CHARACTER, text)
    return text, 0


def describe_replaced(count: int) -> str:
    """How a replacement is reported, e.g. ``2 unencodable characters ... replaced with U+FFFD``."""
    if count == 1:
        what = "1 unencodable character (a lone surrogate or an invalid UTF-8 byte)"
    else:
        what = f"{count} unencodable characters (lone surrogates or invalid UTF-8 bytes)"
    return f"{what} replaced with U+FFFD"


def check_max_chars(max_chars: int | None) -> int | None:
    """Return ``max_chars`` if it is None or >= 1, else raise ConfigError."""
    if max_chars is not None and (isinstance(max_chars, bool) or max_chars < 1):
        raise ConfigError(f"max_chars must be >= 1 or None (no limit), got {max_chars!r}")
    return max_chars


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A text as the model reads it.

    Attributes:
        text: the original with unencodable characters replaced, cut to ``max_chars``.
        replaced: how many unencodable characters were replaced with U+FFFD.
        original_chars: the original length, when the text was cut; else None.
    """

    text: str
    replaced: int = 0
    original_chars: int | None = None

    @property
    def warning(self) -> str | None:
        """What was changed, for the row's ``warning`` field; None when the text is read as is."""
        notes = []
        if self.replaced:
            notes.append(describe_replaced(self.replaced))
        if self.original_chars is not None:
            notes.append(
                f"text has {self.original_chars:,} characters; "
                f"scored on the first {len(self.text):,} (max_chars)"
            )
        return "; ".join(notes) or None


def prepare_texts(texts: str | Sequence[str], *, max_chars: int | None) -> list[PreparedText]:
    """Apply the policy to each text; a single str is a list of one.

    Raises:
        InvalidTextError: ``texts`` is not a str or a sequence of str; names the index at fault.
    """
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, bytes | bytearray | memoryview):
        raise InvalidTextError(
            f"texts must be a str or a sequence of str, got {type(texts).__name__}; "
            "decode it first (e.g. data.decode('utf-8', errors='replace'))"
        )
    try:
        items = list(texts)
    except TypeError as exc:
        raise InvalidTextError(
            f"texts must be a str or a sequence of str, got {type(texts).__name__}"
        ) from exc
    prepared = []
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidTextError(
                f"texts[{index}] must be a str, got {type(text).__name__}", index=index
            )
        text, replaced = replace_unencodable(str(text))
        original = None
        if max_chars is not None and len(text) > max_chars:
            original, text = len(text), text[:max_chars]
        prepared.append(PreparedText(text, replaced, original))
    return prepared
