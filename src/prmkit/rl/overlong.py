"""Over-length rollouts: what the PRM can read of them, and the penalty they get.

RL frameworks never crash on a long response: they cap generation (``max_response_length``), mark
responses that hit the cap as truncated, and then either penalise them (DAPO's overlong reward) or
leave them out of the loss (DAPO's overlong filtering). A PRM adds a second limit: a response the
policy could still write may be longer than the PRM's positions. Here both become the same case:

* :func:`readable_steps` says how many leading steps of each item a scorer can read within its
  ``max_length`` (scorers without ``encode``/``max_length`` read everything);
* :func:`cut_for_reader` keeps, of a truncated response, only its complete steps that the PRM can
  read, and closes the response with one *truncation step* (its remaining tokens, ending at the
  last token) whose score is ``penalty_score`` (default 0: the worst a PRM can say, reward ``-1``
  under ``p+ - p-``). The PRM never sees the unread part, and the rollout pays for not finishing
  under any credit rule (the min of its steps is the penalty, and a sum gets the penalty added).

Example:
    >>> from prmkit.rl.steps import TokenSteps
    >>> cut = cut_for_reader(TokenSteps(["1+1=2", "2+2=4", "4+4"], [5, 11, 15], [6, 6, 4]),
    ...                      readable=1, truncated=True, last_token=15)
    >>> cut.steps, cut.ends, cut.truncated, cut.penalty_step
    (['1+1=2'], [5, 15], True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.rl.steps import TokenSteps

__all__ = ["ReaderCut", "cut_for_reader", "readable_steps", "scores_with_penalty"]


def readable_steps(scorer: Any, items: Sequence[tuple[str, Sequence[str]]]) -> list[int]:
    """For each ``(question, steps)`` item, how many leading steps fit the scorer's ``max_length``.

    Uses the scorer's own ``encode(question, steps)`` (its family's exact input format) and
    ``max_length``; encoded length grows with the number of steps, so a binary search finds the
    longest prefix that fits. A scorer that exposes neither (the arith oracle, a remote scorer)
    reads every step. A question too long to read with even one step gives 0.
    """
    encode = getattr(scorer, "encode", None)
    limit = getattr(scorer, "max_length", None)
    if encode is None or limit is None:
        return [len(steps) for _, steps in items]

    def fits(question: str, steps: Sequence[str], k: int) -> bool:
        return len(encode(question, list(steps[:k])).input_ids) <= limit

    out = []
    for question, steps in items:
        if fits(question, steps, len(steps)):
            out.append(len(steps))
            continue
        low, high = 0, len(steps)  # fits(low) holds (or low == 0), fits(high) does not
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if fits(question, steps, mid) else (low, mid)
        out.append(low)
    return out


@dataclass
class ReaderCut:
    """One response as the PRM will score it.

    Attributes:
        steps: the step texts the PRM reads.
        ends: token index of each step's last token, plus (when ``penalty_step``) the response's
            last token, which ends the truncation step.
        truncated: the rollout did not finish within the limits (generation cap or PRM positions).
        penalty_step: the last entry of ``ends`` is a truncation step that gets the penalty score.
    """

    steps: list[str]
    ends: list[int]
    truncated: bool
    penalty_step: bool


def cut_for_reader(
    split: TokenSteps, *, readable: int, truncated: bool, last_token: int, complete: Sequence[bool] | None = None
) -> ReaderCut:
    """What the PRM scores of one response, and whether it is penalised as truncated.

    Args:
        split: the response's steps (:func:`prmkit.rl.steps.split_tokens`).
        readable: leading steps the PRM can read (:func:`readable_steps`).
        truncated: the policy stopped at the generation cap without EOS.
        last_token: index of the response's last token.
        complete: per step, whether it ended with a separator; default all but the last step of a
            truncated response (cut mid-line by the cap).

    Returns:
        a :class:`ReaderCut`: all steps for a finished response the PRM reads whole; otherwise the
        complete readable steps and one truncation step ending at ``last_token``.
    """
    n = len(split.steps)
    if complete is None:
        complete = [k < n - 1 or not truncated for k in range(n)]
    if not truncated and readable >= n:
        return ReaderCut(list(split.steps), list(split.ends), False, False)
    keep = 0
    while keep < min(readable, n) and complete[keep]:
        keep += 1
    ends = list(split.ends[:keep])
    if not ends or ends[-1] != last_token:
        ends.append(last_token)
    else:  # the last kept step already ends the response: it becomes the truncation step
        keep -= 1
    return ReaderCut(list(split.steps[:keep]), ends, True, True)


def scores_with_penalty(cut: ReaderCut, scores: Sequence[float], penalty_score: float = 0.0) -> list[float]:
    """The PRM's scores of ``cut.steps``, plus ``penalty_score`` for the truncation step, if any."""
    if len(scores) != len(cut.steps):
        raise ValueError(f"got {len(scores)} scores for {len(cut.steps)} read steps")
    return [*scores, penalty_score] if cut.penalty_step else list(scores)
