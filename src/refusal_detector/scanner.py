"""LLM Guard-compatible output scanners: :class:`NoRefusal` and :class:`NoRefusalLight`.

Both follow llm-guard 0.3.16's output-scanner contract, ``scan(prompt, output) -> (output, is_valid,
risk_score)``, so they drop into ``llm_guard.scan_output([...], prompt, output)`` unchanged and
report under the same names as llm-guard's own scanners. Differences from llm-guard, on purpose:

- full mode reads the whole output through overlapping token windows, and the sentences of an output
  longer than one window (llm-guard truncates at 128
  tokens, so a refusal after a long preamble goes unseen);
- sentence splitting downloads nothing (llm-guard fetches nltk's punkt at run time);
- a local model directory is loaded with onnxruntime or torch, never fetched from the Hub;
- a reasoning trace (``<think>...</think>``) is not scored unless asked for (``reasoning``).

This module imports neither llm-guard nor torch.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from refusal_detector.detector import RefusalDetector
from refusal_detector.errors import ConfigError, InvalidTextError, ModelLoadError
from refusal_detector.reasoning import check_reasoning_mode, scored_parts
from refusal_detector.segment import split_sentences

__all__ = [
    "REFUSAL_SUBSTRINGS",
    "MatchType",
    "ModelSpec",
    "NoRefusal",
    "NoRefusalLight",
    "calculate_risk_score",
]

logger = logging.getLogger(__name__)


def calculate_risk_score(score: float, threshold: float) -> float:
    """llm-guard's risk score: in (0, 1] above ``threshold``, in [-1, 0] at or below it.

    ``(score - threshold) / (1 - threshold)`` above the threshold, ``(score - threshold) /
    threshold`` otherwise, rounded to one decimal and clipped to [-1, 1]; the same formula as
    ``llm_guard.util.calculate_risk_score``.
    """
    if score > threshold:
        risk = round((score - threshold) / (1 - threshold), 1)
    else:
        risk = round((score - threshold) / threshold, 1)
    return min(max(risk, -1.0), 1.0)


class MatchType(Enum):
    """What NoRefusal scores: the whole output, or each sentence until one refuses."""

    SENTENCE = "sentence"
    FULL = "full"


@runtime_checkable
class ModelSpec(Protocol):
    """Anything with a ``path`` attribute, such as ``llm_guard.model.Model``."""

    path: str


class NoRefusal:
    """Flag outputs that refuse; a drop-in for ``llm_guard.output_scanners.NoRefusal``.

    Args:
        model: a :class:`RefusalDetector`, a model directory, an ``llm_guard.model.Model`` whose
            ``path`` is a local model directory, or None for the shipped default model.
        threshold: an output (or sentence) whose P(refusal), rounded to two decimals as llm-guard
            does, is above this is a refusal. Must lie strictly between 0 and 1.
        match_type: "full" scores the whole output through overlapping token windows (reduced by the
            detector, max by default); "sentence" scores sentences in order and stops at the first
            one above the threshold.
        use_onnx: True loads the ONNX backend, False the torch backend, None (the default) picks
            ONNX when the directory has ``onnx/model.onnx``. Ignored when ``model`` is a detector.
        sentences_in_long_outputs: in full mode, an output longer than one model window that no
            window flags is also read sentence by sentence, because one refusal sentence inside a
            long answer is diluted in its window (measured in benchmarks/long_outputs.py). False
            keeps full mode to the windows alone (cheaper: about 3x fewer model inputs).
        reasoning: what of an output with a ``<think>...</think>`` trace is scored: "answer"
            (the default), "trace", "both" or "raw" (see :mod:`refusal_detector.reasoning`).
            None takes the detector's own setting when ``model`` is a detector (a different
            value is refused then: set it on the detector). An output whose scored part is blank
            (all trace, in answer mode) is valid with risk -1.0, like a blank output.

    Raises:
        ConfigError: threshold, match_type or reasoning out of range.
        ModelLoadError: the model directory is missing or not a local directory.
        BackendUnavailableError: the requested backend's dependencies are not installed.
    """

    def __init__(
        self,
        *,
        model: RefusalDetector | str | os.PathLike[str] | ModelSpec | None = None,
        threshold: float = 0.75,
        match_type: MatchType | str = MatchType.FULL,
        use_onnx: bool | None = None,
        sentences_in_long_outputs: bool = True,
        reasoning: str | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {threshold}")
        self._threshold = threshold
        self._match_type = _match_type(match_type)
        if reasoning is not None:
            check_reasoning_mode(reasoning)
        if isinstance(model, RefusalDetector):
            if reasoning is not None and reasoning != model.reasoning:
                raise ConfigError(
                    f"reasoning={reasoning!r} differs from the detector's {model.reasoning!r}; "
                    "load the detector with RefusalDetector.from_pretrained(..., "
                    f"reasoning={reasoning!r}) or leave reasoning unset"
                )
            self._detector = model
        else:
            self._detector = _load_detector(model, use_onnx, reasoning or "answer")
        self._sentences_in_long_outputs = sentences_in_long_outputs

    @property
    def detector(self) -> RefusalDetector:
        """The detector that scores outputs."""
        return self._detector

    @property
    def match_type(self) -> MatchType:
        """What is scored: the whole output (FULL) or each sentence (SENTENCE)."""
        return self._match_type

    def scan(self, prompt: str, output: str) -> tuple[str, bool, float]:
        """Return ``(output, is_valid, risk_score)``; is_valid is False when the output refuses.

        A blank output is valid with risk -1.0. ``prompt`` is not used, as in llm-guard. The output
        is read under the detector's text policy (unencodable characters replaced, at most
        ``max_chars`` read) and returned unchanged.

        Raises:
            InvalidTextError: ``output`` is not a str.
        """
        if not isinstance(output, str):
            raise InvalidTextError(f"output must be a str, got {type(output).__name__}")
        if output.strip() == "":
            return output, True, -1.0
        prepared = self._detector.prepare_texts(output)[0]
        if prepared.warning is not None:
            logger.warning("output: %s", prepared.warning)
        parts = scored_parts(prepared.text, self._detector.reasoning)
        if all(part.strip() == "" for part in parts):
            return output, True, -1.0
        windows = None
        if self._match_type is MatchType.FULL:
            windows = self._detector.window_scores([prepared.text])[0]
            if not self.needs_sentences(windows):
                return output, *self.decide(windows, ())
        inputs = [s.text for part in parts for s in split_sentences(part)]
        return output, *self.decide(windows, self._sentence_scores(inputs))

    def needs_sentences(self, windows: npt.NDArray[np.float32] | None) -> bool:
        """Whether :meth:`decide` must also read the sentences, given the output's window scores.

        ``windows`` is None in sentence mode (always True). In full mode only an output longer than
        one window that no window flags is read by sentences as well, because one refusal sentence
        inside a long answer is diluted in its window (measured in benchmarks/long_outputs.py).
        """
        if windows is None:
            return True
        if round(self._detector.reduce_windows(windows), 2) > self._threshold:
            return False
        return len(windows) > 1 and self._sentences_in_long_outputs

    def decide(
        self, windows: npt.NDArray[np.float32] | None, sentence_scores: Iterable[float]
    ) -> tuple[bool, float]:
        """``(is_valid, risk_score)`` from window scores (full mode) and sentence scores, in order.

        Each score is rounded to two decimals as llm-guard does; the first one above the threshold
        makes the output invalid with its risk, and sentence scores after it are not read (pass a
        generator to stop scoring there). Otherwise the risk is that of the highest score.
        """
        highest = 0.0
        if windows is not None:
            score = round(self._detector.reduce_windows(windows), 2)
            if score > self._threshold:
                logger.debug("refusal detected: score %.2f > %.2f", score, self._threshold)
                return False, calculate_risk_score(score, self._threshold)
            highest = score
        for prob in sentence_scores:
            score = round(float(prob), 2)
            highest = max(highest, score)
            if score > self._threshold:
                logger.debug("refusal detected: score %.2f > %.2f", score, self._threshold)
                return False, calculate_risk_score(score, self._threshold)
        logger.debug("no refusal: highest score %.2f", highest)
        return True, calculate_risk_score(highest, self._threshold)

    def _sentence_scores(self, inputs: list[str]) -> Iterator[float]:
        step = self._detector.batch_size
        for start in range(0, len(inputs), step):
            yield from self._detector.predict_proba(inputs[start : start + step]).tolist()


def _match_type(value: MatchType | str | Enum) -> MatchType:
    raw = value.value if isinstance(value, Enum) else value  # also llm-guard's own MatchType
    try:
        return MatchType(raw)
    except ValueError as exc:
        allowed = ", ".join(repr(m.value) for m in MatchType)
        raise ConfigError(f"match_type must be one of {allowed}, got {raw!r}") from exc


def _load_detector(
    model: str | os.PathLike[str] | ModelSpec | None, use_onnx: bool | None, reasoning: str
) -> RefusalDetector:
    backend = "auto" if use_onnx is None else ("onnx" if use_onnx else "torch")
    if model is None:
        return RefusalDetector.from_pretrained(backend=backend, reasoning=reasoning)
    path = Path(model.path if isinstance(model, ModelSpec) else model).expanduser()
    if not path.is_dir():
        raise ModelLoadError(
            f"{path}: not a local model directory; refusal_detector never downloads models. "
            "Download it first (huggingface-cli download REPO --local-dir DIR) and pass DIR"
        )
    return RefusalDetector.from_pretrained(path, backend=backend, reasoning=reasoning)


REFUSAL_SUBSTRINGS: tuple[str, ...]
"""llm-guard's NoRefusalLight substrings (read from the bundled phrase list on first use)."""


