"""HTTP scoring server with fair dynamic batching, limits, auth and metrics (``prmkit serve``).

Files follow vLLM's entrypoint split: :mod:`.protocol` (pydantic bodies), :mod:`.api_router`
(routes), :mod:`.serving` (the fair batcher), :mod:`._requests` (limits -> job -> deadline and
disconnects), :mod:`.rewards` (OpenRLHF's ``/get_reward``), :mod:`.middleware` (request id, Host,
auth, body size and timeout), :mod:`.limits`, :mod:`.errors` (the one error shape and its status
codes), :mod:`.metrics` (Prometheus), :mod:`.config` and :mod:`.app` (assembly, uvicorn).

The OpenAI-compatible search gateway rides on the same app: :mod:`.gateway` (the ``/v1`` routes),
:mod:`.openai_protocol` (their bodies and the ``search`` object), :mod:`.prompts` (chat template or a
task's prompt), :mod:`.search_service` (one request's search, its caps, deadline and cost) and
:mod:`.policy_batching` (concurrent searches share the policy's batches).
Importing this package does not import FastAPI; the names below load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "run_server", "build_gateway", "GatewayConfig", "ScoringService", "ServeConfig", "ServeLimits"]

_TARGETS = {
    "create_app": "prmkit.serve.app",
    "run_server": "prmkit.serve.app",
    "ScoringService": "prmkit.serve.serving",
    "ServeConfig": "prmkit.serve.config",
    "GatewayConfig": "prmkit.serve.config",
    "build_gateway": "prmkit.serve.search_service",
    "ServeLimits": "prmkit.serve.limits",
}


def __getattr__(name: str) -> Any:
    if name in _TARGETS:
        import importlib

        return getattr(importlib.import_module(_TARGETS[name]), name)
    raise AttributeError(f"module 'prmkit.serve' has no attribute {name!r}")
