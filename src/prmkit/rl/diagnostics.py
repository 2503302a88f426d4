"""Reward-hacking diagnostics for one batch of policy responses.

The known ways a policy games a PRM show up as simple batch statistics (Gao et al. 2024,
arXiv:2410.15115; Cheng et al. 2025, arXiv:2504.15275): more and shorter steps (summed rewards pay
per step), repeated steps (a correct-looking step scored twice), responses that never finish
(truncated at the length limit), and a PRM that likes answers the verifier rejects. Log these next to
the reward; a reward that rises while they drift is being hacked.

Example:
    >>> d = hacking_diagnostics([["1+1=2", "1+1=2", "Ans 2"], ["2*3=6"]], prm_scores=[[0.9, 0.9, 0.8], [0.2]],
    ...                         correct=[True, True], truncated=[False, True])
    >>> d.steps_per_response, d.repeated_step_ratio, d.truncation_ratio, d.prm_verifier_disagreement
    (2.0, 0.25, 0.5, 0.5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from prmkit.models.aggregate import aggregate

__all__ = ["BatchDiagnostics", "hacking_diagnostics"]


@dataclass
class BatchDiagnostics:
    """Per-batch hacking statistics (``None`` where the needed input was not given).

    Attributes:
        steps_per_response: mean number of steps per response.
        tokens_per_step: mean tokens per step, over all steps of the batch.
        repeated_step_ratio: fraction of steps that repeat an earlier step of the same response
            (compared after lower-casing and collapsing whitespace).
        truncation_ratio: fraction of responses cut off at the length limit.
        prm_verifier_disagreement: fraction of responses where the PRM verdict (aggregated score
            >= threshold) differs from the verifier's.
        prm_score: mean aggregated PRM score.
    """

    steps_per_response: float
    tokens_per_step: float | None = None
    repeated_step_ratio: float = 0.0
    truncation_ratio: float | None = None
    prm_verifier_disagreement: float | None = None
    prm_score: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


def _normalise(step: str) -> str:
    return " ".join(step.lower().split())


def hacking_diagnostics(
    steps: Sequence[Sequence[str]],
    *,
    num_tokens: Sequence[Sequence[int]] | None = None,
    truncated: Sequence[bool] | None = None,
    prm_scores: Sequence[Sequence[float | None]] | None = None,
    correct: Sequence[bool] | None = None,
    how: str = "min",
    threshold: float = 0.5,
) -> BatchDiagnostics:
    """Compute :class:`BatchDiagnostics` for a batch.

    Args:
        steps: per response, its step texts.
        num_tokens: per response, tokens in each step (e.g. ``TokenSteps.num_tokens``).
        truncated: per response, whether it hit the length limit (``finish_reason == "length"``).
        prm_scores: per response, the PRM's P(correct) per step.
        correct: per response, the verifier's verdict on the final answer.
        how: aggregation of step scores (:func:`prmkit.models.aggregate.aggregate`).
        threshold: PRM verdict is "correct" when the aggregated score is >= this.

    Raises:
        ValueError: an input's length differs from the number of responses, or the batch is empty.
    """
    n = len(steps)
    if n == 0:
        raise ValueError("hacking_diagnostics needs at least one response")
    for name, value in (("num_tokens", num_tokens), ("truncated", truncated), ("prm_scores", prm_scores), ("correct", correct)):
        if value is not None and len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} responses")
    total_steps = sum(len(s) for s in steps)
    repeated = 0
    for response in steps:
        seen: set[str] = set()
        for step in response:
            key = _normalise(step)
            repeated += key in seen
            seen.add(key)
    tokens_per_step = None
    if num_tokens is not None:
        counted = [t for row in num_tokens for t in row]
        tokens_per_step = sum(counted) / len(counted) if counted else 0.0
    prm_score = disagreement = None
    if prm_scores is not None:
        solution_scores = [aggregate(row, how) for row in prm_scores]
        prm_score = sum(solution_scores) / n
        if correct is not None:
            disagreement = sum((s >= threshold) != bool(c) for s, c in zip(solution_scores, correct)) / n
    return BatchDiagnostics(
        steps_per_response=total_steps / n,
        tokens_per_step=tokens_per_step,
        repeated_step_ratio=repeated / total_steps if total_steps else 0.0,
        truncation_ratio=None if truncated is None else sum(map(bool, truncated)) / n,
        prm_verifier_disagreement=disagreement,
        prm_score=prm_score,
    )
