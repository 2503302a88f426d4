"""Request and response bodies of ``prmkit serve`` (pydantic models; the wire format is their JSON).

    POST /score       {"items": [{"question": str, "steps": [str, ...]}, ...]}
                      -> {"scores": [[float | null, ...], ...]}     one list per item, one entry per step
    POST /get_reward  OpenRLHF's ``--remote_rm_url`` call: {"query": [str], "prompts": [str], "labels": [...]}
                      -> {"rewards": [float], "scores": [float], "extra_logs": {name: [float]}}
    GET  /health      -> {"status": "ok", "scorer": str, "max_batch_items": int, "queue_items": int}
    GET  /ready       -> {"ready": true, "reason": "ok"}    (503 + error body when a scorer call is stuck)
    GET  /metrics     Prometheus text format
    errors            -> {"error": {"code": str, "message": str, "request_id": str, "param": str | null}}
                         with the HTTP status listed in :mod:`prmkit.serve.errors`
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ScoreItem", "ScoreRequest", "ScoreResponse", "HealthResponse", "ReadyResponse", "ErrorInfo", "ErrorResponse",
    "RewardRequest", "RewardResponse",
]


class ScoreItem(BaseModel):
    """One solution: the question and its reasoning steps (each non-empty)."""

    model_config = ConfigDict(extra="forbid")

    question: str
    steps: list[str] = Field(min_length=1)


class ScoreRequest(BaseModel):
    """A batch of solutions to score (at most ``--max-items``)."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1)


class ScoreResponse(BaseModel):
    """P(step is correct) per step, in request order; ``null`` where the scorer gives no score."""

    scores: list[list[float | None]]


class RewardRequest(BaseModel):
    """What OpenRLHF's remote reward client POSTs (``openrlhf/utils/agent.py``, ``_fetch_rewards_via_http``).

    ``query`` is prompt + response as decoded by the policy's tokenizer (special tokens kept),
    ``prompts`` the prompts, ``labels`` the ``--label_key`` column. Older OpenRLHF versions sent
    only ``query``; then the whole query is the response and there is no label to check.
    Unknown fields are ignored, as OpenRLHF's own ``serve_rm`` does.
    """

    model_config = ConfigDict(extra="ignore")

    query: list[str] = Field(min_length=1)
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class RewardResponse(BaseModel):
    """OpenRLHF reads ``rewards`` (advantages), ``scores`` (dynamic filtering) and logs ``extra_logs``."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class HealthResponse(BaseModel):
    """Liveness: the process answers (see ``/ready`` for whether it can score)."""

    status: str = "ok"
    scorer: str
    max_batch_items: int
    queue_items: int


class ReadyResponse(BaseModel):
    ready: bool
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    request_id: str | None
    param: str | None = None


class ErrorResponse(BaseModel):
    """Every failure, as data: ``{"error": {"code", "message", "request_id", "param"}}``."""

    error: ErrorInfo
