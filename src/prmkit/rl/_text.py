"""Shared by the text-level adapters (TRL, OpenRLHF, verl ``compute_score``): step-split responses,
score them in one batch, and check final answers."""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.answers import extract_answer, grade
from prmkit.models import Scorer
from prmkit.rl.steps import split_text

__all__ = ["answer_is_correct", "score_responses"]


def score_responses(
    scorer: Scorer, questions: Sequence[str], responses: Sequence[str], separator: str
) -> tuple[list[list[str]], list[list[float | None]]]:
    """Split each response into steps and score all of them with one ``scorer.score`` call.

    Returns:
        ``(steps, scores)`` per response; a response without a non-empty step gets ``[]`` for both
        (and is not sent to the scorer).
    """
    if len(questions) != len(responses):
        raise ValueError(f"got {len(questions)} questions for {len(responses)} responses")
    steps = [split_text(r, separator) for r in responses]
    todo = [i for i, s in enumerate(steps) if s]
    results = scorer.score([(questions[i], steps[i]) for i in todo]) if todo else []
    if len(results) != len(todo):
        raise ValueError(f"scorer returned {len(results)} results for {len(todo)} items")
    scores: list[list[float | None]] = [[] for _ in responses]
    for i, row in zip(todo, results):
        scores[i] = list(row)
    return steps, scores


def answer_is_correct(response: str, gold: str | None) -> float:
    """1.0 when the response's final answer (``prmkit.answers.extract_answer``) grades equal to ``gold``."""
    return float(grade(extract_answer(response), None if gold is None else str(gold)))
