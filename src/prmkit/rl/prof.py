"""PROF: keep the responses whose process scores agree with their outcome.

Reference: Ye et al. 2025, "Beyond Correctness: Harmonizing Process and Outcome Rewards through RL
Training" (arXiv:2509.03403), PRocess cOnsistency Filter; official code amazon-science/PROF-GRPO,
``compute_verify_step_level_score`` and ``filter_trajectories``:

* consistency of response ``i`` with steps scored ``s_k`` in [0, 1] and outcome ``o`` in {0, 1}:
  ``c_i = mean_k (2 s_k - 1)(2 o - 1)`` — high for a correct answer with well-scored steps and for a
  wrong answer with badly scored steps;
* length penalty: ``c_i - length_coef`` when the response has fewer than ``min_steps`` or more than
  ``max_steps`` steps (official defaults 2 and 30; coefficient 0 by default);
* per group, remove ``n_remove`` responses, balancing correct against wrong: with ``delta = #correct
  - #wrong``, remove ``min(n_remove, round((delta + n_remove) / 2))`` correct ones (lowest ``c``
  first) and the rest from the wrong ones (lowest ``c`` first). ``round`` is Python's (ties to
  even), as in the official code.

PROF filters samples instead of adding the PRM to the reward, so the policy's reward stays the
verifiable one and cannot be hacked through the PRM.

Example:
    >>> prof_filter([[0.9, 0.9], [0.9, 0.1], [0.2, 0.1], [0.8, 0.9]], [1, 1, 0, 0], groups=4, n_remove=2)
    [0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.rl.advantages import Groups, group_members

__all__ = ["consistency_scores", "prof_filter"]


def consistency_scores(
    step_scores: Sequence[Sequence[float]],
    outcomes: Sequence[float | bool],
    *,
    length_coef: float = 0.0,
    min_steps: int = 2,
    max_steps: int = 30,
) -> list[float]:
    """PROF's process-outcome consistency of each response, length penalty included.

    Args:
        step_scores: per response, P(correct) in [0, 1] for every step.
        outcomes: per response, 1/True if the final answer is correct, else 0/False.
        length_coef: subtracted when the step count is outside ``[min_steps, max_steps]``.
        min_steps: fewest steps without penalty.
        max_steps: most steps without penalty.

    Returns:
        One score per response in [-1, 1] (minus the penalty); 0.0 for a response without steps.

    Raises:
        ValueError: lengths differ, an outcome is not 0/1, a score is outside [0, 1].
    """
    if len(step_scores) != len(outcomes):
        raise ValueError(f"got step scores for {len(step_scores)} responses but {len(outcomes)} outcomes")
    scores = []
    for i, (steps, outcome) in enumerate(zip(step_scores, outcomes)):
        if float(outcome) not in (0.0, 1.0):
            raise ValueError(f"response {i}: outcome {outcome!r} must be 0 or 1 (wrong / correct)")
        sign = 2.0 * float(outcome) - 1.0
        for k, s in enumerate(steps):
            if s is None or not 0.0 <= float(s) <= 1.0:
                raise ValueError(f"response {i} step {k}: score {s!r} is not a probability in [0, 1]")
        value = sum((2.0 * float(s) - 1.0) * sign for s in steps) / len(steps) if steps else 0.0
        if len(steps) < min_steps or len(steps) > max_steps:
            value -= length_coef
        scores.append(value)
    return scores


def prof_filter(
    step_scores: Sequence[Sequence[float]],
    outcomes: Sequence[float | bool],
    groups: Groups,
    *,
    n_remove: int,
    length_coef: float = 0.0,
    min_steps: int = 2,
    max_steps: int = 30,
) -> list[int]:
    """Select the responses to train on: drop the ``n_remove`` least consistent ones per group.

    Args:
        step_scores: per response, the PRM's P(correct) for each step.
        outcomes: per response, 1/True correct, 0/False wrong.
        groups: group size or per-response group ids (one group per prompt).
        n_remove: responses to remove from each group (capped at the group size).
        length_coef, min_steps, max_steps: the length penalty of :func:`consistency_scores`.

    Returns:
        The kept response indices, ascending.

    Raises:
        ValueError: ``n_remove < 0`` or malformed inputs (see :func:`consistency_scores`).
    """
    if n_remove < 0:
        raise ValueError(f"n_remove must be >= 0, got {n_remove}")
    critic = consistency_scores(
        step_scores, outcomes, length_coef=length_coef, min_steps=min_steps, max_steps=max_steps
    )
    kept: list[int] = []
    for members in group_members(groups, len(critic)):
        remove = min(n_remove, len(members))
        correct = sorted((i for i in members if float(outcomes[i]) == 1.0), key=lambda i: critic[i])
        wrong = sorted((i for i in members if float(outcomes[i]) == 0.0), key=lambda i: critic[i])
        n_correct = min(remove, round((len(correct) - len(wrong) + remove) / 2))
        dropped: set[int] = set()
        if n_correct > 0:
            dropped.update(correct[:n_correct])
            dropped.update(wrong[: remove - min(n_correct, len(correct))])
        else:
            dropped.update(wrong[:remove])
        kept.extend(i for i in members if i not in dropped)
    return sorted(kept)
