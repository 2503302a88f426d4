"""The gate every request passes before a route runs (a plain ASGI middleware).

In order: a request id (the client's ``X-Request-ID`` when it is sane, else a fresh one; echoed in
the response and every log line), the ``Host`` check, the bearer-token check, the JSON content
type of POSTs, and the body: refused with 413 from ``Content-Length`` alone, or as soon as the
streamed bytes pass the limit, and with 408 when it does not arrive within ``body_timeout_s``.
Only a complete body within the limit is handed to the app, so no route ever sees (or holds in
memory) more than ``max_request_bytes``. One access-log line and the request metrics are written
here, so errors answered by the gate are counted like any other.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prmkit.serve.config import ServeConfig
from prmkit.serve.errors import ApiError, error_bytes
from prmkit.serve.metrics import ServeMetrics

__all__ = ["Gatekeeper", "OPEN_ROUTES"]

logger = logging.getLogger("prmkit.serve")

OPEN_ROUTES = frozenset({"/health", "/ready"})  # probes carry no key
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    name = host.rsplit("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
    name = name.lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class Gatekeeper:
    """ASGI middleware enforcing the request id, Host, auth, content type and body limits.

    Args:
        app: the FastAPI app.
        config: the server settings (limits, key, hosts, body timeout).
        metrics: where requests and errors are counted.
        routes: the app's route paths (metrics label other paths as ``"other"``).
    """

    def __init__(self, app: Any, *, config: ServeConfig, metrics: ServeMetrics, routes: Iterable[str]) -> None:
        self.app = app
        self.config = config
        self.metrics = metrics
        self.routes = frozenset(routes)
        self._key = config.api_key.encode() if config.api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _SANE_ID.match(offered) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        status = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            error = self._check_head(scope)
            body: bytes | None = b""
            if error is None and scope["method"] in _BODY_METHODS:
                body, error = await self._read_body(scope, receive)
            if error is not None:
                await self._send_error(send_with_id, error, request_id)
            elif body is not None:  # None: the client left while sending; nobody to answer
                await self.app(scope, _replay(body, receive), send_with_id)
        finally:
            path = scope.get("path", "")
            seconds = time.perf_counter() - started
            self.metrics.observe_request(path if path in self.routes else "other", status[0] or 499, seconds)
            logger.info(
                "%s %s -> %s in %.1f ms [request_id=%s]",
                scope.get("method"), path, status[0] or "client gone", 1000 * seconds, request_id,
            )

    def _check_head(self, scope: Scope) -> ApiError | None:
        """Host, key, content type and declared length: everything decidable from the headers."""
        if self.config.allowed_hosts and not _host_allowed(_header(scope, b"host") or "", self.config.allowed_hosts):
            return ApiError(400, "invalid_host", "the Host header is not one this server answers to (--allowed-host)")
        if self._key is not None and scope.get("path") not in OPEN_ROUTES:
            given = _header(scope, b"authorization") or ""
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._key):
                return ApiError(
                    401,
                    "unauthorized",
                    "missing or wrong API key; send the header 'Authorization: Bearer <key>' "
                    "(the key the server was started with: --api-key or PRMKIT_API_KEY)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if scope["method"] not in _BODY_METHODS:
            return None
        kind = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            return ApiError(
                415,
                "unsupported_media_type",
                f"the body is {kind or 'untyped'}; send JSON with the header 'Content-Type: application/json'",
            )
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return ApiError(400, "invalid_request", f"Content-Length {declared!r} is not a number")
            if length > self.config.limits.max_request_bytes:
                return self._too_large(f"Content-Length is {length} bytes")
        return None

    def _too_large(self, what: str) -> ApiError:
        limit = self.config.limits.max_request_bytes
        return ApiError(
            413,
            "payload_too_large",
            f"{what}, over the limit of {limit} bytes (--max-request-bytes); send fewer items per request",
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes | None, ApiError | None]:
        """The whole body, or the reason to stop reading it (413, 408); ``(None, None)`` if the client left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        limit = self.config.limits.max_request_bytes
        while True:
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                return None, ApiError(
                    408,
                    "body_timeout",
                    f"the body did not arrive within {self.config.body_timeout_s:g} s ({size} bytes received); "
                    "check Content-Length and the client's upload",
                )
            if message["type"] == "http.disconnect":
                return None, None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None, self._too_large(f"the body passed {limit} bytes while being read")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    async def _send_error(self, send: Send, error: ApiError, request_id: str) -> None:
        self.metrics.errors.labels(code=error.code).inc()
        body = error_bytes(error, request_id)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        if error.status in (408, 413):  # the rest of the body is not read: the connection cannot be reused
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then the client's later messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