def __getattr__(name: str) -> Any:
    # REFUSAL_SUBSTRINGS is read from the bundled phrase list on first use, not at import
    if name == "REFUSAL_SUBSTRINGS":
        return _refusal_substrings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _refusal_substrings() -> tuple[str, ...]:
    """llm-guard 0.3.16's NoRefusalLight list, verbatim and in order.

    One copy only: ``training/phrases/llm_guard_NoRefusalLight_substrings.txt``, which the
    evaluation's NoRefusalLight baseline reads too (provenance in ``phrases/PROVENANCE.md``).
    """
    from refusal_detector.training.baselines import NO_REFUSAL_LIGHT_FILE, load_phrases, phrases_dir

    return load_phrases(phrases_dir() / NO_REFUSAL_LIGHT_FILE)


class NoRefusalLight:
    """Substring refusal check; a drop-in for ``llm_guard.output_scanners.NoRefusalLight``.

    Case-insensitive match of llm-guard's 28 substrings (:data:`REFUSAL_SUBSTRINGS`) anywhere in the
    output: invalid with risk 1.0 on any match, else valid with risk -1.0. Fast and crude: it flags
    "I do not know" and "Sorry to hear that" as refusals and misses refusals without these phrases.
    """

    def __init__(self) -> None:
        self.substrings: tuple[str, ...] = _refusal_substrings()

    def scan(self, prompt: str, output: str) -> tuple[str, bool, float]:
        """Return ``(output, is_valid, risk_score)``; ``prompt`` is not used."""
        lowered = output.lower()
        matched = [s for s in self.substrings if s.lower() in lowered]
        if matched:
            logger.debug("refusal substrings found: %d", len(matched))
            return output, False, 1.0
        return output, True, -1.0
