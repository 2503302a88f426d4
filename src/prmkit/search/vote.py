"""Choosing one answer from scored candidates: PRM best-of-N, majority vote, PRM-weighted vote.

This is the one selection rule of prmkit: search methods use it to pick their answer and the
best-of-N evaluation (:mod:`prmkit.evaluate.bon`) uses it to score subsets of candidates, so an
evaluation table and a search run mean the same thing by "weighted vote".

Two answers are *equivalent* when their :func:`answer_key` is equal: surrounding whitespace, ``$``,
a trailing period and thousands separators are ignored, and numbers compare by value ("3.0" ==
"3", "1,000" == "1000").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prmkit.models.aggregate import aggregate

__all__ = ["SELECTIONS", "answer_key", "select"]

SELECTIONS = ("best", "majority", "weighted")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def answer_key(answer: str | None) -> str | None:
    """Canonical form used to decide whether two final answers are the same (None stays None)."""
    if answer is None:
        return None
    text = answer.strip().strip("$").strip().rstrip(".").strip()
    # only thousands separators go: "1,000" is 1000, but "2,3" (two roots) is not 23
    compact = text.replace(",", "") if _THOUSANDS.fullmatch(text) else text
    try:
        value = float(compact)
    except ValueError:
        return text or None
    return str(int(value)) if value.is_integer() else repr(value)


def select(
    answers: Sequence[str | None],
    step_scores: Sequence[Sequence[float | None]],
    how: str = "weighted",
    aggregation: str = "min",
    temperature: float = 0.1,
) -> int:
    """Index of the chosen candidate.

    Args:
        answers: each candidate's final answer (None = no answer; never wins a vote).
        step_scores: each candidate's per-step PRM scores (ignored by ``"majority"``).
        how: ``"best"`` — highest aggregated PRM score; ``"majority"`` — most frequent equivalent
            answer; ``"weighted"`` — answer with the largest sum of aggregated scores. For the two
            votes the representative is the highest-scored candidate of the winning answer.
        aggregation, temperature: passed to :func:`prmkit.models.aggregate.aggregate`.

    Returns:
        The chosen index; ties go to the earliest candidate. With no answer anywhere, the vote
        methods fall back to ``"best"``.

    Example:
        >>> select(["4", "5", "5"], [[0.9], [0.1], [0.2]], how="majority")
        2
        >>> select(["4", "5", "5"], [[0.9], [0.1], [0.2]], how="weighted")
        0
    """
    if how not in SELECTIONS:
        raise ValueError(f"Unknown selection {how!r}; choose one of {', '.join(SELECTIONS)}")
    if not answers:
        raise ValueError("select() needs at least one candidate")
    if len(answers) != len(step_scores):
        raise ValueError(f"{len(answers)} answers but {len(step_scores)} score lists")
    values = [aggregate(s, aggregation, temperature) for s in step_scores]
    keys = [answer_key(a) for a in answers]
    if how == "best" or all(k is None for k in keys):
        return max(range(len(values)), key=lambda i: (values[i], -i))
    totals: dict[str, float] = {}
    for key, value in zip(keys, values):
        if key is not None:
            totals[key] = totals.get(key, 0.0) + (1.0 if how == "majority" else value)
    first_seen = {k: keys.index(k) for k in totals}
    winner = max(totals, key=lambda k: (totals[k], -first_seen[k]))
    members = [i for i, k in enumerate(keys) if k == winner]
    return max(members, key=lambda i: (values[i], -i))
