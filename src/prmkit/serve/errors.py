"""The one error shape of ``prmkit serve`` and the status codes it uses.

Every failure, whether raised by a route, by the middleware before a route runs (body too large,
bad key) or by FastAPI itself (404, malformed JSON), is answered as::

    {"error": {"code": "<slug>", "message": "<what broke and the fix>", "request_id": "<id>",
               "param": "<items[79].steps[3]> or null"}}

with the HTTP status below. The ``code`` slug is stable; the message is for people.

    400  invalid_request, undecodable_text, blank_step, too_many_items, too_many_steps,
         question_too_long, step_too_long, item_too_long (tokens), invalid_host
    401  unauthorized            missing or wrong ``Authorization: Bearer <key>``
    404  not_found               405  method_not_allowed
    408  body_timeout            the body did not arrive within ``body_timeout_s``
    413  payload_too_large       body over ``max_request_bytes`` (by Content-Length or while read)
    415  unsupported_media_type  POST without ``Content-Type: application/json``
    422  validation_error        the JSON does not match the schema (names each bad field);
         unprocessable_item      the scorer rejected one item (names its index in the request)
    499  client_closed_request   (logged only: the client left before its scores were ready)
    500  internal_error          the scorer failed; the traceback is in the server log under the request id
    503  queue_full (with ``Retry-After``), shutting_down, not_ready (``GET /ready``)
    504  deadline_exceeded       not scored within ``request_timeout_s``
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ApiError", "error_body", "error_bytes", "error_json_response"]


class ApiError(Exception):
    """A failure to answer as data: HTTP ``status``, a stable ``code`` and a message naming the fix.

    Args:
        status: HTTP status (4xx: the client's fault; 5xx: the server's).
        code: stable slug (see the module docstring).
        message: what broke, the value and the fix.
        param: the offending field, e.g. ``"items[79].steps[3]"``.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self, status: int, code: str, message: str, *, param: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


def error_body(err: ApiError, request_id: str | None) -> dict[str, Any]:
    """The JSON body of ``err`` (see :class:`prmkit.serve.protocol.ErrorResponse`)."""
    return {"error": {"code": err.code, "message": err.message, "request_id": request_id, "param": err.param}}


def error_json_response(err: ApiError, request_id: str | None) -> Any:
    """``err`` as a Starlette ``JSONResponse`` (imported lazily: this module stays FastAPI-free)."""
    from starlette.responses import JSONResponse

    headers = dict(err.headers)
    if request_id:
        headers["X-Request-ID"] = request_id
    return JSONResponse(status_code=err.status, content=error_body(err, request_id), headers=headers)


def error_bytes(err: ApiError, request_id: str | None) -> bytes:
    """``err``'s body encoded for a raw ASGI send (the middleware answers before any route runs)."""
    return json.dumps(error_body(err, request_id)).encode()
