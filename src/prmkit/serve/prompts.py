"""From a chat request to what search needs: the question the PRM reads and the prompt the policy continues.

Two ways, chosen once when the gateway starts:

* :class:`TaskPrompts` (``--task arith``): a task-trained policy reads only its task's own prompt
  (``Task.prompt``), so the question is the last user message and everything else of the
  conversation is dropped (the policy was never trained to read it).
* :class:`ChatTemplatePrompts`: a chat policy reads its tokenizer's chat template over the whole
  conversation (``add_generation_prompt=True``); the question is again the last user message.

Either way the search runs on a :class:`~prmkit.types.Problem` from :func:`request_problem`, whose
id depends on the question alone, so the gateway and an in-process ``run_search`` on the same
question and seed search the same problem (particle filtering seeds its draws with the id).
:class:`GatewayTask` gives search the task's step separator, splitting and answer extraction,
with the policy prompt the request was given (a chat-template prompt, or a raw ``/v1/completions``
prompt) in place of ``Task.prompt`` when there is one.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from typing import Any

from prmkit.serve.errors import ApiError
from prmkit.tasks import Task
from prmkit.tasks._free_text import FreeTextSteps
from prmkit.types import Problem

__all__ = ["ChatSteps", "ChatTemplatePrompts", "GatewayTask", "TaskPrompts", "message_text", "request_problem"]

_PROMPT = "prompt"  # Problem.meta key holding the verbatim policy prompt


def request_problem(question: str, prompt: str | None = None, answer: str | None = None) -> Problem:
    """The problem a request searches: id ``q-<sha256 of the question>``; ``prompt`` replaces ``Task.prompt``."""
    digest = hashlib.sha256(question.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Problem(id=f"q-{digest}", question=question, answer=answer, meta={} if prompt is None else {_PROMPT: prompt})


class GatewayTask:
    """``base`` with ``prompt(problem)`` = the request's verbatim prompt when it has one (module docstring)."""

    def __init__(self, base: Task) -> None:
        self.base = base
        self.name = base.name
        self.step_separator = base.step_separator

    def prompt(self, problem: Problem) -> str:
        given = problem.meta.get(_PROMPT)
        return given if isinstance(given, str) else self.base.prompt(problem)

    def __getattr__(self, name: str) -> Any:  # problems, split_steps, extract_answer, is_correct, first_error
        if name == "base":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)


class ChatSteps(FreeTextSteps):
    """The task of a chat policy: steps are separated by ``step_separator``; answers graded by :mod:`prmkit.answers`."""

    name = "chat"

    def __init__(self, step_separator: str = "\n\n") -> None:
        if not step_separator:
            raise ValueError("ChatSteps: step_separator must be non-empty")
        self.step_separator = step_separator

    def problems(self, split: str) -> list[Problem]:
        raise ValueError("the chat task has no problems of its own; requests bring them")

    def prompt(self, problem: Problem) -> str:
        return problem.question + self.step_separator


def message_text(content: Any, where: str) -> str:
    """The text of a message's ``content`` (a string or text parts); 400 for images and other parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for k, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(400, "invalid_request", f"{where}.content[{k}] is a {part.get('type')!r} part; "
                           "this gateway reads text parts only", param=f"{where}.content[{k}]")
        texts.append(part["text"])
    return "".join(texts)


def _last_user_message(messages: Sequence[dict[str, Any]]) -> str:
    if not messages:
        raise ApiError(400, "invalid_request", "messages is empty; send at least one user message with the question",
                       param="messages")
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            text = messages[index]["content"].strip()
            if not text:
                raise ApiError(400, "invalid_request", f"messages[{index}] (the last user message) is blank; "
                               "it must hold the question", param=f"messages[{index}].content")
            return text
    raise ApiError(400, "invalid_request", "messages has no user message; the last user message is the question",
                   param="messages")


class _Prompts:
    """Shared: prompt token counts with a private copy of the policy's tokenizer (None: unknown)."""

    def __init__(self, tokenizer: Any = None) -> None:
        self.tokenizer = copy.deepcopy(tokenizer) if tokenizer is not None else None

    def count_tokens(self, text: str) -> int | None:
        if self.tokenizer is None:
            return None
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


class TaskPrompts(_Prompts):
    """A task-trained policy: prompt = ``task.prompt`` of the last user message (module docstring).

    Args:
        task: the task the policy was trained on.
        tokenizer: the policy's tokenizer, to count prompt tokens (optional).
    """

    def __init__(self, task: Task, tokenizer: Any = None) -> None:
        super().__init__(tokenizer)
        self.task = task

    def problem(self, messages: Sequence[dict[str, Any]]) -> Problem:
        return request_problem(_last_user_message(messages))


class ChatTemplatePrompts(_Prompts):
    """A chat policy: prompt = the tokenizer's chat template over the whole conversation.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template (a private copy is kept: the
            policy may use its own from another thread).

    Raises:
        ValueError: the tokenizer has no chat template.
    """

    def __init__(self, tokenizer: Any) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"the tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template; pass --task NAME for a "
                "task-trained policy (e.g. --task arith) or --tokenizer DIR of a chat model"
            )
        super().__init__(tokenizer)

    def problem(self, messages: Sequence[dict[str, Any]]) -> Problem:
        question = _last_user_message(messages)
        try:
            prompt = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        except Exception as err:  # the template's own checks (roles in order, ...)
            raise ApiError(400, "invalid_request", f"the policy's chat template rejected the messages: {err}",
                           param="messages") from None
        return request_problem(question, prompt=prompt)
