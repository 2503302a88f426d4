"""TRL adapter: a PRM as a ``GRPOTrainer`` reward function, and stepwise-supervision rows.

TRL calls each reward function as ``reward_func(prompts=..., completions=..., completion_ids=...,
**columns)`` (plus ``trainer_state`` and, in recent versions, logging callbacks) and expects one float
per completion (``None`` means "no reward" for that sample). Prompts and completions are strings
for a *standard* dataset, and lists of ``{"role", "content"}`` messages for a *conversational* one
(each completion is then ``[{"role": "assistant", "content": ...}]``); both are handled. GRPO uses
one scalar per completion, so the step scores are aggregated with
:func:`prmkit.models.aggregate.aggregate` (``"min"`` is the scalar analogue of min-form credit
assignment). Add correctness as a second reward function and weight the two with
``GRPOConfig.reward_weights``.

Example:
    >>> from prmkit.models import load_scorer
    >>> reward = prm_reward(load_scorer("dummy", value=0.25))
    >>> reward(prompts=["Q: 2+3?"], completions=["2+3=5\\n\\nThe answer is 5"], completion_ids=[[1, 2]])
    [0.25]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prmkit.models import Scorer
from prmkit.models.aggregate import AGGREGATIONS
from prmkit.models.aggregate import aggregate as aggregate_steps
from prmkit.rl._text import score_responses
from prmkit.rl.diagnostics import hacking_diagnostics
from prmkit.rl.steps import DEFAULT_SEPARATOR
from prmkit.types import LabelledSolution

__all__ = ["message_text", "prm_reward", "stepwise_rows"]

Message = dict[str, Any]


def message_text(value: str | Sequence[Message], role: str | None = None) -> str:
    """Text of a standard (str) or conversational (list of messages) prompt/completion.

    For messages, the content of the last message with ``role`` (any role when None).

    Raises:
        ValueError: no message with that role, or a message without a string ``content``.
    """
    if isinstance(value, str):
        return value
    for message in reversed(list(value)):
        if role is None or message.get("role") == role:
            content = message.get("content")
            if not isinstance(content, str):
                raise ValueError(f"message {message!r:.80} has no string 'content'")
            return content
    raise ValueError(f"no message with role {role!r} in {value!r:.120}")


def prm_reward(
    scorer: Scorer,
    aggregate: str = "min",
    *,
    separator: str = DEFAULT_SEPARATOR,
    question_key: str | None = None,
    question_from_prompt: Callable[[str | Sequence[Message]], str] | None = None,
    temperature: float = 0.1,
) -> Callable[..., list[float]]:
    """Build a ``GRPOTrainer`` reward function that scores each completion's steps with ``scorer``.

    All completions of a call are scored in one ``scorer.score`` batch.

    Args:
        scorer: any :class:`prmkit.models.Scorer` (e.g. ``load_scorer("token-cls", path=...)``).
        aggregate: how step scores become one reward (``"min"``, ``"last"``, ``"product"``,
            ``"mean"``, ``"softmin"``).
        separator: the text between steps in the policy's completions.
        question_key: a dataset column holding the bare question (TRL passes every column to reward
            functions); when None the question is taken from the prompt.
        question_from_prompt: maps a prompt to the question shown to the PRM; default: the prompt
            string itself, or the last user message of a conversational prompt.
        temperature: for ``aggregate="softmin"``.

    Returns:
        ``reward_func(prompts, completions, completion_ids=None, **kwargs) -> list[float]``, named
        ``prm_<aggregate>`` (TRL logs rewards under the function's ``__name__``). A completion with
        no non-empty step gets 0.0. When TRL passes its ``log_metric`` callback, the batch's steps
        per completion and repeated-step ratio are logged as ``prm/...`` metrics.

    Raises:
        ValueError: unknown ``aggregate`` (immediately, not at training time).
    """
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"Unknown aggregation {aggregate!r}; choose one of {', '.join(AGGREGATIONS)}")
    how = aggregate
    to_question = question_from_prompt or (lambda prompt: message_text(prompt, None if isinstance(prompt, str) else "user"))

    def reward_func(
        prompts: Sequence[str | Sequence[Message]],
        completions: Sequence[str | Sequence[Message]],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts for {len(completions)} completions")
        if question_key is not None:
            if question_key not in kwargs:
                raise ValueError(
                    f"question_key={question_key!r} is not a dataset column; columns passed: {sorted(kwargs)}"
                )
            questions = [str(q) for q in kwargs[question_key]]
        else:
            questions = [to_question(p) for p in prompts]
        responses = [message_text(c, None if isinstance(c, str) else "assistant") for c in completions]
        steps, scores = score_responses(scorer, questions, responses, separator)
        rewards = [aggregate_steps(row, how, temperature=temperature) for row in scores]
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and steps:  # TRL >= 1.x: averaged per logging step, next to kl/entropy
            stats = hacking_diagnostics(steps)
            log_metric("prm/steps_per_completion", stats.steps_per_response)
            log_metric("prm/repeated_step_ratio", stats.repeated_step_ratio)
        return rewards

    reward_func.__name__ = f"prm_{how}"
    return reward_func


def stepwise_rows(records: Iterable[LabelledSolution], *, threshold: float = 0.5) -> list[dict[str, Any]]:
    """TRL "stepwise supervision" rows ``{"prompt", "completions", "labels"}`` from labelled solutions.

    Reference: TRL docs, ``dataset_formats.md``, "Stepwise supervision": ``prompt`` (str),
    ``completions`` (list of step strings), ``labels`` (list of bools, one per step). Pass the rows
    to ``datasets.Dataset.from_list``. (To write a JSONL file, use :func:`prmkit.io.trl.write`.)

    Args:
        records: solutions with a label for every step.
        threshold: a step's label is True when its P(correct) is >= ``threshold``.

    Raises:
        ValueError: a record without labels, or with an unknown (None) step label (names the record).
    """
    rows = []
    for index, record in enumerate(records):
        where = f"record {index} (problem {record.problem.id!r})"
        if record.labels is None:
            raise ValueError(f"{where} has no step labels; stepwise supervision needs one label per step")
        labels = record.labels.labels
        if len(labels) != len(record.solution.steps):
            raise ValueError(f"{where}: {len(labels)} labels for {len(record.solution.steps)} steps")
        if any(label is None for label in labels):
            k = next(k for k, label in enumerate(labels) if label is None)
            raise ValueError(f"{where}: step {k} has no label; drop or truncate such records first")
        rows.append(
            {
                "prompt": record.problem.question,
                "completions": list(record.solution.steps),
                "labels": [float(label) >= threshold for label in labels],
            }
        )
    return rows
