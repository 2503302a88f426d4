"""`prmkit serve`: serve a scorer over HTTP (FastAPI + uvicorn) with fair dynamic batching, and search with it.

Endpoints: ``POST /score``, ``POST /get_reward`` (OpenRLHF ``--remote_rm_url``), ``GET /health``,
``GET /ready``, ``GET /metrics``; see :mod:`prmkit.serve`. Clients: ``load_scorer("http", url=...)``
or any HTTP client. With ``--policy`` (or ``--policy-url``) the same server is also an
OpenAI-compatible search gateway (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``;
see :mod:`prmkit.serve.gateway`).

Example:
    prmkit serve --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --port 8000 --max-batch-items 32
    PRMKIT_API_KEY=s3cret prmkit serve --model dummy --option value=0.7 --allowed-host localhost
    prmkit serve --policy demo --prm arith-oracle --search-method dvts --search-n 8
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from prmkit.cli._common import console, fail, load_cli_scorer, prm_source
from prmkit.cli._gateway import POLICY_API_KEY_ENV, PolicyFlags
from prmkit.serve.config import API_KEY_ENV, GatewayConfig, ServeConfig
from prmkit.serve.limits import ServeLimits

__all__ = ["NAME", "HELP", "run"]

_LIMITS, _CONFIG, _GATEWAY = ServeLimits(), ServeConfig(), GatewayConfig()  # the flags' defaults are the dataclasses'
_GW = "Search gateway"  # help panel of the gateway's flags

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
    "load_scorer(\"http\", url=\"http://127.0.0.1:8000\", headers={\"Authorization\": \"Bearer KEY\"}).\n\n"
    "Search gateway: with --policy (a checkpoint, or 'demo') or --policy-url (an OpenAI-compatible server) and --prm "
    "(a scorer name, a PRM folder or FAMILY:PATH), the server also answers POST /v1/chat/completions and "
    "POST /v1/completions and GET /v1/models in the OpenAI shapes: the answer is the solution a PRM-guided search "
    "chose; a request's \"search\" object ({\"method\", \"n\", \"select\", ...}) overrides the --search-* defaults. "
    "Above the caps (--max-search-n, --max-search-tokens, --max-search-steps) 400; a policy that is down 503.\n\n"
    "    prmkit serve --policy demo --prm arith-oracle\n\n"
    "    curl -H 'Content-Type: application/json' -d '{\"model\": \"prmkit-arith-demo\", \"messages\": \\[{\"role\": \"user\", "
    "\"content\": \"Q 10 +14 -7\"}], \"search\": {\"method\": \"dvts\", \"n\": 8}}' http://127.0.0.1:8000/v1/chat/completions"
)


def run(
    model: Annotated[str | None, typer.Option(help="Registered scorer name (qwen2.5-math-prm, token-cls, judge, dummy, ...); or use --prm.")] = None,
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
    prm: Annotated[str | None, typer.Option(help="The scorer as `prmkit search --prm` takes it: a PRM folder, FAMILY:PATH or a registered name (instead of --model/--path).")] = None,
    prm_family: Annotated[str | None, typer.Option(help="Scorer family when --prm is a folder (default: its prmkit.json's).")] = None,
    policy: Annotated[str | None, typer.Option(help="Policy checkpoint dir or hub id ('demo' = the shipped arith policy): turns the search gateway on.", rich_help_panel=_GW)] = None,
    policy_url: Annotated[str | None, typer.Option(help="OpenAI-compatible /v1/completions server of the policy (vLLM, TGI, another prmkit gateway).", rich_help_panel=_GW)] = None,
    policy_model: Annotated[str | None, typer.Option(help="The model name --policy-url serves.", rich_help_panel=_GW)] = None,
    policy_api_key: Annotated[str | None, typer.Option(help="Bearer key of --policy-url.", envvar=POLICY_API_KEY_ENV, show_envvar=True, rich_help_panel=_GW)] = None,
    policy_timeout_s: Annotated[float, typer.Option(help="Timeout of one --policy-url request (s); 2 retries on 5xx/timeouts.", min=0.001, rich_help_panel=_GW)] = 30.0,
    policy_backend: Annotated[str, typer.Option(help="How --policy runs here: transformers or vllm.", rich_help_panel=_GW)] = "transformers",
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer whose chat template builds prompts (default: the policy's).", rich_help_panel=_GW)] = None,
    task: Annotated[str | None, typer.Option(help="Prompt with this task's own prompt (arith, gsm8k) instead of a chat template; default arith for --policy demo.", rich_help_panel=_GW)] = None,
    task_option: Annotated[list[str], typer.Option(help="Task option as key=value; repeatable.", rich_help_panel=_GW)] = [],  # noqa: B006
    step_separator: Annotated[str, typer.Option(help="Step separator of a chat policy's solutions (no --task).", rich_help_panel=_GW)] = "\n\n",
    served_model_name: Annotated[str | None, typer.Option(help="The model id /v1/models lists (default: from the policy).", rich_help_panel=_GW)] = None,
    search_method: Annotated[str, typer.Option(help="Default search method (best_of_n, beam, dvts, particle_filtering, mcts, early_reject).", rich_help_panel=_GW)] = _GATEWAY.method,
    search_n: Annotated[int | None, typer.Option(help="Default candidate budget n.", min=1, rich_help_panel=_GW)] = None,
    search_select: Annotated[str | None, typer.Option(help="Default answer selection: weighted, majority or best.", rich_help_panel=_GW)] = None,
    search_option: Annotated[list[str], typer.Option(help="Other SearchConfig default as key=value (beam_width=4); repeatable.", rich_help_panel=_GW)] = [],  # noqa: B006
    max_search_n: Annotated[int, typer.Option(help="Most candidates one request may ask for.", min=1, rich_help_panel=_GW)] = _GATEWAY.max_n,
    max_search_tokens: Annotated[int, typer.Option(help="Most tokens per solution and per step one request may ask for.", min=1, rich_help_panel=_GW)] = _GATEWAY.max_tokens,
    max_search_steps: Annotated[int, typer.Option(help="Most steps per solution one request may ask for.", min=1, rich_help_panel=_GW)] = _GATEWAY.max_steps,
    max_prompts: Annotated[int, typer.Option(help="Most prompts per /v1/completions request.", min=1, rich_help_panel=_GW)] = _GATEWAY.max_prompts,
    max_searches: Annotated[int, typer.Option(help="Searches running at once (one thread each).", min=1, rich_help_panel=_GW)] = _GATEWAY.max_searches,
    max_pending_searches: Annotated[int, typer.Option(help="Searches running or waiting; beyond it 503.", min=1, rich_help_panel=_GW)] = _GATEWAY.max_pending_searches,
    policy_batch_wait_ms: Annotated[float, typer.Option(help="How long a lone policy call waits for other requests' calls (ms).", min=0, rich_help_panel=_GW)] = _GATEWAY.policy_max_wait_ms,
    policy_max_batch: Annotated[int, typer.Option(help="Most sequences (prompts x n) per policy call.", min=1, rich_help_panel=_GW)] = _GATEWAY.policy_max_batch,
    threads: Annotated[int, typer.Option(help="torch CPU threads of a local policy (0 = torch's default; 1 suits tiny policies).", min=0, rich_help_panel=_GW)] = 1,
) -> None:
    """Load the scorer (and the policy) once, then answer requests until SIGINT/SIGTERM."""
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
            name=model or "scorer", max_batch_items=max_batch_items, max_wait_ms=max_wait_ms, chunk_items=chunk_items, chunk_ms=chunk_ms,
            max_queue_items=max_queue_items,
            request_timeout_s=request_timeout_s, body_timeout_s=body_timeout_s, header_timeout_s=header_timeout_s,
            drain_s=drain_s, api_key=api_key, allowed_hosts=tuple(allowed_host), limits=limits,
        )  # fmt: skip
    except ValueError as err:
        fail(str(err))
    flags = PolicyFlags(
        policy=policy, policy_url=policy_url, policy_model=policy_model, policy_api_key=policy_api_key,
        policy_timeout_s=policy_timeout_s, policy_backend=policy_backend, tokenizer=tokenizer, task=task,
        task_option=task_option, step_separator=step_separator, served_model_name=served_model_name,
        search_method=search_method, search_n=search_n, search_select=search_select, search_option=search_option,
        caps={"max_n": max_search_n, "max_tokens": max_search_tokens, "max_steps": max_search_steps, "max_prompts": max_prompts,
              "max_searches": max_searches, "max_pending_searches": max_pending_searches,
              "policy_max_wait_ms": policy_batch_wait_ms, "policy_max_batch": policy_max_batch},
        threads=threads,
    )  # fmt: skip
    name, path = _scorer_source(model, path, prm, prm_family, gateway=flags.wanted)
    config = dataclasses.replace(config, name=name)
    gateway = None
    if flags.wanted:
        from prmkit.cli._gateway import build_cli_gateway

        gateway = build_cli_gateway(flags)
    scorer = load_cli_scorer(name, path, backend, option)
    if name == "arith-oracle" and gateway is not None:
        console.print("[bold yellow]warning:[/bold yellow] searching with the exact arith oracle: it knows every step's "
                      "truth, an upper bound no trained PRM reaches; pass --prm DIR to search with a real PRM", soft_wrap=True)
    auth = "bearer key required" if api_key else "no auth"
    console.print(f"serving {name} on http://{host}:{port} ({auth}; POST /score, GET /health, /ready, /metrics)")
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        console.print(f"[yellow]warning:[/] bound to {host} without --api-key: anyone who can reach it can use it")
    run_server(scorer, config, host=host, port=port, gateway=gateway)


def _scorer_source(model: str | None, path: str | None, prm: str | None, family: str | None, *, gateway: bool) -> tuple[str, str | None]:
    """The scorer name and checkpoint from ``--model/--path`` or ``--prm/--prm-family`` (exactly one of the two)."""
    if prm is not None:
        if model is not None or path is not None:
            fail("give the scorer once: --prm, or --model with --path, not both")
        folder, name = prm_source(prm, family)
        return name, folder
    if family is not None:
        fail("--prm-family goes with --prm")
    if model is None:
        hint = " (e.g. --prm arith-oracle for the arith demo, or --prm DIR of a trained PRM)" if gateway else ""
        fail(f"which scorer? pass --model NAME (with --path) or --prm{hint}")
    return model, path
