"""Request and response bodies of the HTTP API (pydantic lives here, at the HTTP boundary only).

The LLM Guard-compatible bodies follow llm_guard_api's ``ScanOutputRequest``, ``ScanOutputResponse``
and ``AnalyzeOutputResponse``, so an LLM Guard API client works unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnalyzeOutputResponse",
    "Classification",
    "ClassifyRequest",
    "ErrorResponse",
    "ExplainRequest",
    "ExplainResponse",
    "ScanOutputRequest",
    "ScanOutputResponse",
    "Span",
    "Status",
]


class _Strict(BaseModel):
    # Unknown fields are errors: a misspelt "threshhold" must not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(_Strict):
    texts: list[str] = Field(
        description="LLM outputs to classify (each one is scored through overlapping windows)",
        examples=[["I'm sorry, but I can't help with that.", "Sure! Here is a recipe: ..."]],
    )
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="REJECTION when P(REJECTION) >= threshold"
    )


class Classification(BaseModel):
    label: Literal["NORMAL", "REJECTION"]
    score: float = Field(
        description="probability of the returned label (as a transformers pipeline reports it)"
    )


class ExplainRequest(_Strict):
    text: str = Field(description="the LLM output to explain")
    prompt: str | None = Field(
        default=None, description="the prompt (optional; the model reads only the text)"
    )
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="text score at which a span-less text refuses"
    )
    sentence_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="sentence score that makes it a refusal span"
    )


class Span(BaseModel):
    start: int = Field(description="offset of the first character (Unicode code points)")
    end: int = Field(description="offset after the last character")
    text: str
    score: float = Field(description="P(REJECTION) of the sentence read on its own")


class ExplainResponse(BaseModel):
    verdict: Literal["compliance", "partial_refusal", "full_refusal"]
    label: Literal["NORMAL", "REJECTION"] = Field(
        description="the binary label: REJECTION unless the verdict is compliance"
    )
    score: float = Field(description="P(REJECTION) of the whole text, reduced over its windows")
    refusal_share: float = Field(description="share of non-space characters that refuse")
    spans: list[Span] = Field(description="the sentences that drive the verdict")
    sentences: list[Span] = Field(description="every sentence with its own score")


class ScanOutputRequest(BaseModel):
    # As in llm_guard_api, unknown fields are ignored: its clients' requests are accepted as is.
    prompt: str = Field(default="", title="Prompt")
    output: str = Field(title="Model output")
    scanners_suppress: list[str] = Field(default=[], title="Scanners to suppress")


class ScanOutputResponse(BaseModel):
    is_valid: bool = Field(title="Whether the output is safe")
    scanners: dict[str, float] = Field(title="Risk scores of individual scanners")


class AnalyzeOutputResponse(ScanOutputResponse):
    sanitized_output: str = Field(title="Sanitized output")


class Status(BaseModel):
    status: str
    detail: str | None = None


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong and how to fix it")
