"""OpenRLHF adapter: a PRM (plus an optional verifier) as a custom ``--remote_rm_url`` reward function.

OpenRLHF loads ``reward_func`` from the Python file given as ``--remote_rm_url path/to/file.py`` and
calls ``reward_func(queries, prompts, labels)``: ``queries`` are prompt + response texts, ``prompts``
the prompts, ``labels`` the ``--label_key`` column. It expects a dict with ``"rewards"`` (tensor,
used for advantages), ``"scores"`` (tensor in [0, 1], used for dynamic filtering) and
``"extra_logs"`` (dict of tensors, logged). A file for OpenRLHF is two lines::

    from prmkit.models import load_scorer
    from prmkit.rl.openrlhf import make_reward_func
    reward_func = make_reward_func(load_scorer("token-cls", path="runs/prm"), verifiable_coef=1.0)

The reward is ``aggregate(step scores)`` (``"min"`` by default) plus ``verifiable_coef`` times the
verifier's 0/1 verdict (default verifier: :func:`prmkit.answers.grade` of the extracted final answer
against the label).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prmkit.models import Scorer
from prmkit.models.aggregate import AGGREGATIONS, aggregate
from prmkit.rl._text import answer_is_correct, score_responses
from prmkit.rl.steps import DEFAULT_SEPARATOR

__all__ = ["make_reward_func"]


def _response_of(query: str, prompt: str) -> str:
    if not query.startswith(prompt):
        raise ValueError(
            f"query does not start with its prompt (query {query[:60]!r}..., prompt {prompt[:60]!r}...); "
            "pass response_from_query= to cut the response out of OpenRLHF's query text"
        )
    return query[len(prompt) :]


def make_reward_func(
    scorer: Scorer,
    *,
    aggregate_how: str = "min",
    separator: str = DEFAULT_SEPARATOR,
    verifier: Callable[[str, Any], float] | None = answer_is_correct,
    verifiable_coef: float = 1.0,
    question_from_prompt: Callable[[str], str] | None = None,
    response_from_query: Callable[[str, str], str] | None = None,
    strip: Sequence[str] = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"),
) -> Callable[[list[str], list[str], list[Any]], dict[str, Any]]:
    """Build OpenRLHF's ``reward_func(queries, prompts, labels)`` around a PRM.

    Args:
        scorer: any :class:`prmkit.models.Scorer`; all responses of a call go in one batch.
        aggregate_how: aggregation of step scores (:func:`prmkit.models.aggregate.aggregate`).
        separator: the text between the policy's steps.
        verifier: ``(response, label) -> 0.0/1.0``; None for a PRM-only reward.
        verifiable_coef: weight of the verifier's verdict in ``"rewards"``.
        question_from_prompt: maps OpenRLHF's (possibly chat-templated) prompt to the question shown
            to the PRM; default: the prompt unchanged.
        response_from_query: ``(query, prompt) -> response``; default: the query minus its prompt prefix.
        strip: special-token strings removed from the end of each response.

    Returns:
        ``reward_func`` returning ``{"rewards": [B], "scores": [B], "extra_logs": {"prm": [B],
        "verifiable": [B], "num_steps": [B]}}`` (float tensors). ``"scores"`` is the verifier's verdict
        when there is a verifier, else the PRM score.

    Raises:
        ValueError: unknown aggregation (immediately); at call time, lengths that differ or a query
            that does not start with its prompt.
    """
    if aggregate_how not in AGGREGATIONS:
        raise ValueError(f"Unknown aggregation {aggregate_how!r}; choose one of {', '.join(AGGREGATIONS)}")
    cut = response_from_query or _response_of

    def reward_func(queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
        import torch

        if not len(queries) == len(prompts) == len(labels):
            raise ValueError(f"got {len(queries)} queries, {len(prompts)} prompts, {len(labels)} labels")
        responses = []
        for query, prompt in zip(queries, prompts):
            response = cut(query, prompt).rstrip()
            for token in strip:
                if token and response.endswith(token):
                    response = response[: -len(token)].rstrip()
            responses.append(response)
        questions = [question_from_prompt(p) if question_from_prompt else p for p in prompts]
        steps, scores = score_responses(scorer, questions, responses, separator)
        prm = torch.tensor([aggregate(row, aggregate_how) for row in scores], dtype=torch.float32)
        if verifier is not None:
            verdict = torch.tensor([float(verifier(r, label)) for r, label in zip(responses, labels)])
        else:
            verdict = torch.zeros(len(responses))
        rewards = prm + verifiable_coef * verdict if verifier is not None else prm
        return {
            "rewards": rewards,
            "scores": verdict if verifier is not None else prm,
            "extra_logs": {
                "prm": prm,
                "verifiable": verdict,
                "num_steps": torch.tensor([float(len(s)) for s in steps]),
            },
        }

    return reward_func
