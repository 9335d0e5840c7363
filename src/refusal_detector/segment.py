"""Sentences and token windows for long outputs.

Two ways to cut a long LLM output into pieces the model can read:

- :func:`split_sentences` cuts text into sentences with character offsets. It is rule-based and
  downloads nothing (no nltk punkt fetch). It keeps fenced code blocks whole, starts a new piece at
  every markdown heading, list item, blockquote and table row, and does not split after common
  abbreviations ("e.g.", "Dr."), initials ("J. K."), decimals or an ellipsis followed by lower case.
- :class:`TokenWindower` cuts the token ids of a text into windows of at most the model's
  ``max_length`` tokens (special tokens included), so that no part of a text goes unread: either
  overlapping windows at fixed token strides (``align="tokens"``), or whole sentences packed into
  windows (``align="sentences"``), which reads each token about once and never cuts a sentence
  (see :func:`pack_sentences`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from tokenizers import Encoding, Tokenizer

from refusal_detector.errors import ConfigError
from refusal_detector.text_input import replace_unencodable

__all__ = [
    "WINDOW_ALIGNMENTS",
    "Sentence",
    "TokenWindow",
    "TokenWindower",
    "pack_sentences",
    "plan_windows",
    "split_sentences",
]

WINDOW_ALIGNMENTS = ("sentences", "tokens")
"""How a long text is cut: whole sentences packed into windows, or fixed token strides."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or a markdown block such as a code block) of a text.

    ``text == source[start:end]``: offsets are character offsets into the original text, with
    surrounding whitespace excluded.
    """

    start: int
    end: int
    text: str


# Words that end in a period without ending a sentence, compared lower-cased and without the period.
# "etc." is not here: it usually ends a sentence when the next word is capitalised.
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "rev", "gen", "col", "lt",
        "sgt", "capt", "gov", "sen", "rep", "hon", "vs", "v", "cf", "fig", "figs", "eq", "eqs",
        "no", "nos", "vol", "vols", "pp", "p", "ch", "sec", "art", "ed", "eds", "approx", "est",
        "dept", "univ", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "al", "ca", "viz", "resp", "min", "max", "incl",
    }
)  # fmt: skip

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)])[ \t]+\S")
_QUOTE = re.compile(r"^[ \t]{0,3}>")
_TABLE_ROW = re.compile(r"^[ \t]*\|")
_RULE = re.compile(r"^[ \t]{0,3}(?:[-*_][ \t]*){3,}$")
# Candidate sentence ends: terminal punctuation, optional closing quotes/brackets/emphasis, then
# whitespace. CJK full stops end a sentence without any whitespace after them.
_CLOSERS = "\"'\u201d\u2019)]*_"  # quotes, brackets and emphasis that may follow the punctuation
_LATIN_END = re.compile(r"(?:[.!?]+|\u2026)[" + re.escape(_CLOSERS) + r"]*(?=\s)")
_CJK_END = re.compile("[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019)\uff09]*")
_WORD_BEFORE = re.compile(r"([\w.]+)\.\Z")
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
_LOOKBACK = 40  # characters looked at before a period: abbreviations and list markers are short
_INITIALISM = re.compile(r"(?:[A-Za-z]\.){2,}$")
_LIST_MARKER = re.compile(r"[ \t]*(?:\d{1,3}|[a-zA-Z])[.)]")


def split_sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences with character offsets; offline and deterministic.

    Fenced code blocks are one piece each; headings, list items, blockquote lines and table rows
    start a new piece; a line ending in a colon ends a piece (the list or code that follows is the
    next one). Whitespace-only text gives ``[]``.
    """
    sentences: list[Sentence] = []
    for block_start, block_end, is_code in _blocks(text):
        if is_code:
            sentences.extend(_trimmed(text, block_start, block_end))
        else:
            sentences.extend(_split_prose(text, block_start, block_end))
    return sentences


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, end excluding the newline."""
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        spans.append((pos, pos + len(stripped)))
        pos += len(line)
    return spans


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """Cut text into (start, end, is_code) blocks at markdown structure."""
    blocks: list[tuple[int, int, bool]] = []
    current: list[int] | None = None  # [start, end] of the open prose block
    fence: str | None = None
    code_start = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            blocks.append((current[0], current[1], False))
            current = None

    for start, end in _lines(text):
        line = text[start:end]
        if fence is not None:
            match = _FENCE.match(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                blocks.append((code_start, end, True))
                fence = None
            continue
        match = _FENCE.match(line)
        if match:
            close()
            fence, code_start = match.group(1), start
            continue
        if not line.strip():
            close()
            continue
        standalone = bool(_HEADING.match(line) or _TABLE_ROW.match(line) or _RULE.match(line))
        if standalone or _LIST_ITEM.match(line) or _QUOTE.match(line):
            close()
        if current is None:
            current = [start, end]
        else:
            current[1] = end
        if standalone or line.rstrip().endswith(":"):
            close()
    close()
    if fence is not None:  # an unclosed fence runs to the end of the text
        blocks.append((code_start, len(text), True))
    return blocks


def _trimmed(text: str, start: int, end: int) -> list[Sentence]:
    chunk = text[start:end]
    left = len(chunk) - len(chunk.lstrip())
    right = len(chunk.rstrip())
    if right <= left:
        return []
    return [Sentence(start + left, start + right, chunk[left:right])]


def _split_prose(text: str, start: int, end: int) -> list[Sentence]:
    block = text[start:end]
    cuts = sorted(
        {m.end() for m in _LATIN_END.finditer(block) if _ends_sentence(block, m)}
        | {m.end() for m in _CJK_END.finditer(block)}
    )
    pieces = []
    previous = 0
    for cut in [*cuts, len(block)]:
        pieces.extend(_trimmed(text, start + previous, start + cut))
        previous = cut
    return pieces


def _ends_sentence(block: str, match: re.Match[str]) -> bool:
    """Whether the punctuation in ``match`` ends a sentence (it is followed by whitespace).

    Looks at most ``_LOOKBACK`` characters back, so splitting stays linear in the text length.
    """
    following_match = _NEXT_VISIBLE.match(block, match.end())
    if following_match is None:
        return True
    following = following_match.group(1)
    # "e.g. the", "3 p.m. today", "wait... what": lower case continues the sentence.
    if following.islower():
        return False
    lookback = max(0, match.start() - _LOOKBACK)
    newline = block.rfind("\n", lookback, match.start())
    if (newline >= 0 or lookback == 0) and _LIST_MARKER.fullmatch(
        block, newline + 1, match.end()
    ):  # "1. Open the file."
        return False
    punct = match.group(0)
    if punct.startswith(".") and punct.rstrip(_CLOSERS) == ".":
        word = _WORD_BEFORE.search(block[lookback : match.start() + 1])
        if word:
            token = word.group(1)
            bare = token.rstrip(".").rsplit(".", 1)[-1].lower()
            if bare in _ABBREVIATIONS and not (bare == "no" and not following.isdigit()):
                return False
            if len(token) == 1 and token.isupper():  # an initial: "J. K. Rowling"
                return False
            if _INITIALISM.search(token + "."):  # "U.S.", "e.g.", "i.e."
                return False
    return True


@dataclass(frozen=True, slots=True)
class TokenWindow:
    """One model input cut from a text.

    ``ids`` is a complete model input (special tokens included); ``char_start``/``char_end`` are the
    character offsets of the text it covers.
    """

    ids: list[int]
    char_start: int
    char_end: int


def plan_windows(n_tokens: int, *, size: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges ``(start, end)`` of overlapping windows covering ``n_tokens`` tokens.

    Windows hold ``size`` tokens and start ``stride`` tokens apart; the last window is aligned to
    the end of the text, so every window is full and every token is covered. A text of at most
    ``size`` tokens (including zero) is one window.

    Raises:
        ConfigError: ``size`` < 1, or ``stride`` not in [1, size].
    """
    if size < 1:
        raise ConfigError(f"window size must be >= 1 token, got {size}")
    if not 1 <= stride <= size:
        raise ConfigError(
            f"window stride must be in [1, {size}] tokens (the window size), got {stride}"
        )
    if n_tokens <= size:
        return [(0, n_tokens)]
    windows = [(s, s + size) for s in range(0, n_tokens - size, stride)]
    windows.append((n_tokens - size, n_tokens))
    return windows


