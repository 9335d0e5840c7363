"""Micro-batching: one inference thread merges concurrent requests into model batches.

Requests put jobs (a list of texts) on a bounded queue and await an asyncio future; the worker
thread takes the first waiting job, gathers more until ``max_batch`` texts or until no job has
joined for ``max_wait_s``, scores all their token windows in one
:meth:`RefusalDetector.window_scores` call (which sorts every window by length and pads per
``batch_size`` chunk), and hands each job its share
through ``loop.call_soon_threadsafe``. The event loop never runs the model: it only waits.

The worker also owns the model's life: it loads the detector, runs a warm-up inference, and only
then reports ready, so ``/readyz`` cannot be green before the model has answered once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from refusal_detector.errors import RefusalDetectorError

if TYPE_CHECKING:
    from refusal_detector.detector import RefusalDetector

__all__ = [
    "WARMUP_TEXTS",
    "InferenceWorker",
    "WorkerBusyError",
    "WorkerNotReadyError",
    "WorkerState",
]

logger = logging.getLogger(__name__)

WorkerState = Literal["loading", "ready", "failed", "stopped"]
WARMUP_TEXTS = (
    "Sure! Here is a simple recipe for pancakes: mix flour, eggs and milk.",
    "I'm sorry, but I can't help with that request.",
)
WindowScores = list[npt.NDArray[np.float32]]


class WorkerBusyError(RefusalDetectorError):
    """The queue of waiting requests is full; the client should retry later."""


class WorkerNotReadyError(RefusalDetectorError):
    """The model is not loaded and warmed up yet, or failed to load, or the worker stopped."""


@dataclass(eq=False)
class _Job:
    texts: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WindowScores]
    abandoned: bool = field(default=False)  # the request timed out or went away


_STOP = object()


class InferenceWorker:
    """A dedicated thread that owns the detector and scores merged batches of requests.

    Args:
        load: builds the detector (called on the worker thread, so loading never blocks the loop).
        max_batch: at most this many texts are merged into one model call (a larger single
            request is scored alone, in the detector's ``batch_size`` chunks).
        max_wait_s: a batch closes when no job has joined it for this long (or at max_batch).
        queue_size: jobs that may wait; one more raises :class:`WorkerBusyError`.
        on_batch: called on the worker thread with (texts, windows, seconds) after each batch.
        on_failure: called on the worker thread when loading or warm-up fails.
    """

    def __init__(
        self,
        load: Callable[[], RefusalDetector],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.005,
        queue_size: int = 1024,
        on_batch: Callable[[int, int, float], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._load = load
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Job | object] = queue.Queue(maxsize=queue_size)
        self._on_batch = on_batch
        self._on_failure = on_failure
        self._thread = threading.Thread(target=self._run, name="refusal-inference", daemon=True)
        self.state: WorkerState = "loading"
        self.error: BaseException | None = None
        self.detector: RefusalDetector | None = None

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for the model."""
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """Whether the inference thread is still alive (for example inside a long batch)."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the thread: load, warm up, then serve jobs."""
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Let the jobs already queued finish, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self.state = "stopped" if self.state != "failed" else "failed"

    async def window_scores(self, texts: Sequence[str]) -> WindowScores:
        """P(REJECTION) of each token window of each text, computed on the worker thread.

        Raises:
            WorkerNotReadyError: the model is still loading, failed, or the worker stopped.
            WorkerBusyError: the queue is full.
        """
        if self.state != "ready":
            raise WorkerNotReadyError(_not_ready_message(self.state, self.error))
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop, loop.create_future())
        try:
            self._queue.put_nowait(job)
        except queue.Full as exc:
            raise WorkerBusyError(
                f"the service is at capacity ({self._queue.maxsize} requests waiting); retry later"
            ) from exc
        try:
            return await job.future
        except asyncio.CancelledError:
            job.abandoned = True  # timed out or the client left: the worker skips it
            raise

    def _run(self) -> None:
        try:
            detector = self._load()
            detector.predict_proba(list(WARMUP_TEXTS))
        except BaseException as exc:
            self.error = exc
            self.state = "failed"
            logger.error("model load or warm-up failed: %s", exc)
            if self._on_failure is not None:
                self._on_failure(exc)
            self._fail_waiting(exc)
            return
        self.detector = detector
        self.state = "ready"
        logger.info("model loaded and warmed up: %r", detector)
        while True:
            batch, stop = self._next_batch()
            if batch:
                self._score(detector, batch)
            if stop:
                return

    def _next_batch(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        assert isinstance(first, _Job)
        batch = [first]
        count = len(first.texts)
        # The batch stays open while requests keep arriving less than max_wait_s apart: when a
        # batch's answers go out, its clients' next requests trickle back in over several
        # milliseconds, and a fixed deadline would split them into small, padding-heavy batches
        # (measured: model batches of 31 texts cost 1.1-1.2x the CPU per text of batches of 64).
        # It is bounded by max_batch, so the first request waits at most max_batch * max_wait_s.
        while count < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                if self.max_wait_s <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=self.max_wait_s)
                except queue.Empty:
                    break
            if nxt is _STOP:
                return batch, True
            assert isinstance(nxt, _Job)
            batch.append(nxt)
            count += len(nxt.texts)
        return batch, False

    def _score(self, detector: RefusalDetector, batch: list[_Job]) -> None:
        jobs = [job for job in batch if not job.abandoned]
        texts = [text for job in jobs for text in job.texts]
        if not jobs:
            return
        start = time.perf_counter()
        try:
            scores = detector.window_scores(texts) if texts else []
        except Exception as exc:  # deliver to every waiting request instead of killing the thread
            logger.exception("inference failed on a batch of %d texts", len(texts))
            for job in jobs:
                _deliver(job, exc)
            return
        elapsed = time.perf_counter() - start
        offset = 0
        for job in jobs:
            _deliver(job, scores[offset : offset + len(job.texts)])
            offset += len(job.texts)
        if self._on_batch is not None:
            self._on_batch(len(texts), sum(len(s) for s in scores), elapsed)

    def _fail_waiting(self, exc: BaseException) -> None:
        error = WorkerNotReadyError(_not_ready_message("failed", exc))
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job):
                _deliver(job, error)


def _deliver(job: _Job, result: WindowScores | BaseException) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop closed: nobody is waiting any more
        logger.debug("event loop closed before a result could be delivered")


def _not_ready_message(state: WorkerState, error: BaseException | None) -> str:
    if state == "loading":
        return "the model is still loading; retry shortly (GET /readyz says when it is ready)"
    if state == "failed":
        return f"the model failed to load: {error}"
    return "the service is shutting down"
