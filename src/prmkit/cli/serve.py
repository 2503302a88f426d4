"""`prmkit serve`: serve a scorer over HTTP (FastAPI + uvicorn) with fair dynamic batching.

Endpoints: ``POST /score``, ``POST /get_reward`` (OpenRLHF ``--remote_rm_url``), ``GET /health``,
``GET /ready``, ``GET /metrics``; see :mod:`prmkit.serve`. Clients: ``load_scorer("http", url=...)``
or any HTTP client.

Example:
    prmkit serve --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --port 8000 --max-batch-items 32
    PRMKIT_API_KEY=s3cret prmkit serve --model dummy --option value=0.7 --allowed-host localhost
"""

from __future__ import annotations

from typing import Annotated

import typer

from prmkit.cli._common import console, fail, load_cli_scorer
from prmkit.serve.config import API_KEY_ENV, ServeConfig
from prmkit.serve.limits import ServeLimits

__all__ = ["NAME", "HELP", "run"]

_LIMITS, _CONFIG = ServeLimits(), ServeConfig()  # the flags' defaults are the dataclasses' defaults

NAME = "serve"
HELP = (
    "Serve a scorer over HTTP with fair dynamic batching, request limits, optional bearer-token auth and "
    "Prometheus metrics.\n\n"
    "Routes: POST /score, POST /get_reward (OpenRLHF --remote_rm_url), GET /health, GET /ready, GET /metrics. "
    "Errors are {\"error\": {\"code\", \"message\", \"request_id\", \"param\"}} with status 400 (bad input, limits), "
    "401 (key), 408 (slow body), 413 (body size), 415 (not JSON), 422 (schema), 500 (scorer failed; see the log), "
    "503 (queue full: Retry-After), 504 (deadline).\n\n"
    "Examples:\n\n"
    "    prmkit serve --model dummy --option value=0.7\n\n"
    "    prmkit serve --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --port 8000 --max-batch-items 32\n\n"
    "    curl -H 'Content-Type: application/json' -d '{\"items\": \\[{\"question\": \"1+1?\", \"steps\": \\[\"1+1=2\"]}]}' "
    "http://127.0.0.1:8000/score\n\n"
    "With --api-key (or PRMKIT_API_KEY) add -H 'Authorization: Bearer KEY'. Python clients: "
    "load_scorer(\"http\", url=\"http://127.0.0.1:8000\", headers={\"Authorization\": \"Bearer KEY\"})."
)


def run(
    model: Annotated[str, typer.Option(help="Registered scorer name (qwen2.5-math-prm, token-cls, judge, dummy, ...).")],
    path: Annotated[str | None, typer.Option(help="Checkpoint directory or hub id of the scorer.")] = None,
    backend: Annotated[str | None, typer.Option(help="transformers or vllm (families only).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it local.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (1-65535).", min=1, max=65535)] = 8000,
    max_batch_items: Annotated[int, typer.Option(help="Most solutions per scorer call (merged across requests).", min=1)] = _CONFIG.max_batch_items,
    max_wait_ms: Annotated[float, typer.Option(help="How long a request waits for others to batch with (ms).", min=0)] = _CONFIG.max_wait_ms,
    chunk_items: Annotated[
        int | None, typer.Option(help="Most items of one request per scorer call (default: --max-batch-items).", min=1)
    ] = _CONFIG.chunk_items,
    chunk_ms: Annotated[
        float, typer.Option(help="Also size one request's chunk to take about this long (ms; 0 = off).", min=0)
    ] = _CONFIG.chunk_ms,
    api_key: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer KEY' (all routes but /health, /ready).", envvar=API_KEY_ENV, show_envvar=True)
    ] = None,
    allowed_host: Annotated[list[str], typer.Option(help="Accept only these Host headers (*.example.com ok); repeatable.")] = [],  # noqa: B006
    max_request_bytes: Annotated[int, typer.Option(help="Largest request body (bytes); larger -> 413.", min=1)] = _LIMITS.max_request_bytes,
    max_items: Annotated[int, typer.Option(help="Most solutions per request.", min=1)] = _LIMITS.max_items,
    max_steps: Annotated[int, typer.Option(help="Most steps per solution.", min=1)] = _LIMITS.max_steps,
    max_question_chars: Annotated[int, typer.Option(help="Longest question (characters).", min=1)] = _LIMITS.max_question_chars,
    max_step_chars: Annotated[int, typer.Option(help="Longest step (characters).", min=1)] = _LIMITS.max_step_chars,
    max_item_tokens: Annotated[int | None, typer.Option(help="Longest formatted solution (tokens); default the model's max length.", min=1)] = None,
    max_queue_items: Annotated[int, typer.Option(help="Most items waiting; beyond it 503 + Retry-After.", min=1)] = _CONFIG.max_queue_items,
    request_timeout_s: Annotated[float, typer.Option(help="Per-request deadline (s); then 504.", min=0.001)] = _CONFIG.request_timeout_s,
    body_timeout_s: Annotated[float, typer.Option(help="The body must arrive within this (s); then 408.", min=0.001)] = _CONFIG.body_timeout_s,
    header_timeout_s: Annotated[float, typer.Option(help="A request head must arrive within this (s).", min=0.001)] = _CONFIG.header_timeout_s,
    drain_s: Annotated[float, typer.Option(help="On SIGTERM, in-flight requests get this long (s).", min=0)] = _CONFIG.drain_s,
    option: Annotated[list[str], typer.Option(help="Scorer option as key=value (JSON values); repeatable.")] = [],  # noqa: B006
) -> None:
    """Load the scorer once, then answer requests until SIGINT/SIGTERM."""
    try:
        from prmkit.serve.app import run_server
    except ImportError as err:
        fail(f"prmkit serve needs FastAPI, uvicorn and prometheus_client: pip install 'prmkit[serve]' ({err})")
    if api_key is not None and not api_key.strip():
        fail("--api-key (or PRMKIT_API_KEY) is blank; pass a real key or unset it")
    try:
        limits = ServeLimits(
            max_request_bytes=max_request_bytes, max_items=max_items, max_steps=max_steps,
            max_question_chars=max_question_chars, max_step_chars=max_step_chars, max_item_tokens=max_item_tokens,
        )  # fmt: skip
        config = ServeConfig(
            name=model, max_batch_items=max_batch_items, max_wait_ms=max_wait_ms, chunk_items=chunk_items, chunk_ms=chunk_ms,
            max_queue_items=max_queue_items,
            request_timeout_s=request_timeout_s, body_timeout_s=body_timeout_s, header_timeout_s=header_timeout_s,
            drain_s=drain_s, api_key=api_key, allowed_hosts=tuple(allowed_host), limits=limits,
        )  # fmt: skip
    except ValueError as err:
        fail(str(err))
    scorer = load_cli_scorer(model, path, backend, option)
    auth = "bearer key required" if api_key else "no auth"
    console.print(f"serving {model} on http://{host}:{port} ({auth}; POST /score, GET /health, /ready, /metrics)")
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        console.print(f"[yellow]warning:[/] bound to {host} without --api-key: anyone who can reach it can use it")
    run_server(scorer, config, host=host, port=port)
