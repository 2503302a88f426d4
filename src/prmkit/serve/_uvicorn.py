"""uvicorn settings of ``prmkit serve``: timeouts uvicorn lacks, and logging with request ids.

uvicorn times out idle keep-alive connections and bounds the graceful-shutdown drain, but it has
no request-head timeout: a client that sends half its headers holds the connection (and a slot in
the shutdown wait) for ever. :func:`header_timeout_protocol` adds one to uvicorn's h11 protocol.
The body timeout is the gate's (:mod:`.middleware`), since the body is read there.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

__all__ = ["header_timeout_protocol", "log_config"]


def header_timeout_protocol(seconds: float) -> type:
    """uvicorn's ``H11Protocol`` closing connections that do not finish a request head within ``seconds``.

    The clock starts when the connection opens and when the first bytes of a new request head
    arrive on an idle keep-alive connection; it closes the connection only if no new request head
    was completed meanwhile. Idle keep-alive connections are left to ``timeout_keep_alive`` (closing
    them sooner would race clients that reuse pooled connections).
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm_head_timer()  # a new request head starts arriving
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(seconds, self._head_deadline, self.cycle)

        def _head_deadline(self, cycle_when_armed: Any) -> None:
            self._head_timer = None
            if self.cycle is cycle_when_armed and not self.transport.is_closing():
                self.logger.info("closing a connection that sent no complete request head within %g s", seconds)
                self.transport.close()

    return HeaderTimeoutH11Protocol


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging config plus the ``prmkit.serve`` logger (access lines carry request ids)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["prmkit.serve"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
