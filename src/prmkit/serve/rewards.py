"""``POST /get_reward``: OpenRLHF's remote reward model contract, computed by :mod:`prmkit.rl.openrlhf`.

OpenRLHF (``--remote_rm_url http://host:port/get_reward``) POSTs ``{"query": [...], "prompts":
[...], "labels": [...]}`` and reads ``rewards``, then ``scores`` (falling back to ``rewards``) and
``extra_logs``. The reward is exactly :func:`prmkit.rl.openrlhf.make_reward_func`'s: the same
response cut, step split, aggregation and final-answer check as the in-process ``reward_func``;
only its ``scorer.score`` call goes through the server's batcher (with the same limits, fairness,
deadline and disconnect handling as ``/score``).

verl has no HTTP reward contract to serve: its extension points are Python callables
(``custom_reward_function``, reward managers). To use a ``prmkit serve`` PRM from verl, give
:func:`prmkit.rl.verl.make_compute_score` an HTTP scorer:
``make_compute_score(load_scorer("http", url="http://host:8000", headers={...}))``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from prmkit.models import ScoringItem
from prmkit.serve._requests import check_request, score_request
from prmkit.serve.errors import ApiError
from prmkit.serve.limits import check_text
from prmkit.serve.protocol import RewardRequest, RewardResponse
from prmkit.serve.serving import Scores

__all__ = ["openrlhf_reward"]

_SCORED = "scored_responses"  # the items sent to the PRM: the responses that have at least one step


class _BatcherScorer:
    """A :class:`~prmkit.models.Scorer` for a worker thread: each call is one job of the server's batcher."""

    def __init__(self, request: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.loop = loop

    def score(self, items: Sequence[ScoringItem]) -> Scores:
        async def run() -> Scores:
            await check_request(self.request, items, _SCORED)
            return await score_request(self.request, items, field=_SCORED, checked=True)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()


def _check_body(body: RewardRequest, request: Any) -> tuple[list[str], list[str], list[Any]]:
    limits = request.app.state.config.limits
    n = len(body.query)
    prompts = body.prompts if body.prompts is not None else [""] * n
    labels = body.labels if body.labels is not None else [None] * n
    if not len(prompts) == len(labels) == n:
        raise ApiError(
            400,
            "invalid_request",
            f"query has {n} entries, prompts {len(prompts)} and labels {len(labels)}; send one of each per sample",
        )
    if n > limits.max_items:
        raise ApiError(400, "too_many_items", f"query has {n} entries, over the limit of {limits.max_items} (--max-items)", param="query")
    longest = limits.max_question_chars + limits.max_steps * limits.max_step_chars
    for i, (query, prompt) in enumerate(zip(body.query, prompts)):
        if len(query) > longest:
            raise ApiError(400, "question_too_long", f"query[{i}] is {len(query)} characters, over {longest}", param=f"query[{i}]")
        check_text(query, f"query[{i}]")
        check_text(prompt, f"prompts[{i}]")
    return list(body.query), list(prompts), list(labels)


async def openrlhf_reward(body: RewardRequest, request: Any) -> RewardResponse:
    """Answer one OpenRLHF reward call (see the module docstring).

    Raises:
        ApiError: 400 for mismatched lengths, limits or a query that does not start with its prompt;
            everything :func:`prmkit.serve._requests.score_request` raises.
    """
    from prmkit.rl.openrlhf import make_reward_func

    config = request.app.state.config
    queries, prompts, labels = _check_body(body, request)
    reward_func = make_reward_func(
        _BatcherScorer(request, asyncio.get_running_loop()),
        aggregate_how=config.reward_aggregate,
        separator=config.reward_separator,
        verifiable_coef=config.reward_verifiable_coef,
    )
    try:
        out = await asyncio.to_thread(reward_func, queries, prompts, labels)
    except ApiError:
        raise
    except ValueError as err:  # the adapter's own input checks (query without its prompt, ...)
        raise ApiError(400, "invalid_request", str(err)) from None
    return RewardResponse(
        rewards=out["rewards"].tolist(),
        scores=out["scores"].tolist(),
        extra_logs={key: value.tolist() for key, value in out["extra_logs"].items()},
    )
