"""The micro-batching worker: merging, limits, cancellation, readiness, shutdown (logic tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fake_detector import fake_detector

from refusal_detector.errors import ModelLoadError
from refusal_detector.serve.batching import InferenceWorker, WorkerBusyError, WorkerNotReadyError


class Gate:
    """Hold the model inside its next call until ``open()``: the queue fills up meanwhile."""

    def __init__(self, detector: Any) -> None:
        self.event = threading.Event()
        self.event.set()
        self.inside = threading.Event()
        inner = detector.backend.logits

        def logits(batch: Any) -> Any:
            self.inside.set()
            self.event.wait(30)
            return inner(batch)

        detector.backend.logits = logits

    def close(self) -> None:
        self.inside.clear()
        self.event.clear()

    def open(self) -> None:
        self.event.set()


def _worker(**options: Any) -> tuple[InferenceWorker, Gate, list[int]]:
    detector = fake_detector(batch_size=256)
    gate = Gate(detector)
    batches: list[int] = []
    worker = InferenceWorker(
        lambda: detector, on_batch=lambda texts, windows, s: batches.append(texts), **options
    )
    worker.start()
    _until(lambda: worker.state == "ready")
    batches.clear()
    return worker, gate, batches


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


async def _wait(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.002)


def test_concurrent_requests_are_merged_up_to_max_batch() -> None:
    worker, gate, batches = _worker(max_batch=8, max_wait_s=0.0)

    async def run() -> list[Any]:
        gate.close()
        first = asyncio.ensure_future(worker.window_scores(["sorry"]))
        await _wait(gate.inside.is_set)  # the first request is in the model
        texts = ["sorry i can't" if i % 3 == 0 else "here is a recipe" for i in range(20)]
        rest = [asyncio.ensure_future(worker.window_scores([t])) for t in texts]
        await _wait(lambda: worker.queue_depth == 20)
        gate.open()
        return [await first, *[await r for r in rest]], texts

    (results, texts) = asyncio.run(run())
    worker.stop()
    assert batches == [1, 8, 8, 4]
    high = [float(r[0][0]) > 0.5 for r in results[1:]]
    assert high == ["sorry" in t for t in texts]  # every request got its own scores back


def test_a_request_larger_than_max_batch_is_scored_whole() -> None:
    worker, _, batches = _worker(max_batch=4)
    scores = asyncio.run(worker.window_scores(["here is a recipe"] * 10))
    worker.stop()
    assert batches == [10] and len(scores) == 10


def test_a_full_queue_refuses_at_once() -> None:
    worker, gate, _ = _worker(max_batch=1, queue_size=2)

    async def run() -> None:
        gate.close()
        held = asyncio.ensure_future(worker.window_scores(["a"]))
        await _wait(gate.inside.is_set)
        waiting = [asyncio.ensure_future(worker.window_scores(["b"])) for _ in range(2)]
        await _wait(lambda: worker.queue_depth == 2)
        with pytest.raises(WorkerBusyError, match="at capacity"):
            await worker.window_scores(["c"])
        gate.open()
        await asyncio.gather(held, *waiting)

    asyncio.run(run())
    worker.stop()


def test_timed_out_requests_are_not_scored() -> None:
    worker, gate, batches = _worker(max_batch=64)

    async def run() -> None:
        gate.close()
        held = asyncio.ensure_future(worker.window_scores(["a"]))
        await _wait(gate.inside.is_set)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(worker.window_scores(["b"] * 5), timeout=0.01)
        kept = asyncio.ensure_future(worker.window_scores(["c", "d"]))
        await _wait(lambda: worker.queue_depth == 2)
        gate.open()
        await held
        assert len(await kept) == 2

    asyncio.run(run())
    worker.stop()
    assert batches == [1, 2]  # the 5 abandoned texts never reached the model


def test_not_ready_until_loaded_and_warmed_up() -> None:
    release = threading.Event()
    detector = fake_detector()

    def slow_load() -> Any:
        release.wait(30)
        return detector

    worker = InferenceWorker(slow_load)
    worker.start()
    assert worker.state == "loading"
    with pytest.raises(WorkerNotReadyError, match="still loading"):
        asyncio.run(worker.window_scores(["a"]))
    release.set()
    _until(lambda: worker.state == "ready")
    assert len(asyncio.run(worker.window_scores(["a"]))) == 1
    worker.stop()


def test_a_failed_load_is_reported() -> None:
    failures: list[BaseException] = []

    def broken() -> Any:
        raise ModelLoadError("/models/x/onnx/model.onnx: not a loadable ONNX model")

    worker = InferenceWorker(broken, on_failure=failures.append)
    worker.start()
    _until(lambda: bool(failures))
    assert worker.state == "failed"
    assert isinstance(failures[0], ModelLoadError)
    with pytest.raises(WorkerNotReadyError, match=r"failed to load: /models/x/onnx/model\.onnx"):
        asyncio.run(worker.window_scores(["a"]))
    worker.stop()
    assert worker.state == "failed"


def test_stop_finishes_the_queued_requests_first() -> None:
    worker, gate, batches = _worker(max_batch=1)

    async def run() -> None:
        gate.close()
        held = asyncio.ensure_future(worker.window_scores(["a"]))
        await _wait(gate.inside.is_set)
        queued = asyncio.ensure_future(worker.window_scores(["b", "c"]))
        await _wait(lambda: worker.queue_depth == 1)
        stopper = asyncio.ensure_future(asyncio.to_thread(worker.stop, 30))
        await asyncio.sleep(0.05)
        gate.open()
        assert len(await held) == 1 and len(await queued) == 2
        await stopper

    asyncio.run(run())
    assert batches == [1, 2]
    assert worker.state == "stopped"
    with pytest.raises(WorkerNotReadyError, match="shutting down"):
        asyncio.run(worker.window_scores(["a"]))
