"""One gateway request's search: settings and caps, the run in a worker thread, its deadline and its cost.

A request's search is :func:`prmkit.search.run_search` on the request's problem(s), run in a
thread of the gateway's own pool (searches block on the policy and the PRM; the event loop must
not). The policy is the shared :class:`~prmkit.serve.policy_batching.BatchingGenerator`, so
concurrent requests share generation batches; the PRM is the server's fair batcher
(:class:`~prmkit.serve.serving.ScoringService`, with the limits of ``/score``), so they share
scoring batches too. Each request's PRM tokens are its share of the batches it rode in.

The route waits for the first of: the search, the deadline (``request_timeout_s``: 504) or the
client leaving (499). Either of the latter cancels the search, which stops at its next policy or
PRM call (the batch in flight finishes; nothing is left waiting on it). A policy server that is
down or failing answers 503 with its error; one that hangs is bounded by the generator's own timeout
and the deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from prmkit._errors import InputError
from prmkit.generation import Generator
from prmkit.models import ScoringItem
from prmkit.search import SEARCH_METHODS, SearchConfig, SearchResult, run_search
from prmkit.serve._requests import request_id_of, scored_job
from prmkit.serve.config import GatewayConfig
from prmkit.serve.errors import ApiError
from prmkit.serve.openai_protocol import SEARCH_FIELDS, SearchOptions
from prmkit.serve.policy_batching import BatchingGenerator
from prmkit.serve.prompts import ChatSteps, ChatTemplatePrompts, GatewayTask, TaskPrompts
from prmkit.tasks import Task
from prmkit.types import Completion, Problem

__all__ = ["SearchService", "SearchRun", "build_gateway"]

logger = logging.getLogger("prmkit.serve")

T = TypeVar("T")
_SCORED = "search_candidates"  # the field PRM limit errors name: the search's own partial solutions
_WIDTH_METHODS = ("beam", "dvts", "mcts")


class _Cancelled(Exception):
    """The request was answered already (deadline, client gone): stop searching."""


class _Guard:
    """One request's cancel switch, checked before every policy and PRM call of its search."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.event.is_set():
            raise _Cancelled

    def track(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.add(future)
        if self.event.is_set():
            future.cancel()

    def untrack(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def cancel(self) -> None:
        self.event.set()
        with self._lock:
            for future in self._pending:
                future.cancel()


class _RequestPolicy:
    """The shared policy as one request's search sees it (stops once the request is cancelled)."""

    def __init__(self, shared: Generator, guard: _Guard) -> None:
        self.shared, self.guard = shared, guard

    def complete(self, prompts: Sequence[str], **kwargs: Any) -> list[list[Completion]]:
        self.guard.check()
        return self.shared.complete(prompts, **kwargs)


class _RequestScorer:
    """The server's batcher as a :class:`~prmkit.models.Scorer` for a search thread; counts this request's PRM tokens."""

    def __init__(self, request: Any, loop: asyncio.AbstractEventLoop, guard: _Guard, counts_tokens: bool) -> None:
        self.request, self.loop, self.guard = request, loop, guard
        self._tokens: int | None = 0 if counts_tokens else None

    @property
    def tokens_run(self) -> int | None:
        return self._tokens

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        self.guard.check()
        future = asyncio.run_coroutine_threadsafe(
            scored_job(self.request, items, field=_SCORED, watch_client=False), self.loop
        )
        self.guard.track(future)
        try:
            job = future.result()
        except concurrent.futures.CancelledError:
            raise _Cancelled from None
        finally:
            self.guard.untrack(future)
        if self._tokens is not None:
            self._tokens += job.tokens_run
        return job.future.result()


@dataclass
class SearchRun:
    """A finished request: the per-problem results, the config used and the request's wall time."""

    method: str
    config: SearchConfig
    results: list[SearchResult]
    wall_seconds: float


class SearchService:
    """Runs gateway requests: searches (:meth:`search`) and plain policy samples (:meth:`sample`).

    Args:
        task: what a solution is (step separator, splitting, answers); prompts come from ``prompts``.
        prompts: :class:`~prmkit.serve.prompts.TaskPrompts` or :class:`~prmkit.serve.prompts.ChatTemplatePrompts`.
        policy: the policy generator (wrapped in a :class:`BatchingGenerator` shared by all requests).
        config: defaults and caps (:class:`~prmkit.serve.config.GatewayConfig`).
    """

    def __init__(self, task: Task, prompts: Any, policy: Generator, config: GatewayConfig | None = None) -> None:
        self.config = config or GatewayConfig()
        self.task = GatewayTask(task)
        self.prompts = prompts
        self.policy = BatchingGenerator(
            policy, max_wait_ms=self.config.policy_max_wait_ms, max_batch_sequences=self.config.policy_max_batch
        )
        self.pending = 0  # searches running or waiting for a thread
        self.on_search: Callable[[str, float], None] | None = None  # metrics: (method, seconds)
        self._pool = ThreadPoolExecutor(self.config.max_searches, thread_name_prefix="prmkit-search")
        self._guards: set[_Guard] = set()  # of the searches in flight (cancelled on close)
        self._check_default()

    def _check_default(self) -> None:
        if self.config.method not in SEARCH_METHODS.names():
            raise ValueError(f"unknown default search method {self.config.method!r}; choose one of {', '.join(SEARCH_METHODS.names())}")
        if self.config.method in _WIDTH_METHODS:
            self.config.search.check_width(self.config.method)

    def close(self) -> None:
        """Cancel the searches in flight (each stops at its next call: no thread is left waiting) and stop the batcher."""
        for guard in list(self._guards):
            guard.cancel()
        self.policy.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- settings -------------------------------------------------------------------------------

    def settings(
        self, search: SearchOptions | None, *, temperature: float | None = None, max_tokens: int | None = None,
        seed: int | None = None,
    ) -> tuple[str, SearchConfig]:
        """The method and config of a request: its ``search`` object over its top-level fields over the defaults.

        Raises:
            ApiError: 400 ``unknown_method``, ``over_cap`` (n, tokens, steps) or ``invalid_search``.
        """
        given = search.model_dump(exclude_none=True) if search is not None else {}
        method = given.pop("method", None) or self.config.method
        if method not in SEARCH_METHODS.names():
            raise ApiError(400, "unknown_method", f"search.method {method!r} is not a search method; choose one of "
                           f"{', '.join(SEARCH_METHODS.names())}", param="search.method")
        fields = {SEARCH_FIELDS.get(key, key): value for key, value in given.items()}
        for name, value in (("temperature", temperature), ("max_new_tokens", max_tokens), ("seed", seed)):
            if value is not None:
                fields.setdefault(name, value)
        merged = {**self.config.search.to_dict(), **fields}
        self._check_caps(merged)
        try:
            config = SearchConfig(**merged)
            if method in _WIDTH_METHODS:
                config.check_width(method)
        except ValueError as err:
            raise ApiError(400, "invalid_search", f"{err} (set these in the request's search object)", param="search") from None
        return method, config

    def _check_caps(self, merged: dict[str, Any]) -> None:
        caps = self.config
        for name, wire, cap, flag in (
            ("n", "search.n", caps.max_n, "--max-search-n"),
            ("max_new_tokens", "max_tokens", caps.max_tokens, "--max-search-tokens"),
            ("max_step_tokens", "search.max_step_tokens", caps.max_tokens, "--max-search-tokens"),
            ("max_steps", "search.max_steps", caps.max_steps, "--max-search-steps"),
        ):
            if isinstance(merged.get(name), int) and merged[name] > cap:
                raise ApiError(400, "over_cap", f"{wire} = {merged[name]} is over this server's cap of {cap} ({flag}); "
                               f"ask for at most {cap}", param=wire)

    def check_sampling(self, *, prompts: int, n: int, max_tokens: int) -> None:
        """The caps of a plain ``/v1/completions`` request (400 ``over_cap``)."""
        for value, wire, cap, flag in (
            (prompts, "prompt", self.config.max_prompts, "--max-prompts"),
            (n, "n", self.config.max_n, "--max-search-n"),
            (max_tokens, "max_tokens", self.config.max_tokens, "--max-search-tokens"),
        ):
            if value > cap:
                raise ApiError(400, "over_cap", f"{wire} = {value} is over this server's cap of {cap} ({flag})", param=wire)

    # -- running --------------------------------------------------------------------------------

    async def search(self, request: Any, problems: list[Problem], method: str, config: SearchConfig) -> SearchRun:
        """Search every problem of one request together (one ``run_search``).

        Raises:
            ApiError: 503 (policy down, too many searches), 504 (deadline), 499 (client gone),
                400/422 (the policy or PRM rejected the input), 500 (logged).
        """
        loop = asyncio.get_running_loop()
        counts = isinstance(getattr(request.app.state.service.scorer, "tokens_run", None), int)
        started = time.perf_counter()

        def run(guard: _Guard) -> list[SearchResult]:
            scorer = _RequestScorer(request, loop, guard, counts)
            return run_search(method, self.task, _RequestPolicy(self.policy, guard), scorer, problems, config)

        results = await self._run(request, run)
        seconds = time.perf_counter() - started
        if self.on_search is not None:
            self.on_search(method, seconds)
        return SearchRun(method, config, results, seconds)

    async def sample(self, request: Any, prompts: list[str], **kwargs: Any) -> list[list[Completion]]:
        """Plain samples of the policy (``/v1/completions`` without ``search``), through the shared batches."""
        return await self._run(request, lambda guard: _RequestPolicy(self.policy, guard).complete(prompts, **kwargs))

    async def _run(self, request: Any, work: Callable[[_Guard], T]) -> T:
        limit = self.config.max_pending_searches
        if self.pending >= limit:
            raise ApiError(503, "queue_full", f"{self.pending} searches are running or waiting (limit {limit}, "
                           "--max-pending-searches); retry in a few seconds", headers={"Retry-After": "1"})
        request_id = request_id_of(request)
        guard = _Guard()
        self.pending += 1
        self._guards.add(guard)
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, work, guard)
        except RuntimeError:  # the pool is shut down: the server is stopping
            self._done(guard)
            raise ApiError(503, "shutting_down", "the server is shutting down; retry elsewhere") from None
        future.add_done_callback(lambda _: self._done(guard))
        gone = asyncio.ensure_future(_until_disconnect(request))
        timeout = request.app.state.config.request_timeout_s
        try:
            done, _ = await asyncio.wait({future, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if future in done:
            return _result(future, request_id)
        guard.cancel()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieve it: no "never retrieved" log
        if gone in done:
            logger.info("client disconnected; its search was cancelled [request_id=%s]", request_id)
            raise ApiError(499, "client_closed_request", "the client disconnected before the search finished")
        raise ApiError(504, "deadline_exceeded", f"the search did not finish within {timeout:g} s (--request-timeout-s); "
                       "ask for a smaller search.n or max_tokens, or retry later")

    def _done(self, guard: _Guard) -> None:
        self.pending -= 1
        self._guards.discard(guard)


async def _until_disconnect(request: Any) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _result(future: asyncio.Future[T], request_id: str) -> T:
    from prmkit.generation.openai import PolicyServerError

    try:
        return future.result()
    except ApiError:
        raise
    except PolicyServerError as err:
        logger.warning("policy failed: %s [request_id=%s]", err, request_id)
        raise ApiError(503, "policy_unavailable", f"the policy could not answer: {err}", headers={"Retry-After": "5"}) from None
    except InputError as err:
        raise ApiError(400, "invalid_request", f"the policy rejected the prompt: {err}") from None
    except Exception as err:
        logger.error("search failed [request_id=%s]", request_id, exc_info=err)
        raise ApiError(500, "internal_error", f"the search failed on the server; its log has the cause under request id {request_id}") from None


def build_gateway(
    policy: Generator, *, task: Task | None = None, tokenizer: Any = None, config: GatewayConfig | None = None,
    step_separator: str = "\n\n",
) -> SearchService:
    """The gateway's service for ``policy``: a task's own prompt when ``task`` is given, else the chat template.

    Args:
        policy: any generator.
        task: the task a task-trained policy reads (``load_task("arith")``); None = a chat policy.
        tokenizer: the policy's tokenizer (chat template, prompt token counts); default ``policy.tokenizer``.
        config: the gateway's defaults and caps.
        step_separator: the step separator of a chat policy's solutions (no ``task``).

    Raises:
        ValueError: no task and no tokenizer with a chat template.

    Example:
        >>> service = build_gateway(load_generator("transformers", model=resolve_policy("demo")), task=ArithTask())  # doctest: +SKIP
        >>> app = create_app(load_scorer("arith-oracle"), gateway=service)                                         # doctest: +SKIP
    """
    tokenizer = tokenizer if tokenizer is not None else getattr(policy, "tokenizer", None)
    if task is not None:
        return SearchService(task, TaskPrompts(task, tokenizer), policy, config)
    if tokenizer is None:
        raise ValueError("a chat policy needs a tokenizer with a chat template (--tokenizer DIR), or give a task (--task arith)")
    return SearchService(ChatSteps(step_separator), ChatTemplatePrompts(tokenizer), policy, config)

