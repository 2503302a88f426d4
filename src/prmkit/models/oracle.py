"""The exact oracle PRM of the arith task: the upper bound in every table.

A :class:`~prmkit.models.Scorer` only sees ``(question, steps)``, so the oracle recovers the
problem from the question text (:meth:`ArithTask.parse_question`) and scores each step with the
exact checker: 1.0 before the first error, 0.0 from it on (ProcessBench semantics: a step after
an error is not credited even if its own arithmetic is right).
"""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.models import ScoringItem
from prmkit.tasks.arith import ArithTask, diagnose

__all__ = ["OracleScorer"]


class OracleScorer:
    """Scores arith steps exactly (registered as ``arith-oracle``).

    Args:
        wrong_score: score from the first wrong step on (default 0.0).
        right_score: score of the steps before it (default 1.0).

    Example:
        >>> OracleScorer().score([("Q 2 +3 *2", ["2+3=5", "5*2=11", "The answer is 11."])])
        [[1.0, 0.0, 0.0]]
    """

    def __init__(self, wrong_score: float = 0.0, right_score: float = 1.0) -> None:
        for name, value in (("wrong_score", wrong_score), ("right_score", right_score)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"OracleScorer: {name} must be in [0, 1], got {value}")
        self.wrong_score, self.right_score = wrong_score, right_score

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Score every step of every ``(question, steps)`` item, in input order.

        The question may be the bare question or the task's prompt (trailing newline).

        Raises:
            ValueError: an item's question is not an arith question (names the item index).
        """
        results: list[list[float | None]] = []
        for index, (question, steps) in enumerate(items):
            try:
                problem = ArithTask.parse_question(question.strip())
            except ValueError as err:
                raise ValueError(f"arith-oracle: item {index}: {err}") from None
            error = diagnose(problem, [s.strip() for s in steps])
            first = len(steps) if error is None else error.index
            results.append([self.right_score if i < first else self.wrong_score for i in range(len(steps))])
        return results
