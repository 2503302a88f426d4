"""Bodies of the search gateway in the OpenAI shapes, plus the ``search`` extension object.

    POST /v1/chat/completions  {"model", "messages": [{"role", "content"}], "temperature"?, "max_tokens"?,
                                "seed"?, "search"?: {...}}
                               -> {"id", "object": "chat.completion", "created", "model",
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content"},
                                                "finish_reason"}],
                                   "usage": {"prompt_tokens", "completion_tokens", "prm_tokens", "total_tokens"},
                                   "search": {"method", "chosen", "answer", "candidates": [...], ...}}
    POST /v1/completions       {"model", "prompt": str | [str], "n"?, "max_tokens"?, "temperature"?, "stop"?,
                                "seed"?, "include_stop_str_in_output"?, "search"?: {...}}
                               -> {"object": "text_completion", "choices": [{"index", "text", "finish_reason",
                                   "stop_reason"}], "usage", "search"?: [...]}
    GET  /v1/models            -> {"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}

The ``search`` object (sent by the ``openai`` client through ``extra_body``) names the method and
any :class:`~prmkit.search.SearchConfig` field; ``select`` is its ``selection`` and ``max_tokens``
its ``max_new_tokens``. Unknown fields of ``search`` are refused (a typo must not silently fall back
to a default); unknown top-level fields are ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SearchOptions", "ChatMessage", "ChatCompletionRequest", "CompletionRequest",
    "ChatCompletionResponse", "CompletionResponse", "ModelList", "SEARCH_FIELDS",
]

#: ``search`` object field -> :class:`~prmkit.search.SearchConfig` field (the rest keep their name).
SEARCH_FIELDS = {"select": "selection", "max_tokens": "max_new_tokens"}


class SearchOptions(BaseModel):
    """How to search for this request's answer; each field left out takes the server's default."""

    model_config = ConfigDict(extra="forbid")

    method: str | None = None
    select: str | None = None
    n: int | None = None
    beam_width: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_step_tokens: int | None = None
    max_steps: int | None = None
    aggregation: str | None = None
    seed: int | None = None
    lookahead: int | None = None
    c_puct: float | None = None
    rollout_weight: float | None = None
    prefix_tokens: int | None = None
    keep_fraction: float | None = None
    resample_temperature: float | None = None


class ChatMessage(BaseModel):
    """One message; ``content`` is text or a list of ``{"type": "text", "text": ...}`` parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    stream: bool | None = None
    search: SearchOptions | None = None


class ChatCompletionRequest(_Common):
    messages: list[ChatMessage]
    max_completion_tokens: int | None = None


class CompletionRequest(_Common):
    prompt: str | list[str]
    stop: str | list[str] | None = None
    include_stop_str_in_output: bool = False


class Usage(BaseModel):
    """OpenAI's usage plus ``prm_tokens`` (PRM tokens run; null when the scorer does not count them).

    ``completion_tokens`` counts every policy token the search generated (all candidates), and
    ``total_tokens`` = prompt + completion + PRM tokens.
    """

    prompt_tokens: int
    completion_tokens: int
    prm_tokens: int | None = None
    total_tokens: int


class AssistantMessage(BaseModel):
    role: str = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class SearchCandidate(BaseModel):
    answer: str | None
    steps: list[str]
    scores: list[float | None]
    score: float
    num_tokens: int
    finished: bool


class SearchReport(BaseModel):
    """The extension field: what the search did and every final candidate it weighed."""

    method: str
    config: dict[str, Any]
    chosen: int
    answer: str | None
    candidates: list[SearchCandidate]
    budget: dict[str, Any]
    wall_seconds: float
    meta: dict[str, Any] = Field(default_factory=dict)


class ChatCompletionResponse(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    search: SearchReport


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str
    stop_reason: str | None = None
    logprobs: None = None


class CompletionResponse(BaseModel):
    id: str
    object: str = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    search: list[SearchReport] | None = None


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "prmkit"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]
