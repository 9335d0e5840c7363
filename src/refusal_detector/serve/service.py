"""What each route computes, on top of the micro-batching worker; no HTTP or pydantic here.

Every operation turns into one or two lists of texts scored by
:meth:`InferenceWorker.window_scores`, then into exactly what the library returns for the same
input: ``detector(texts)`` for classify, ``refusal_verdict`` for explain, ``NoRefusal.scan`` for
the LLM Guard routes. The scores are the detector's own, only batched with other requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from refusal_detector.errors import RefusalDetectorError
from refusal_detector.labels import NORMAL, REJECTION
from refusal_detector.reasoning import scored_parts, scored_regions
from refusal_detector.scanner import MatchType, NoRefusal
from refusal_detector.segment import Sentence, split_sentences
from refusal_detector.serve.batching import InferenceWorker, WorkerNotReadyError
from refusal_detector.serve.metrics import ServiceMetrics
from refusal_detector.serve.settings import ServeSettings
from refusal_detector.spans import RefusalVerdict, SentenceScore, VerdictConfig, decide_verdict

__all__ = ["PayloadTooLargeError", "RefusalService", "RequestTimeoutError"]

# Splitting a long text into sentences takes milliseconds; past this size it leaves the event loop.
_SPLIT_INLINE_CHARS = 4_000


class PayloadTooLargeError(RefusalDetectorError, ValueError):
    """A text is longer than ``max_text_chars`` or a request holds more than ``max_texts``."""


class RequestTimeoutError(RefusalDetectorError, TimeoutError):
    """A request took longer than ``request_timeout_s``."""


class RefusalService:
    """The service's operations: classify, explain and the NoRefusal scan."""

    def __init__(
        self, settings: ServeSettings, worker: InferenceWorker, metrics: ServiceMetrics
    ) -> None:
        self.settings = settings
        self.worker = worker
        self.metrics = metrics
        self._scanner: NoRefusal | None = None

    @asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """Raise :class:`RequestTimeoutError` when the body takes over ``request_timeout_s``."""
        limit = self.settings.request_timeout_s
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as exc:
            raise RequestTimeoutError(
                f"the request took longer than {limit:g} s (setting request_timeout_s); "
                "send fewer or shorter texts, or retry when the service is less busy"
            ) from exc

    def check_texts(self, texts: Sequence[str], field: str) -> None:
        """Raise :class:`PayloadTooLargeError` naming the first text or count over the limits."""
        if len(texts) > self.settings.max_texts:
            raise PayloadTooLargeError(
                f"{field} holds {len(texts):,} texts; the limit is {self.settings.max_texts:,} "
                "per request (setting max_texts). Split them over several requests"
            )
        limit = self.settings.max_text_chars
        for i, text in enumerate(texts):
            if len(text) > limit:
                where = f"{field}[{i}]" if len(texts) > 1 or field == "texts" else field
                raise PayloadTooLargeError(
                    f"{where} has {len(text):,} characters; the limit is {limit:,} "
                    "(setting max_text_chars). Long texts are scored through overlapping windows "
                    "up to that length; split longer ones"
                )

    async def classify(
        self, texts: Sequence[str], threshold: float | None = None
    ) -> list[tuple[str, float]]:
        """``(label, score)`` per text, as ``detector(texts, threshold=...)`` returns them."""
        self.check_texts(texts, "texts")
        if not texts:
            return []
        cut = self.settings.threshold if threshold is None else threshold
        probs = await self._text_scores(list(texts))
        self.metrics.observe_labels("/v1/classify", [p >= cut for p in probs])
        return [(REJECTION, p) if p >= cut else (NORMAL, 1.0 - p) for p in probs]

    async def explain(
        self,
        text: str,
        *,
        threshold: float | None = None,
        sentence_threshold: float | None = None,
    ) -> tuple[RefusalVerdict, list[SentenceScore]]:
        """The three-way verdict (as ``detector.refusal_verdict``) and every sentence's score."""
        self.check_texts([text], "text")
        defaults = VerdictConfig()
        config = VerdictConfig(
            threshold=defaults.threshold if threshold is None else threshold,
            sentence_threshold=(
                defaults.sentence_threshold if sentence_threshold is None else sentence_threshold
            ),
        )
        # Only the parts the detector's reasoning mode reads (the answer of a <think> output),
        # as detector.refusal_verdict does; offsets still index the original text.
        reasoning = getattr(self.worker.detector, "reasoning", "answer")
        sentences = [
            Sentence(s.start + a, s.end + a, s.text)
            for a, b in scored_regions(text, reasoning)
            for s in await _split(text[a:b])
        ]
        scores = await self._text_scores([text, *(s.text for s in sentences)])
        scored = [
            SentenceScore(s.start, s.end, s.text, score)
            for s, score in zip(sentences, scores[1:], strict=True)
        ]
        verdict = decide_verdict(scores[0], scored, config)
        self.metrics.verdicts.labels(verdict.verdict).inc()
        return verdict, scored

    async def scan(self, output: str, route: str) -> tuple[bool, float]:
        """``(is_valid, risk_score)`` exactly as ``NoRefusal.scan(prompt, output)`` gives them."""
        self.check_texts([output], "output")
        if output.strip() == "":
            return True, -1.0
        scanner = self._get_scanner()
        parts = scored_parts(output, scanner.detector.reasoning)
        if all(part.strip() == "" for part in parts):  # all trace: blank, as NoRefusal.scan says
            return True, -1.0
        windows = None
        if scanner.match_type is MatchType.FULL:
            windows = (await self.worker.window_scores([output]))[0]
        sentence_scores: list[float] = []
        if scanner.needs_sentences(windows):
            sentences = [s.text for part in parts for s in await _split(part)]
            sentence_scores = await self._text_scores(sentences) if sentences else []
        is_valid, risk = scanner.decide(windows, sentence_scores)
        self.metrics.observe_labels(route, [not is_valid])
        return is_valid, risk

    async def _text_scores(self, texts: list[str]) -> list[float]:
        windows = await self.worker.window_scores(texts)
        detector = self.worker.detector
        if detector is None:  # the worker stopped between scoring and here
            raise WorkerNotReadyError("the service is shutting down")
        return [detector.reduce_windows(w) for w in windows]

    def _get_scanner(self) -> NoRefusal:
        detector = self.worker.detector
        if detector is None:
            raise WorkerNotReadyError(
                "the model is still loading; retry shortly (GET /readyz says when it is ready)"
            )
        if self._scanner is None:
            self._scanner = NoRefusal(
                model=detector,
                threshold=self.settings.scan_threshold,
                match_type=self.settings.scan_match_type,
                sentences_in_long_outputs=self.settings.scan_sentences_in_long_outputs,
            )
        return self._scanner


async def _split(text: str) -> list[Sentence]:
    if len(text) <= _SPLIT_INLINE_CHARS:
        return split_sentences(text)
    return await asyncio.to_thread(split_sentences, text)
