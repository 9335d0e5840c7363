"""HTTP routes: scoring (/v1/*, LLM Guard's /analyze/output, /scan/output), health, metrics."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from refusal_detector.serve.schemas import (
    AnalyzeOutputResponse,
    Classification,
    ClassifyRequest,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    ScanOutputRequest,
    ScanOutputResponse,
    Span,
    Status,
)
from refusal_detector.serve.service import RefusalService

__all__ = ["SCANNER_NAME", "health_router", "scoring_router"]

SCANNER_NAME = "NoRefusal"
"""The scanner's name in LLM Guard responses (``scanners: {"NoRefusal": risk}``)."""

_bearer = HTTPBearer(auto_error=False, description="the service's api_token, when one is set")


def get_service(request: Request) -> RefusalService:
    """The app's :class:`RefusalService` (set by ``create_app``)."""
    service: RefusalService = request.app.state.service
    return service


ServiceDep = Annotated[RefusalService, Depends(get_service)]


async def require_token(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries ``Authorization: Bearer <api_token>`` (when one is set)."""
    expected = service.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token: send the header 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "missing or wrong bearer token",
        413: "a text, the number of texts or the body is over its limit",
        422: "the body does not match the schema",
        503: "the model is loading, or the queue is full (see Retry-After)",
        504: "the request took longer than request_timeout_s",
    }
    return {code: {"model": ErrorResponse, "description": meaning[code]} for code in codes}


_SCORING_ERRORS = _errors(401, 413, 422, 503, 504)

scoring_router = APIRouter(dependencies=[Depends(require_token)], responses=_SCORING_ERRORS)
health_router = APIRouter(tags=["health"])


@scoring_router.post("/v1/classify", tags=["refusal detector"])
async def classify(body: ClassifyRequest, service: ServiceDep) -> list[Classification]:
    """Classify texts as REJECTION or NORMAL, as ``RefusalDetector(texts, threshold=...)`` does.

    ``score`` is the probability of the returned label; P(REJECTION) is ``score`` for a REJECTION
    and ``1 - score`` for a NORMAL text.
    """
    async with service.deadline():
        results = await service.classify(body.texts, body.threshold)
    return [Classification(label=label, score=score) for label, score in results]  # type: ignore[arg-type]


@scoring_router.post("/v1/explain", tags=["refusal detector"])
async def explain(body: ExplainRequest, service: ServiceDep) -> ExplainResponse:
    """The three-way verdict (compliance, partial_refusal, full_refusal) and the refusal spans."""
    async with service.deadline():
        verdict, sentences = await service.explain(
            body.text, threshold=body.threshold, sentence_threshold=body.sentence_threshold
        )
    return ExplainResponse(
        verdict=verdict.verdict,
        label="NORMAL" if verdict.verdict == "compliance" else "REJECTION",
        score=verdict.score,
        refusal_share=verdict.refusal_share,
        spans=[Span(start=s.start, end=s.end, text=s.text, score=s.score) for s in verdict.spans],
        sentences=[Span(start=s.start, end=s.end, text=s.text, score=s.score) for s in sentences],
    )


async def _scan(
    body: ScanOutputRequest, service: RefusalService, route: str
) -> tuple[bool, dict[str, float]]:
    if SCANNER_NAME in body.scanners_suppress:
        return True, {}
    async with service.deadline():
        is_valid, risk = await service.scan(body.output, route)
    return is_valid, {SCANNER_NAME: risk}


@scoring_router.post("/analyze/output", tags=["LLM Guard API"])
async def analyze_output(body: ScanOutputRequest, service: ServiceDep) -> AnalyzeOutputResponse:
    """LLM Guard API's analyze: NoRefusal's verdict and risk; the output comes back unchanged."""
    is_valid, scanners = await _scan(body, service, "/analyze/output")
    return AnalyzeOutputResponse(sanitized_output=body.output, is_valid=is_valid, scanners=scanners)


@scoring_router.post("/scan/output", tags=["LLM Guard API"])
async def scan_output(body: ScanOutputRequest, service: ServiceDep) -> ScanOutputResponse:
    """LLM Guard API's scan: ``is_valid`` is False when the output refuses; risk in [-1, 1]."""
    is_valid, scanners = await _scan(body, service, "/scan/output")
    return ScanOutputResponse(is_valid=is_valid, scanners=scanners)


@health_router.get("/healthz")
async def healthz() -> Status:
    """Liveness: 200 while the process serves HTTP, loaded or not."""
    return Status(status="alive")


@health_router.get(
    "/readyz", responses={503: {"model": Status, "description": "not ready (loading or failed)"}}
)
async def readyz(service: ServiceDep) -> Any:
    """Readiness: 200 only once the model is loaded and a warm-up inference has succeeded."""
    worker = service.worker
    if worker.state == "ready":
        return Status(status="ready")
    detail = str(worker.error) if worker.error is not None else None
    return JSONResponse(
        Status(status=worker.state, detail=detail).model_dump(),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(service.settings.retry_after_s)},
    )


@health_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus metrics"}},
)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latency, batch sizes, queue depth, the REJECTION rate."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
