"""The app factory: ``create_app(settings)`` builds the FastAPI app of ``refusal-detector serve``.

The model loads on the inference thread when the app starts (its lifespan), so ``/healthz``
answers at once and ``/readyz`` turns 200 after load and warm-up. On shutdown (SIGTERM, via
uvicorn) in-flight requests finish first, then the worker drains its queue and stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from refusal_detector import __version__
from refusal_detector.detector import RefusalDetector
from refusal_detector.errors import ConfigError, RefusalDetectorError
from refusal_detector.serve.batching import InferenceWorker, WorkerBusyError, WorkerNotReadyError
from refusal_detector.serve.metrics import BodyLimitMiddleware, ServiceMetrics
from refusal_detector.serve.routes import health_router, scoring_router
from refusal_detector.serve.service import (
    PayloadTooLargeError,
    RefusalService,
    RequestTimeoutError,
)
from refusal_detector.serve.settings import ServeSettings

__all__ = ["create_app", "static_dir"]

logger = logging.getLogger(__name__)


def static_dir() -> Path:
    """The playground's local assets (HTML, JS, CSS): nothing is fetched from a CDN."""
    return Path(str(resources.files("refusal_detector.serve") / "static"))


def create_app(
    settings: ServeSettings | None = None,
    *,
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """Build the service's FastAPI app; nothing loads until the app starts.

    Args:
        settings: the service settings (None: defaults, environment and no file).
        on_load_failure: called (on the inference thread) when the model fails to load or to
            warm up; ``refusal-detector serve`` uses it to stop the server with the error.
    """
    settings = settings or ServeSettings()

    def load() -> RefusalDetector:
        return RefusalDetector.from_pretrained(
            settings.model_dir(), backend=settings.backend, batch_size=settings.batch_size
        )

    worker_box: list[InferenceWorker] = []
    metrics = ServiceMetrics(queue_depth=lambda: worker_box[0].queue_depth if worker_box else 0)
    worker = InferenceWorker(
        load,
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000.0,
        queue_size=settings.queue_size,
        on_batch=metrics.observe_batch,
        on_failure=on_load_failure,
    )
    worker_box.append(worker)
    service = RefusalService(settings, worker, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await asyncio.to_thread(worker.stop, settings.graceful_timeout_s or None)

    app = FastAPI(
        title="refusal-detector",
        version=__version__,
        description=(
            "Detect refusals in LLM outputs. Concurrent requests are merged into model batches. "
            "/analyze/output and /scan/output speak the LLM Guard API."
        ),
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    app.include_router(scoring_router)
    app.include_router(health_router)
    _add_error_handlers(app, settings)
    _add_playground(app)
    app.add_middleware(BodyLimitMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app


def _add_playground(app: FastAPI) -> None:
    assets = static_dir()
    app.mount("/static", StaticFiles(directory=assets), name="static")

    @app.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(assets / "index.html", media_type="text/html")


def _add_error_handlers(app: FastAPI, settings: ServeSettings) -> None:
    retry_after = {"Retry-After": str(settings.retry_after_s)}

    @app.exception_handler(RefusalDetectorError)
    async def domain_error(request: Request, exc: RefusalDetectorError) -> JSONResponse:
        # The one place domain errors become HTTP statuses.
        if isinstance(exc, PayloadTooLargeError):
            return JSONResponse({"detail": str(exc)}, status_code=413)
        if isinstance(exc, WorkerBusyError | WorkerNotReadyError):
            return JSONResponse({"detail": str(exc)}, status_code=503, headers=retry_after)
        if isinstance(exc, RequestTimeoutError):
            return JSONResponse({"detail": str(exc)}, status_code=504)
        if isinstance(exc, ConfigError):
            return JSONResponse({"detail": str(exc)}, status_code=422)
        logger.error("unexpected error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": f"internal error: {exc}"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input back; a 10 MB text should not return in the error.
        problems = [
            {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))}
            for error in exc.errors()[:20]
        ]
        summary = "; ".join(
            f"{'.'.join(str(part) for part in p['loc'])}: {p['msg']}" for p in problems
        )
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type:
            summary += (
                f" (the body is read as JSON: send Content-Type: application/json, "
                f"not {content_type})"
            )
        return JSONResponse(
            {"detail": f"invalid request body: {summary}", "errors": problems}, status_code=422
        )
