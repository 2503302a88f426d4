"""Request and response bodies of ``prmkit serve`` (pydantic models; the wire format is their JSON).

    POST /score   {"items": [{"question": str, "steps": [str, ...]}, ...]}
                  -> {"scores": [[float | null, ...], ...]}       one list per item, one entry per step
    GET  /health  -> {"status": "ok", "scorer": str, "max_batch_items": int}
    errors        -> {"error": {"type": str, "message": str, "code": int}}   (with that HTTP status)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ScoreItem", "ScoreRequest", "ScoreResponse", "HealthResponse", "ErrorInfo", "ErrorResponse"]


class ScoreItem(BaseModel):
    """One solution: the question and its reasoning steps (each non-empty)."""

    model_config = ConfigDict(extra="forbid")

    question: str
    steps: list[str] = Field(min_length=1)


class ScoreRequest(BaseModel):
    """A batch of solutions to score."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1)


class ScoreResponse(BaseModel):
    """P(step is correct) per step, in request order; ``null`` where the scorer gives no score."""

    scores: list[list[float | None]]


class HealthResponse(BaseModel):
    status: str = "ok"
    scorer: str
    max_batch_items: int


class ErrorInfo(BaseModel):
    type: str
    message: str
    code: int


class ErrorResponse(BaseModel):
    """Every failure, as data: ``{"error": {"type", "message", "code"}}``."""

    error: ErrorInfo
