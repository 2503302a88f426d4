"""HTTP scoring server with dynamic batching (``prmkit serve``).

Files follow vLLM's entrypoint split: :mod:`.protocol` (pydantic bodies), :mod:`.api_router`
(routes), :mod:`.serving` (validation + batching logic), :mod:`.app` (assembly). Importing this
package does not import FastAPI; the names below load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "run_server", "ScoringService"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "run_server"):
        from prmkit.serve import app

        return getattr(app, name)
    if name == "ScoringService":
        from prmkit.serve.serving import ScoringService

        return ScoringService
    raise AttributeError(f"module 'prmkit.serve' has no attribute {name!r}")
