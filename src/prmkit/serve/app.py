"""Build and run the ``prmkit serve`` FastAPI application around one scorer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from prmkit.models import Scorer
from prmkit.serve.api_router import error_response, router
from prmkit.serve.serving import ScoringService

__all__ = ["create_app", "run_server"]


def create_app(scorer: Scorer, *, name: str = "scorer", max_batch_items: int = 64, max_wait_ms: float = 5.0) -> FastAPI:
    """A FastAPI app serving ``scorer`` with dynamic batching (see :class:`ScoringService`).

    Malformed bodies get a 422 :class:`~prmkit.serve.protocol.ErrorResponse` naming each bad field.

    Example:
        >>> app = create_app(load_scorer("dummy", value=0.7), name="dummy")   # doctest: +SKIP
    """
    service = ScoringService(scorer, name=name, max_batch_items=max_batch_items, max_wait_ms=max_wait_ms)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.close()

    app = FastAPI(title="prmkit scorer", lifespan=lifespan)
    app.state.service = service
    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return error_response(422, "ValidationError", f"invalid request body: {problems}")

    return app


def run_server(
    scorer: Scorer,
    *,
    name: str = "scorer",
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch_items: int = 64,
    max_wait_ms: float = 5.0,
    log_level: str = "info",
) -> None:
    """Serve ``scorer`` with uvicorn until interrupted (blocking)."""
    import uvicorn

    app = create_app(scorer, name=name, max_batch_items=max_batch_items, max_wait_ms=max_wait_ms)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
