"""Routes of the search gateway: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``.

Mounted on the scorer server's app (:func:`prmkit.serve.app.create_app` with ``gateway=``), so the
gate's request ids, auth, body limits and metrics, the fair PRM batcher and the one error shape
apply as on ``/score``. Shapes are OpenAI's (:mod:`.openai_protocol`), so the official ``openai``
client works unchanged; the search itself is :mod:`.search_service`'s.

``/v1/chat/completions`` always answers with a searched solution: the method and budget come from
the request's ``search`` object, else the server's defaults. ``/v1/completions`` is the policy
itself (plain samples, so tools such as prmkit's own ``openai`` generator can use a gateway as a
policy server) unless the request carries a ``search`` object; then each prompt is searched and
answered with its chosen solution.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from prmkit.models.aggregate import aggregate
from prmkit.search import SearchResult
from prmkit.serve.errors import ApiError
from prmkit.serve.limits import check_text
from prmkit.serve.openai_protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
    SearchCandidate,
    SearchReport,
    Usage,
)
from prmkit.serve.prompts import message_text, request_problem
from prmkit.serve.protocol import ErrorResponse
from prmkit.serve.search_service import SearchRun, SearchService
from prmkit.types import Completion

__all__ = ["gateway_router"]

_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 415, 422, 500, 503, 504)}
_DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default max_tokens of /v1/completions

gateway_router = APIRouter()


def _service(request: Request) -> SearchService:
    return request.app.state.gateway


def _check_common(body: Any, service: SearchService, *, searching: bool) -> None:
    name = service.config.model_name
    if body.model != name:
        raise ApiError(404, "model_not_found", f"the model {body.model!r} does not exist here; this server serves {name!r} "
                       "(GET /v1/models)", param="model")
    if body.stream:
        raise ApiError(400, "invalid_request", "stream = true is not supported: a search answers once it has chosen; "
                       "send stream = false", param="stream")
    if searching and body.n not in (None, 1):
        raise ApiError(400, "invalid_request", f"n = {body.n}: a search gives one answer per prompt; its budget is "
                       "search.n (in the openai client: extra_body={'search': {'n': ...}})", param="n")


@gateway_router.get("/v1/models", response_model=ModelList)
async def models(request: Request) -> ModelList:
    return ModelList(data=[ModelCard(id=_service(request).config.model_name, created=request.app.state.started)])


@gateway_router.post("/v1/chat/completions", response_model=ChatCompletionResponse, response_model_exclude_none=False,
                     responses=_ERRORS)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> ChatCompletionResponse:
    service = _service(request)
    _check_common(body, service, searching=True)
    messages = [{"role": m.role, "content": message_text(m.content, f"messages[{i}]")} for i, m in enumerate(body.messages)]
    for i, message in enumerate(messages):
        check_text(message["content"], f"messages[{i}].content")
    problem = service.prompts.problem(messages)
    _check_question(problem.question, request, "messages")
    method, config = service.settings(
        body.search, temperature=body.temperature, max_tokens=body.max_completion_tokens or body.max_tokens, seed=body.seed
    )
    run = await service.search(request, [problem], method, config)
    result = run.results[0]
    text, finished = _chosen_text(result, service.task.step_separator)
    return ChatCompletionResponse(
        id=f"chatcmpl-{_request_id(request)}",
        created=int(time.time()),
        model=body.model,
        choices=[ChatChoice(index=0, message=AssistantMessage(content=text), finish_reason="stop" if finished else "length")],
        usage=_usage(run, service, [service.task.prompt(problem)]),
        search=_report(run, result),
    )


@gateway_router.post("/v1/completions", response_model=CompletionResponse, responses=_ERRORS)
async def completions(body: CompletionRequest, request: Request) -> CompletionResponse:
    service = _service(request)
    searching = body.search is not None
    _check_common(body, service, searching=searching)
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    if not prompts or any(not p.strip() for p in prompts):
        raise ApiError(400, "invalid_request", "prompt is empty; send the text for the policy to continue", param="prompt")
    for i, prompt in enumerate(prompts):
        check_text(prompt, f"prompt[{i}]" if len(prompts) > 1 else "prompt")
    common = {"id": f"cmpl-{_request_id(request)}", "created": int(time.time()), "model": body.model}
    if searching:
        service.check_sampling(prompts=len(prompts), n=1, max_tokens=1)
        problems = [request_problem(p.strip(), prompt=p) for p in prompts]
        for problem in problems:
            _check_question(problem.question, request, "prompt")
        method, config = service.settings(body.search, temperature=body.temperature, max_tokens=body.max_tokens, seed=body.seed)
        run = await service.search(request, problems, method, config)
        choices = []
        for index, result in enumerate(run.results):
            text, finished = _chosen_text(result, service.task.step_separator)
            choices.append(CompletionChoice(index=index, text=text, finish_reason="stop" if finished else "length"))
        return CompletionResponse(**common, choices=choices, usage=_usage(run, service, prompts),
                                  search=[_report(run, r) for r in run.results])
    n = body.n or 1
    max_tokens = body.max_tokens or _DEFAULT_COMPLETION_TOKENS
    if n < 1 or max_tokens < 1 or (body.temperature is not None and body.temperature < 0):
        raise ApiError(400, "invalid_request", f"need n >= 1, max_tokens >= 1 and temperature >= 0; got {n}, {max_tokens}, "
                       f"{body.temperature}")
    service.check_sampling(prompts=len(prompts), n=n, max_tokens=max_tokens)
    stops = [body.stop] if isinstance(body.stop, str) else [s for s in body.stop or [] if s]
    rows = await service.sample(
        request, prompts, n=n, stop=stops or None, max_new_tokens=max_tokens,
        temperature=1.0 if body.temperature is None else body.temperature, seed=body.seed,
    )
    choices = [
        _sampled_choice(i * n + j, completion, stops, body.include_stop_str_in_output)
        for i, row in enumerate(rows) for j, completion in enumerate(row)
    ]
    generated = sum(c.num_tokens for row in rows for c in row)
    prompt_tokens = _prompt_tokens(service, prompts)
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=generated, total_tokens=prompt_tokens + generated)
    return CompletionResponse(**common, choices=choices, usage=usage)


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def _check_question(question: str, request: Request, where: str) -> None:
    limit = request.app.state.config.limits.max_question_chars
    if len(question) > limit:
        raise ApiError(400, "question_too_long", f"the question ({where}) is {len(question)} characters, over the limit of "
                       f"{limit} (--max-question-chars)", param=where)


def _chosen_text(result: SearchResult, separator: str) -> tuple[str, bool]:
    if not result.candidates:
        return "", False
    chosen = result.candidates[result.chosen]
    return separator.join(chosen.steps), chosen.finished


def _report(run: SearchRun, result: SearchResult) -> SearchReport:
    candidates = [
        SearchCandidate(answer=c.answer, steps=c.steps, scores=c.scores, score=aggregate(c.scores, run.config.aggregation),
                        num_tokens=c.num_tokens, finished=c.finished)
        for c in result.candidates
    ]
    chosen = result.candidates[result.chosen].answer if result.candidates else None
    return SearchReport(method=run.method, config=run.config.to_dict(), chosen=result.chosen, answer=chosen,
                        candidates=candidates, budget=result.budget, wall_seconds=round(run.wall_seconds, 4), meta=result.meta)


def _prompt_tokens(service: SearchService, prompts: list[str]) -> int:
    counts = [service.prompts.count_tokens(p) for p in prompts]
    return sum(c for c in counts if c is not None)


def _usage(run: SearchRun, service: SearchService, prompts: list[str]) -> Usage:
    """All the request's problems share one run, so its budget is the request's (the first result has it)."""
    budget = run.results[0].budget if run.results else {}
    generated, prm = int(budget.get("policy_tokens", 0)), budget.get("prm_tokens")
    prompt_tokens = _prompt_tokens(service, prompts)
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=generated, prm_tokens=prm,
                 total_tokens=prompt_tokens + generated + (prm or 0))


def _sampled_choice(index: int, completion: Completion, stops: list[str], keep_stop: bool) -> CompletionChoice:
    """A Completion in vLLM's shape: ``stop_reason`` is the matched stop string (None at EOS)."""
    if completion.finish_reason == "length":
        return CompletionChoice(index=index, text=completion.text, finish_reason="length")
    hit = next((s for s in stops if completion.text.endswith(s)), None) if completion.finish_reason == "stop" else None
    text = completion.text if hit is None or keep_stop else completion.text[: -len(hit)]
    return CompletionChoice(index=index, text=text, finish_reason="stop", stop_reason=hit)
