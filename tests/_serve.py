"""Helpers shared by the ``prmkit serve`` tests: recording scorers, in-process clients, a live uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

__all__ = ["LiveServer", "Recorder", "Gate", "free_port", "post_concurrently", "start_cli_server", "ERROR_KEYS"]

ERROR_KEYS = {"code", "message", "request_id", "param"}


class Recorder:
    """Step k of the item whose question ends in ``i`` scores (i*10 + k) / 100; records each call's items."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[tuple[str, list[str]]]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def score(self, items):
        with self.lock:
            self.batches.append([(q, list(s)) for q, s in items])
        time.sleep(self.delay)
        return [[(int(q.split()[-1]) * 10 + k) / 100 for k in range(len(s))] for q, s in items]


class Gate:
    """A scorer that blocks each call until released (to hold a batch in flight on purpose)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def score(self, items):
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return [[0.5] * len(s) for _, s in items]


async def post_concurrently(app: Any, bodies: list[dict], path: str = "/score", stagger: float = 0.0, **kwargs: Any):
    """POST each body to ``app`` in process at (almost) the same time; responses in body order."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def one(i: int, body: dict):
            await asyncio.sleep(i * stagger)
            return await client.post(path, json=body, **kwargs)

        return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cli_server(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[subprocess.Popen, int]:
    """``prmkit serve --port P *args`` in a subprocess, once its ``/health`` answers; fails the test
    with the server's output if it exits or is not up within ``timeout`` seconds."""
    import pytest

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from prmkit.cli import main; main()", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"prmkit serve did not come up: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.1)


class LiveServer:
    """A uvicorn server on 127.0.0.1 in a background thread; stops on exit (bounded waits).

    Args:
        app: the ASGI app.
        **config: extra ``uvicorn.Config`` arguments (``http=``, ``timeout_keep_alive=``...).
    """

    def __init__(self, app: Any, **config: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
