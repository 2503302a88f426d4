"""Routes of ``prmkit serve``: ``GET /health`` and ``POST /score`` (logic in :mod:`.serving`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from prmkit.serve.protocol import ErrorResponse, HealthResponse, ScoreRequest, ScoreResponse
from prmkit.serve.serving import RequestError, ScoringService

__all__ = ["router", "error_response"]

router = APIRouter()


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    """An :class:`ErrorResponse` body with HTTP ``status``."""
    body = ErrorResponse.model_validate({"error": {"type": kind, "message": message, "code": status}})
    return JSONResponse(status_code=status, content=body.model_dump())


def _service(request: Request) -> ScoringService:
    return request.app.state.service


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse:
    service = _service(request)
    return HealthResponse(scorer=service.name, max_batch_items=service.max_batch_items)


@router.post(
    "/score",
    response_model=ScoreResponse,
    responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
)
async def score(body: ScoreRequest, request: Request) -> ScoreResponse | JSONResponse:
    try:
        scores = await _service(request).score([(item.question, item.steps) for item in body.items])
    except RequestError as err:
        return error_response(400, "BadRequestError", str(err))
    except Exception as err:  # the scorer failed: report it as data, keep serving
        return error_response(500, type(err).__name__, str(err) or repr(err))
    return ScoreResponse(scores=scores)
