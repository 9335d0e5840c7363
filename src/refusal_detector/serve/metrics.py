"""Prometheus metrics of the service, and the ASGI middleware that records requests.

Each app has its own registry (two apps in one process never share counters). What is exported:

- ``refusal_detector_requests_total{route,status}`` and ``refusal_detector_request_seconds{route}``
  (a latency histogram), ``refusal_detector_requests_in_flight``;
- ``refusal_detector_batch_texts`` and ``refusal_detector_batch_windows`` (histograms of model batch
  sizes), ``refusal_detector_batch_seconds``, ``refusal_detector_queue_depth``;
- ``refusal_detector_labels_total{route,label}`` (every classified text and scanned output) and
  ``refusal_detector_rejection_ratio``: the share of REJECTION among the last 1,000 of them, the
  refusal rate production users watch (``rate(..._labels_total{label="REJECTION"}[5m])`` divided by
  ``rate(..._labels_total[5m])`` gives it over any window);
- ``refusal_detector_verdicts_total{verdict}`` for /v1/explain.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["RECENT_LABELS", "BodyLimitMiddleware", "ServiceMetrics"]

RECENT_LABELS = 1000
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_DRAIN_BYTES = 1 << 30
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


class ServiceMetrics:
    """The service's counters, gauges and histograms in a registry of their own."""

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "refusal_detector_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "refusal_detector_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "refusal_detector_requests_in_flight", "HTTP requests being handled", registry=r
        )
        self.batch_texts = Histogram(
            "refusal_detector_batch_texts",
            "texts per model batch",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_windows = Histogram(
            "refusal_detector_batch_windows",
            "token windows per model batch",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "refusal_detector_batch_seconds",
            "inference time per model batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        queue = Gauge("refusal_detector_queue_depth", "requests waiting for the model", registry=r)
        queue.set_function(queue_depth)
        self.labels = Counter(
            "refusal_detector_labels",
            "classified texts and scanned outputs by route and label",
            ["route", "label"],
            registry=r,
        )
        self.verdicts = Counter(
            "refusal_detector_verdicts", "/v1/explain verdicts", ["verdict"], registry=r
        )
        self._recent: collections.deque[bool] = collections.deque(maxlen=RECENT_LABELS)
        self._recent_lock = threading.Lock()
        ratio = Gauge(
            "refusal_detector_rejection_ratio",
            f"share of REJECTION among the last {RECENT_LABELS} labelled texts (NaN before any)",
            registry=r,
        )
        ratio.set_function(self._rejection_ratio)

    def observe_batch(self, texts: int, windows: int, seconds: float) -> None:
        """Record one model batch (called on the inference thread)."""
        self.batch_texts.observe(texts)
        self.batch_windows.observe(windows)
        self.batch_seconds.observe(seconds)

    def observe_labels(self, route: str, rejections: list[bool]) -> None:
        """Record the label of each text a route answered (True: REJECTION)."""
        for rejected in rejections:
            self.labels.labels(route, "REJECTION" if rejected else "NORMAL").inc()
        with self._recent_lock:
            self._recent.extend(rejections)

    def _rejection_ratio(self) -> float:
        with self._recent_lock:
            if not self._recent:
                return float("nan")
            return sum(self._recent) / len(self._recent)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Pure ASGI middleware: records every request's metrics and enforces ``max_body_bytes``.

    A body over the limit is refused with 413 before it is read: from Content-Length when the
    client sends one, else as soon as the streamed bytes pass the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        known_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.known_paths = known_paths
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        response_started = [False]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                response_started[0] = True
            await send(message)

        received = [0]

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        self.metrics.in_flight.inc()
        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                await _drain(receive)
                await self._too_large(send_wrapper, f"{length:,}")
                return
            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except _BodyTooLarge:
                if response_started[0]:
                    raise
                await _drain(receive)
                await self._too_large(send_wrapper, f"more than {self.max_body_bytes:,}")
        finally:
            self.metrics.in_flight.dec()
            route = _route_label(scope, self.known_paths)
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _too_large(self, send: Send, size: str) -> None:
        detail = (
            f"request body is {size} bytes; the limit is {self.max_body_bytes:,} bytes "
            "(setting max_body_bytes). Send fewer or shorter texts per request"
        )
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    # Read the rest of the body (up to _DRAIN_BYTES) before answering: a client still sending when
    # the server closes gets a connection reset instead of the 413 and its message.
    drained = 0
    while drained < _DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _route_label(scope: Scope, known_paths: frozenset[str]) -> str:
    # The route template, not the raw path, so that unknown paths cannot blow up label cardinality.
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path") in known_paths:  # answered before routing (413 on Content-Length)
        return str(scope["path"])
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "other"
