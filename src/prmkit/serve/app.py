"""Build and run the ``prmkit serve`` FastAPI application around one scorer."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from prmkit.models import Scorer
from prmkit.serve.api_router import reward_router, router
from prmkit.serve.config import ServeConfig
from prmkit.serve.errors import ApiError, error_json_response
from prmkit.serve.limits import TokenGuard
from prmkit.serve.metrics import ServeMetrics
from prmkit.serve.middleware import Gatekeeper
from prmkit.serve.serving import ScoringService

__all__ = ["create_app", "run_server"]

logger = logging.getLogger("prmkit.serve")

_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}


def _config(config: ServeConfig | None, overrides: dict[str, Any]) -> ServeConfig:
    config = config or ServeConfig()
    fields = {f.name for f in dataclasses.fields(ServeConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown server setting(s) {', '.join(unknown)}; ServeConfig has {', '.join(sorted(fields))}")
    return dataclasses.replace(config, **overrides)


def create_app(scorer: Scorer, config: ServeConfig | None = None, *, gateway: Any = None, **overrides: Any) -> FastAPI:
    """A FastAPI app serving ``scorer`` with fair dynamic batching, limits, auth and metrics.

    Args:
        scorer: any scorer.
        config: the settings (:class:`~prmkit.serve.config.ServeConfig`); default ``ServeConfig()``.
        gateway: a :class:`~prmkit.serve.search_service.SearchService` (from
            :func:`~prmkit.serve.search_service.build_gateway`): also answer ``/v1/chat/completions``,
            ``/v1/completions`` and ``/v1/models`` with searches guided by ``scorer`` (closed with the app).
        **overrides: single settings replacing ``config``'s (``name="dummy", max_wait_ms=0``).

    Raises:
        TypeError: an unknown setting.

    Example:
        >>> app = create_app(load_scorer("dummy", value=0.7), name="dummy", api_key="s3cret")   # doctest: +SKIP
    """
    config = _config(config, overrides)
    service = ScoringService(
        scorer,
        name=config.name,
        max_batch_items=config.max_batch_items,
        max_wait_ms=config.max_wait_ms,
        chunk_items=config.chunk_items,
        chunk_ms=config.chunk_ms,
        max_queue_items=config.max_queue_items,
        stall_after_s=config.stall_after_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.close()
        if gateway is not None:
            gateway.close()

    app = FastAPI(title="prmkit scorer", lifespan=lifespan)
    app.state.config = config
    app.state.service = service
    app.state.metrics = metrics = ServeMetrics(service)
    app.state.token_guard = TokenGuard(scorer, config.limits.max_item_tokens, service.scorer_lock)
    app.state.started = int(time.time())
    app.include_router(router)
    routers = [router, reward_router]  # the paths metrics label by name
    if importlib.util.find_spec("torch") is not None:
        app.include_router(reward_router)
    if gateway is not None:
        from prmkit.serve.gateway import gateway_router

        app.state.gateway = gateway
        metrics.watch_gateway(gateway)
        app.include_router(gateway_router)
        routers.append(gateway_router)

    def answer(request: Request, err: ApiError) -> Any:
        metrics.errors.labels(code=err.code).inc()
        return error_json_response(err, getattr(request.state, "request_id", None))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return answer(request, ApiError(422, "validation_error", f"invalid request body: {problems}"))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Any:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = "the body is not valid UTF-8 JSON" if exc.status_code == 400 else str(exc.detail)
        return answer(request, ApiError(exc.status_code, code, message, headers=exc.headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        request_id = getattr(request.state, "request_id", "-")
        logger.error("unhandled error [request_id=%s]", request_id, exc_info=exc)
        return answer(request, ApiError(500, "internal_error", f"internal error; the server log has it under request id {request_id}"))

    paths = [r.path for group in routers for r in group.routes]  # type: ignore[attr-defined]
    app.add_middleware(Gatekeeper, config=config, metrics=metrics, routes=paths)  # type: ignore[arg-type]
    return app


def run_server(
    scorer: Scorer,
    config: ServeConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    gateway: Any = None,
    **overrides: Any,
) -> None:
    """Serve ``scorer`` with uvicorn until SIGINT/SIGTERM (blocking).

    On SIGTERM the server stops accepting connections and gives in-flight requests ``drain_s``
    seconds before cancelling them; request heads must arrive within ``header_timeout_s`` and
    bodies within ``body_timeout_s``; idle keep-alive connections close after ``keep_alive_s``.
    """
    import uvicorn

    from prmkit.serve._uvicorn import header_timeout_protocol, log_config

    config = _config(config, overrides)
    app = create_app(scorer, config, gateway=gateway)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=False,  # the gate logs each request with its id
        http=header_timeout_protocol(config.header_timeout_s),  # type: ignore[arg-type]
        timeout_keep_alive=config.keep_alive_s,  # type: ignore[arg-type]
        timeout_graceful_shutdown=config.drain_s,  # type: ignore[arg-type]
        h11_max_incomplete_event_size=16 * 1024,
    )
