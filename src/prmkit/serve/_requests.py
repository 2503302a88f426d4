"""From a parsed request to scores: limits, the token guard, the job, its deadline and its client.

Shared by ``POST /score`` and ``POST /get_reward``. A request's items are checked (cheap limits,
then tokens in a worker thread), queued as one job, and awaited until the first of: the scores,
the per-request deadline (504), or the client disconnecting (its queued items are dropped). The
job's failure is turned into the error shape here, and scorer exceptions are logged with their
traceback under the request id but never sent to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from prmkit.models import ScoringItem
from prmkit.serve.errors import ApiError
from prmkit.serve.limits import check_items
from prmkit.serve.serving import ItemError, Job, Scores

__all__ = ["score_request", "scored_job", "request_id_of"]

logger = logging.getLogger("prmkit.serve")


def request_id_of(request: Any) -> str:
    """The id the gate gave this request (``-`` when called outside the app, e.g. in unit tests)."""
    return getattr(request.state, "request_id", "-")


async def check_request(request: Any, items: Sequence[ScoringItem], field: str = "items") -> None:
    """Apply the limits, then the token guard (in a thread: it may tokenize)."""
    state = request.app.state
    check_items(items, state.config.limits, field=field)
    if state.token_guard.active:
        await asyncio.to_thread(state.token_guard.check, items, field=field)


async def _until_disconnect(request: Any) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def score_request(request: Any, items: Sequence[ScoringItem], *, field: str = "items", checked: bool = False) -> Scores:
    """Check (unless ``checked``), queue and await one request's items.

    Raises:
        ApiError: 4xx for bad items, 422 for an item the scorer rejected, 499 when the client left,
            500 when the scorer failed (logged), 503 when the queue is full, 504 past the deadline.
    """
    job = await scored_job(request, items, field=field, checked=checked)
    return job.future.result()


async def scored_job(
    request: Any, items: Sequence[ScoringItem], *, field: str = "items", checked: bool = False, watch_client: bool = True
) -> Job:
    """:func:`score_request`, returning the finished job (its scores and ``tokens_run``).

    ``watch_client=False`` leaves the client's disconnect to the caller (the search gateway watches
    it for the whole search); cancelling this coroutine drops the job's items still queued.
    """
    state = request.app.state
    request_id = request_id_of(request)
    if not checked:
        await check_request(request, items, field)
    job = state.service.submit(items, request_id)
    state.metrics.items.inc(len(items))
    waits: set[asyncio.Future[Any]] = {job.future}
    gone = asyncio.ensure_future(_until_disconnect(request)) if watch_client else None
    if gone is not None:
        waits.add(gone)
    try:
        done, _ = await asyncio.wait(waits, timeout=state.config.request_timeout_s, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        state.service.cancel(job)
        raise
    finally:
        if gone is not None:
            gone.cancel()
    if job.future in done and not job.future.cancelled():
        error = job.future.exception()
        if error is None:
            return job
        raise _as_api_error(error, request_id, field)
    state.service.cancel(job)
    if gone is not None and gone in done:
        logger.info("client disconnected; dropped its %d queued items [request_id=%s]", len(items), request_id)
        raise ApiError(499, "client_closed_request", "the client disconnected before the scores were ready")
    raise ApiError(
        504,
        "deadline_exceeded",
        f"not scored within {state.config.request_timeout_s:g} s (--request-timeout-s); the server is overloaded "
        "or the request too large: send fewer items or retry later",
    )


def _as_api_error(error: BaseException, request_id: str, field: str) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ItemError):
        logger.info("scorer rejected %s[%d]: %s [request_id=%s]", field, error.index, error, request_id)
        message = str(error).replace("items[", f"{field}[", 1) if field != "items" else str(error)
        return ApiError(422, "unprocessable_item", message, param=f"{field}[{error.index}]")
    logger.error("scoring failed [request_id=%s]", request_id, exc_info=error)
    return ApiError(
        500,
        "internal_error",
        f"scoring failed on the server; its log has the cause under request id {request_id}",
    )