def pack_sentences(
    sentence_starts: Sequence[int], n_tokens: int, *, size: int, stride: int
) -> list[tuple[int, int]]:
    """Token ranges ``(start, end)`` of windows that pack whole sentences, covering ``n_tokens``.

    ``sentence_starts`` are the token indices where sentences begin, ascending (a sentence runs to
    the next one's start). Consecutive sentences go into one window while they fit in ``size``
    tokens; windows do not overlap, so each token is read once. A sentence longer than ``size``
    gets windows of its own, cut by :func:`plan_windows` with ``stride``.

    Raises:
        ConfigError: ``size`` < 1, or ``stride`` not in [1, size].
    """
    plan_windows(0, size=size, stride=stride)  # validates size and stride
    if n_tokens <= size:
        return [(0, n_tokens)]
    cuts = sorted({0, *(c for c in sentence_starts if 0 < c < n_tokens), n_tokens})
    windows: list[tuple[int, int]] = []
    start = 0
    for begin, end in pairwise(cuts):
        if end - start <= size:
            continue  # this sentence still fits in the open window
        if begin > start:
            windows.append((start, begin))
        if end - begin > size:  # a sentence longer than a window: token windows inside it
            windows.extend(
                (begin + a, begin + b)
                for a, b in plan_windows(end - begin, size=size, stride=stride)
            )
            start = end
        else:
            start = begin
    if start < n_tokens:
        windows.append((start, n_tokens))
    return windows


