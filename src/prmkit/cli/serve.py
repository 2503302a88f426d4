"""`prmkit serve`: serve a scorer over HTTP (FastAPI + uvicorn) with dynamic batching.

Endpoints: ``GET /health`` and ``POST /score`` (``{"items": [{"question", "steps"}]}`` ->
``{"scores": [[...]]}``); see :mod:`prmkit.serve`. Clients: ``load_scorer("http", url=...)`` or
any HTTP client.

Example:
    prmkit serve --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --port 8000 --max-batch-items 32
    prmkit serve --model dummy --option value=0.7          # a weightless server for wiring tests
"""

from __future__ import annotations

from typing import Annotated

import typer

from prmkit.cli._common import console, fail, load_cli_scorer

__all__ = ["NAME", "HELP", "run"]

NAME = "serve"
HELP = (
    "Serve a scorer over HTTP (POST /score, GET /health) with dynamic batching.\n\n"
    "Examples:\n\n"
    "    prmkit serve --model dummy --option value=0.7\n\n"
    "    prmkit serve --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --port 8000 --max-batch-items 32\n\n"
    "Clients: load_scorer(\"http\", url=\"http://127.0.0.1:8000\"), or "
    "curl -d '{\"items\": \\[{\"question\": \"1+1?\", \"steps\": \\[\"1+1=2\"]}]}' http://127.0.0.1:8000/score"
)


def run(
    model: Annotated[str, typer.Option(help="Registered scorer name (qwen2.5-math-prm, token-cls, judge, dummy, ...).")],
    path: Annotated[str | None, typer.Option(help="Checkpoint directory or hub id of the scorer.")] = None,
    backend: Annotated[str | None, typer.Option(help="transformers or vllm (families only).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it local.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (1-65535).", min=1, max=65535)] = 8000,
    max_batch_items: Annotated[int, typer.Option(help="Most solutions per scorer call (merged across requests).")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="How long a request waits for others to batch with (ms).")] = 5.0,
    option: Annotated[list[str], typer.Option(help="Scorer option as key=value (JSON values); repeatable.")] = [],  # noqa: B006
) -> None:
    """Load the scorer once, then answer POST /score until interrupted (Ctrl-C)."""
    if max_batch_items < 1:
        fail(f"--max-batch-items must be >= 1, got {max_batch_items}")
    if max_wait_ms < 0:
        fail(f"--max-wait-ms must be >= 0, got {max_wait_ms}")
    try:
        from prmkit.serve.app import run_server
    except ImportError as err:
        fail(f"prmkit serve needs FastAPI and uvicorn: pip install 'prmkit[serve]' ({err})")
    scorer = load_cli_scorer(model, path, backend, option)
    console.print(f"serving {model} on http://{host}:{port} (POST /score, GET /health); Ctrl-C stops")
    run_server(scorer, name=model, host=host, port=port, max_batch_items=max_batch_items, max_wait_ms=max_wait_ms)
