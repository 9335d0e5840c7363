"""RefusalDetector: tokenise, batch, run a backend, softmax, threshold, pipeline-shaped output."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from refusal_detector.backends import Backend, load_backend, resolve_backend_kind
from refusal_detector.calibration import Calibration, read_calibration
from refusal_detector.errors import ConfigError, ModelLoadError
from refusal_detector.feed import pad_batch, rejection_probability
from refusal_detector.labels import ID2LABEL, NORMAL, REJECTION
from refusal_detector.model_dir import (
    CALIBRATION_FILE,
    TOKENIZER_FILE,
    check_model_dir,
    check_tokenizer_vocab,
    model_max_length,
    pad_token_id,
    read_tokenizer_config,
)
from refusal_detector.reasoning import check_reasoning_mode, scored_parts
from refusal_detector.segment import TokenWindower
from refusal_detector.spans import (
    RefusalVerdict,
    SentenceScore,
    VerdictConfig,
    refusal_verdicts,
    score_sentences,
)
from refusal_detector.text_input import (
    DEFAULT_MAX_CHARS,
    PreparedText,
    check_max_chars,
    prepare_texts,
)

__all__ = [
    "AUTO_THRESHOLD",
    "REDUCTIONS",
    "RefusalDetector",
    "check_threshold",
    "default_model_dir",
    "rejection_probability",
]

logger = logging.getLogger(__name__)

REDUCTIONS = ("max", "mean")
WINDOW_OVERLAP = 0.125
"""Share of a window that consecutive token-aligned windows share by default: an eighth keeps any
span of up to 15 tokens (a short refusal sentence) whole inside a 128-token window, at about 1.15
model tokens per text token (a quarter: 1.3; 50% overlap: 2). On the external gold set it scored
as a quarter did (docs/long_outputs.md), with a fifth fewer windows at ~400 tokens."""
"""How window scores become one text score: "max" (a refusal anywhere counts) or "mean"."""
AUTO_THRESHOLD = "auto"
"""Pass as ``threshold`` to use the one ``refusal-detector calibrate`` chose for the model."""


def default_model_dir() -> Path:
    """The shipped default model: ``refusal_detector/models/refusal-detector-minilm``."""
    return Path(__file__).parent / "models" / "refusal-detector-minilm"


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` if it lies in [0, 1], else raise ConfigError."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
    return threshold


class RefusalDetector:
    """Classify LLM outputs as REJECTION (a refusal) or NORMAL.

    Create one with :meth:`from_pretrained`. Nothing is truncated: a text longer than the model
    window is cut into windows of at most ``max_length`` tokens (special tokens included): by
    default overlapping windows that start ``window_stride`` tokens apart
    (``window_align="tokens"``; an eighth-window overlap unless ``window_stride`` is given), the
    way the model saw later windows in training, or whole sentences packed into windows without
    overlap (``window_align="sentences"``: each token read once, no sentence cut, but windows
    that start at a sentence boundary, which the shipped model reads less precisely; see
    docs/long_outputs.md). All windows of all texts are scored
    in batches, and a text's score is the ``reduction`` of its window scores (max by default: a
    refusal anywhere counts). A text that fits the window is one window, exactly as before. An
    empty or whitespace-only text is classified as is: the model sees just ``[CLS] [SEP]``.

    Every public method applies the package's text policy first (``refusal_detector.text_input``):
    lone surrogates, which no tokenizer can encode, become U+FFFD one for one (so offsets still
    index the original text), and a text longer than ``max_chars`` characters is read up to that
    length. Both are logged as warnings naming the text's index; :meth:`prepare_texts` returns
    them per text. A text that is not a str raises :class:`~refusal_detector.InvalidTextError`.

    A reasoning trace (``<think>...</think>``) is not scored by default: ``reasoning`` chooses
    the answer, the trace, both or the raw text (see :mod:`refusal_detector.reasoning`).

    Attributes:
        model_dir: the model directory.
        backend_name: "onnx" or "torch".
        tokenizer: the `tokenizers` tokenizer, configured without truncation or padding.
        max_length: tokens per sequence, special tokens included.
        id2label: ``{0: "NORMAL", 1: "REJECTION"}``.
        batch_size: sequences per backend call.
        window_stride: tokens between the starts of consecutive token-aligned windows (with
            sentence alignment: inside a sentence longer than a window).
        window_align: "sentences" or "tokens" (see above).
        reduction: "max" or "mean" over a text's window scores.
        max_chars: characters of a text that are read (None: all of them).
        reasoning: "answer", "trace", "both" or "raw" (see :mod:`refusal_detector.reasoning`).
        calibration: the directory's ``calibration.json`` (empty when it has none).
    """

    def __init__(
        self,
        *,
        model_dir: Path,
        backend: Backend,
        backend_name: str,
        tokenizer: Tokenizer,
        max_length: int,
        pad_id: int,
        batch_size: int = 32,
        window_stride: int | None = None,
        window_align: str = "tokens",
        reduction: str = "max",
        max_chars: int | None = DEFAULT_MAX_CHARS,
        reasoning: str = "answer",
        calibration: Calibration | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if reduction not in REDUCTIONS:
            raise ConfigError(
                f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}"
            )
        self.model_dir = model_dir
        self.backend = backend
        self.backend_name = backend_name
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.id2label: dict[int, str] = dict(ID2LABEL)
        self.reduction = reduction
        self.max_chars = check_max_chars(max_chars)
        self.reasoning = check_reasoning_mode(reasoning)
        self.calibration = calibration or Calibration()
        self._windower = TokenWindower(
            tokenizer,
            max_length=max_length,
            stride=window_stride,
            align=window_align,
            overlap=WINDOW_OVERLAP,
        )
        self.window_stride = self._windower.stride
        self.window_align = window_align
        self._token_types = "token_type_ids" in backend.input_names

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        backend: str = "auto",
        batch_size: int = 32,
        max_length: int | None = None,
        window_stride: int | None = None,
        window_align: str = "tokens",
        reduction: str = "max",
        max_chars: int | None = DEFAULT_MAX_CHARS,
        reasoning: str = "answer",
        num_threads: int | None = None,
    ) -> RefusalDetector:
        """Load a model directory; ``path=None`` loads the shipped default model.

        Args:
            path: a model directory (Hugging Face layout, see ``refusal_detector.model_dir``).
            backend: "onnx", "torch", or "auto" (onnx when ``onnx/model.onnx`` exists and
                onnxruntime is installed, else torch). A requested backend never falls back.
            batch_size: sequences per backend call.
            max_length: tokens per window; at most the model window (the default).
            window_stride: tokens between window starts for token-aligned windows (and inside a
                sentence longer than a window); None means an eighth-window overlap
                (``WINDOW_OVERLAP``: 110 tokens apart in a 128-token window).
            window_align: "tokens" (default): overlapping windows ``window_stride`` apart, about
                1.15 model tokens per text token at the default stride; "sentences": a long
                text's sentences packed into windows, each token read once. See
                docs/long_outputs.md.
            reduction: "max" (default) or "mean" over a text's window scores.
            max_chars: a longer text is scored on its first ``max_chars`` characters, which
                bounds the time one text can take (default 100,000, about 25,000 tokens); None
                reads every character. See docs/reliability.md.
            reasoning: what of a ``<think>...</think>`` output is scored: "answer" (default),
                "trace", "both" or "raw" (see :mod:`refusal_detector.reasoning`).
            num_threads: ONNX Runtime intra-op threads (onnx backend only; default: one per
                physical core). Set 1 when several processes share the cores.

        Raises:
            ModelLoadError: the directory is missing, incomplete or corrupt (names the file).
            BackendUnavailableError: the backend's dependencies are not installed.
            ConfigError: batch_size, max_length, window_stride, window_align, reduction,
                max_chars, reasoning or num_threads out of range, or num_threads with the torch
                backend.
        """
        if path is None:
            model_dir = default_model_dir()
            if not model_dir.is_dir():
                raise ModelLoadError(
                    f"{model_dir}: the default model is not installed; pass a model directory "
                    "(RefusalDetector.from_pretrained(path) or --model PATH)"
                )
        else:
            model_dir = Path(path).expanduser()
        kind = resolve_backend_kind(backend, model_dir)
        config = check_model_dir(model_dir, backend=kind)
        tokenizer_config = read_tokenizer_config(model_dir)
        window = model_max_length(config, tokenizer_config)
        if max_length is None:
            max_length = window
        elif not 2 < max_length <= window:
            raise ConfigError(
                f"max_length must be in [3, {window}] for this model, got {max_length}"
            )
        try:
            tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        except Exception as exc:  # tokenizers raises a bare Exception on a corrupt file
            raise ModelLoadError(f"{model_dir / TOKENIZER_FILE}: cannot load ({exc})") from exc
        check_tokenizer_vocab(model_dir / TOKENIZER_FILE, config, tokenizer.get_vocab().values())
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        pad_id = pad_token_id(config, tokenizer_config, tokenizer.get_vocab())
        calibration = read_calibration(model_dir)
        if num_threads is not None and num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1, got {num_threads}")
        loaded = load_backend(kind, model_dir, num_threads=num_threads)
        logger.info("loaded %s with the %s backend", model_dir, kind)
        return cls(
            model_dir=model_dir,
            backend=loaded,
            backend_name=kind,
            tokenizer=tokenizer,
            max_length=max_length,
            pad_id=pad_id,
            batch_size=batch_size,
            window_stride=window_stride,
            window_align=window_align,
            reduction=reduction,
            max_chars=max_chars,
            reasoning=reasoning,
            calibration=calibration,
        )

    @property
    def threshold(self) -> float:
        """The threshold ``refusal-detector calibrate`` chose for this model (``calibration.json``).

        Raises:
            ConfigError: the model directory has no calibrated threshold.
        """
        if self.calibration.threshold is None:
            raise ConfigError(
                f"{self.model_dir / CALIBRATION_FILE}: the model directory has no calibrated "
                "threshold; choose one with refusal-detector calibrate --model DIR --data PATH "
                "--target-precision P (or --target-recall R), or pass a number"
            )
        return self.calibration.threshold

    def resolve_threshold(self, threshold: float | str) -> float:
        """``threshold`` itself (checked to lie in [0, 1]), or :attr:`threshold` for "auto"."""
        if isinstance(threshold, str):
            if threshold != AUTO_THRESHOLD:
                raise ConfigError(
                    f"threshold must be a number in [0, 1] or {AUTO_THRESHOLD!r}, got {threshold!r}"
                )
            return self.threshold
        return check_threshold(threshold)

    def prepare_texts(self, texts: str | Sequence[str]) -> list[PreparedText]:
        """Each text as the model reads it, with what was changed (``.warning``), in order.

        Raises:
            InvalidTextError: a text is not a str (the message names its index).
        """
        return prepare_texts(texts, max_chars=self.max_chars)

    def _read(self, texts: str | Sequence[str]) -> list[str]:
        """The texts the model reads; every change is logged (never the text itself)."""
        prepared = self.prepare_texts(texts)
        for index, item in enumerate(prepared):
            if item.warning is not None:
                logger.warning("texts[%d]: %s", index, item.warning)
        return [item.text for item in prepared]

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, with special tokens, truncated to ``max_length``."""
        clean = self._read(texts)
        return [e.ids for e in self.tokenizer.encode_batch(clean, add_special_tokens=True)]

    def score_token_sequences(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """P(REJECTION) for each token-id sequence, in input order.

        Each sequence is a complete model input (special tokens included) of at most
        ``max_length`` ids. Sequences are sorted by length and batched with dynamic padding.
        """
        return rejection_probability(self.logits_token_sequences(sequences))

    def logits_token_sequences(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """The model's (n, 2) logits for each token-id sequence, in input order."""
        n = len(sequences)
        logits = np.empty((n, len(self.id2label)), dtype=np.float32)
        if not n:
            return logits
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
        if lengths.max() > self.max_length or lengths.min() < 1:
            raise ValueError(
                f"token sequences must hold 1 to {self.max_length} ids; "
                f"got lengths {lengths.min()}..{lengths.max()}"
            )
        # Longest first, so each batch pads to its own first row and padding stays small.
        order = np.argsort(-lengths, kind="stable") if n > 1 else np.zeros(1, dtype=np.int64)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [sequences[i] for i in idx]
            logits[idx] = self.backend.logits(self._feed(batch, lengths[idx]))
        return logits

    def model_inputs(self, sequences: Sequence[Sequence[int]]) -> dict[str, npt.NDArray[np.int64]]:
        """The backend's feed for token-id sequences: ``input_ids`` padded on the right to the
        longest, ``attention_mask`` and, where the model takes them, zero ``token_type_ids``.

        What every batch of :meth:`logits_token_sequences` is run on; e.g. for calibration data
        (``benchmarks/static_int8.py``) from :meth:`window_ids`.
        """
        if not sequences:
            raise ValueError("model_inputs needs at least one token sequence")
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        return self._feed(sequences, lengths)

    def _feed(
        self, sequences: Sequence[Sequence[int]], lengths: npt.NDArray[np.int64]
    ) -> dict[str, npt.NDArray[np.int64]]:
        return pad_batch(sequences, lengths, pad_id=self.pad_id, token_types=self._token_types)

    def window_ids(self, texts: Sequence[str]) -> list[list[list[int]]]:
        """The token-id windows scored for each text: those of its :attr:`reasoning` parts."""
        return self._window_ids(self._read(texts))

    def _window_ids(self, texts: list[str]) -> list[list[list[int]]]:
        parts = [scored_parts(text, self.reasoning) for text in texts]
        if all(len(p) == 1 for p in parts):
            return self._windower.window_ids([p[0] for p in parts])
        flat = iter(self._windower.window_ids([p for text_parts in parts for p in text_parts]))
        return [[w for _ in text_parts for w in next(flat)] for text_parts in parts]

    def window_logits(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """(windows, 2) logits per text, in text order (see :meth:`window_ids`)."""
        per_text = self.window_ids(texts)
        if not per_text:
            return []
        flat = self.logits_token_sequences([w for windows in per_text for w in windows])
        return list(np.split(flat, np.cumsum([len(windows) for windows in per_text])[:-1]))

    def window_scores(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """P(REJECTION) of each token window, per text, in text order (one window if it fits)."""
        return [rejection_probability(logits) for logits in self.window_logits(texts)]

    def reduce_windows(self, scores: npt.NDArray[np.float32]) -> float:
        """One text's score from its window scores, by ``self.reduction`` (max or mean)."""
        return float(np.max(scores) if self.reduction == "max" else np.mean(scores))

    def predict_proba(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """P(REJECTION) per text as an (n,) float32 array, reduced over the text's windows."""
        per_text = self.window_ids(texts)
        counts = [len(windows) for windows in per_text]
        if all(c == 1 for c in counts):  # every text fits one window: its score is the text's
            return self.score_token_sequences([windows[0] for windows in per_text])
        flat = self.score_token_sequences([w for windows in per_text for w in windows])
        bounds = np.cumsum(counts)[:-1]
        scores = [self.reduce_windows(s) for s in np.split(flat, bounds)]
        return np.asarray(scores, dtype=np.float32).reshape(len(scores))

    def score_sentences(self, text: str) -> list[SentenceScore]:
        """Every sentence of ``text`` with its character offsets and its own P(REJECTION).

        Offsets index ``text``; a sentence's ``.text`` is what the model read (U+FFFD in place of
        any unencodable character). Sentences beyond ``max_chars`` are not read.
        """
        return score_sentences(self, self._read([text]))[0]

    def refusal_spans(self, text: str, *, threshold: float = 0.5) -> list[SentenceScore]:
        """The sentences of ``text`` that refuse: those scoring at least ``threshold`` on their own.

        Each has character offsets (``text[s.start:s.end] == s.text``, unless an unencodable
        character was replaced), text and score. For the
        three-way verdict, and refusals that only show in context, see :meth:`refusal_verdict`.
        """
        check_threshold(threshold)
        return [s for s in self.score_sentences(text) if s.score >= threshold]

    def refusal_verdict(self, text: str, *, config: VerdictConfig | None = None) -> RefusalVerdict:
        """Three-way verdict: compliance, partial_refusal or full_refusal, with the driving spans.

        See :func:`refusal_detector.spans.decide_verdict` for the rules and ``config``.
        """
        return refusal_verdicts(self, self._read([text]), config=config)[0]

    def refusal_verdicts(
        self, texts: Sequence[str], *, config: VerdictConfig | None = None
    ) -> list[RefusalVerdict]:
        """:meth:`refusal_verdict` for many texts, with all windows and sentences batched."""
        return refusal_verdicts(self, self._read(texts), config=config)

    def __call__(
        self, texts: str | Sequence[str], *, threshold: float | str = 0.5
    ) -> list[dict[str, Any]]:
        """Classify texts; returns one ``{"label": ..., "score": ...}`` dict per text.

        ``label`` is REJECTION when P(REJECTION) >= ``threshold`` ("auto": the calibrated
        :attr:`threshold`); ``score`` is the probability of the returned label, as transformers'
        text-classification pipeline reports it. A single string is treated as a list of one.
        """
        threshold = self.resolve_threshold(threshold)
        probs = self.predict_proba(texts)
        return [
            {"label": REJECTION, "score": float(p)}
            if p >= threshold
            else {"label": NORMAL, "score": float(1.0 - p)}
            for p in probs
        ]

    def __repr__(self) -> str:
        return (
            f"RefusalDetector(model_dir={str(self.model_dir)!r}, backend={self.backend_name!r}, "
            f"max_length={self.max_length}, window_align={self.window_align!r}, "
            f"window_stride={self.window_stride}, "
            f"reduction={self.reduction!r}, reasoning={self.reasoning!r})"
        )