class TokenWindower:
    """Cut texts into windows of model inputs.

    Args:
        tokenizer: the model's tokenizer; it is copied, so its truncation settings are left alone.
        max_length: tokens per window, special tokens included (the model window).
        stride: tokens between the starts of consecutive token-aligned windows; the overlap is
            ``content_size - stride``. ``None`` means an ``overlap`` share of a window, so that
            any span of up to that many tokens lies whole inside at least one window. With
            ``align="sentences"`` it applies only inside a sentence longer than a window.
        overlap: the share of a window that consecutive windows share when ``stride`` is None
            (default 0.5: half a window); the stride is ``int(content_size * (1 - overlap))``.
        align: ``"tokens"``: overlapping windows at fixed strides; ``"sentences"``: whole sentences
            (:func:`split_sentences`) packed into windows without overlap
            (:func:`pack_sentences`), so a long text costs about one model token per text token.

    Raises:
        ConfigError: ``max_length`` leaves no room for text, or ``stride`` or ``align`` is out of
            range.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        max_length: int,
        stride: int | None = None,
        align: str = "tokens",
        overlap: float = 0.5,
    ) -> None:
        if not 0.0 <= overlap < 1.0:
            raise ConfigError(f"window overlap must be in [0, 1), got {overlap}")
        if align not in WINDOW_ALIGNMENTS:
            raise ConfigError(
                f"window alignment must be one of {', '.join(WINDOW_ALIGNMENTS)}, got {align!r}"
            )
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.prefix, self.suffix = _special_affixes(self._tokenizer)
        self.content_size = max_length - len(self.prefix) - len(self.suffix)
        if self.content_size < 1:
            raise ConfigError(
                f"max_length must leave room for text after {len(self.prefix) + len(self.suffix)} "
                f"special tokens, got {max_length}"
            )
        self.max_length = max_length
        self.align = align
        if stride is None:
            stride = max(1, int(self.content_size * (1.0 - overlap)))
        self.stride = stride
        plan_windows(0, size=self.content_size, stride=self.stride)  # validates the stride

    def windows(self, texts: Sequence[str]) -> list[list[TokenWindow]]:
        """Windows per text, in text order; every text gets at least one window.

        Lone surrogates, which the tokenizer cannot take, are read as U+FFFD (one for one, so the
        character offsets still index the given text); see ``refusal_detector.text_input``.
        """
        texts = _encodable(texts)
        encodings = self._encode(texts)
        result = []
        for text, encoding in zip(texts, encodings, strict=True):
            ids, offsets = encoding.ids, encoding.offsets
            text_windows = []
            for start, end in self.plan(text, offsets):
                char_start = offsets[start][0] if end > start else 0
                char_end = offsets[end - 1][1] if end > start else 0
                text_windows.append(
                    TokenWindow([*self.prefix, *ids[start:end], *self.suffix], char_start, char_end)
                )
            result.append(text_windows)
        return result

    def window_ids(self, texts: Sequence[str]) -> list[list[list[int]]]:
        """The model inputs of :meth:`windows` alone (no offsets kept), per text."""
        texts = _encodable(texts)
        encodings = self._encode(texts)
        prefix, suffix, size = self.prefix, self.suffix, self.content_size
        result: list[list[list[int]]] = []
        for text, encoding in zip(texts, encodings, strict=True):
            ids = encoding.ids
            if len(ids) <= size:  # the common case: one window, no planning
                result.append([[*prefix, *ids, *suffix]])
            else:
                plan = self.plan(text, encoding.offsets)
                result.append([[*prefix, *ids[a:b], *suffix] for a, b in plan])
        return result

    def _encode(self, texts: list[str]) -> list[Encoding]:
        # encode_batch hands texts to a thread pool; for one text (a served request) the handoff
        # costs more than the encoding, so one text is encoded on the calling thread.
        if len(texts) == 1:
            return [self._tokenizer.encode(texts[0], add_special_tokens=False)]
        return self._tokenizer.encode_batch(texts, add_special_tokens=False)

    def plan(self, text: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Token ranges of the windows of ``text``, given its tokens' character ``offsets``."""
        n_tokens = len(offsets)
        if self.align == "tokens" or n_tokens <= self.content_size:
            return plan_windows(n_tokens, size=self.content_size, stride=self.stride)
        token_starts = [start for start, _ in offsets]
        sentence_starts = [bisect_left(token_starts, s.start) for s in split_sentences(text)]
        return pack_sentences(sentence_starts, n_tokens, size=self.content_size, stride=self.stride)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens per text (special tokens excluded, nothing truncated)."""
        return [
            len(e.ids)
            for e in self._tokenizer.encode_batch(_encodable(texts), add_special_tokens=False)
        ]


def _encodable(texts: Sequence[str]) -> list[str]:
    return [replace_unencodable(text)[0] for text in texts]


def _special_affixes(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """Special token ids the post-processor puts before and after one text ([CLS] ... [SEP])."""
    encoding = tokenizer.encode("a", add_special_tokens=True)
    mask = encoding.special_tokens_mask
    lead = 0
    while lead < len(mask) and mask[lead]:
        lead += 1
    trail = 0
    while trail < len(mask) - lead and mask[len(mask) - 1 - trail]:
        trail += 1
    ids = encoding.ids
    return ids[:lead], ids[len(ids) - trail :]
