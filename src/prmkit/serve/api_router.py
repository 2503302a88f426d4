"""Routes of ``prmkit serve`` (logic in :mod:`._requests`, :mod:`.serving` and :mod:`.rewards`).

``/health`` (liveness) and ``/ready`` (readiness) are open; every other route needs the API key
when one is set (see :mod:`.middleware`). ``/get_reward`` is mounted only where torch is installed
(the OpenRLHF adapter returns tensors).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prmkit.serve._requests import score_request
from prmkit.serve.errors import ApiError
from prmkit.serve.protocol import (
    ErrorResponse,
    HealthResponse,
    ReadyResponse,
    RewardRequest,
    RewardResponse,
    ScoreRequest,
    ScoreResponse,
)

__all__ = ["router", "reward_router"]

_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 408, 413, 415, 422, 500, 503, 504)}

router = APIRouter()
reward_router = APIRouter()


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse:
    service = request.app.state.service
    return HealthResponse(scorer=service.name, max_batch_items=service.max_batch_items, queue_items=service.queued_items)


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ErrorResponse}})
async def ready(request: Request) -> ReadyResponse:
    ok, reason = request.app.state.service.ready()
    if not ok:
        raise ApiError(503, "not_ready", reason)
    return ReadyResponse(ready=True, reason=reason)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    content, media_type = request.app.state.metrics.render()
    return Response(content=content, media_type=media_type)


@router.post("/score", response_model=ScoreResponse, responses=_ERRORS)
async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
    items = [(item.question, item.steps) for item in body.items]
    return ScoreResponse(scores=await score_request(request, items))


@reward_router.post("/get_reward", response_model=RewardResponse, responses=_ERRORS)
async def get_reward(body: RewardRequest, request: Request) -> RewardResponse:
    from prmkit.serve.rewards import openrlhf_reward

    return await openrlhf_reward(body, request)
