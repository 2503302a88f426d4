"""Several verifiers judged on the very same candidates, with bootstrap intervals over problems.

Why: "verifier A beats B" is only worth saying when both scored the same solutions, under a
protocol fixed in advance, and with an idea of the noise. For each problem and verifier this
module records the outcome of the three uses of a PRM — first-error prediction (ProcessBench F1 at
a given threshold), PRM-weighted majority vote and best-of-N (both on min-aggregated step scores,
the rule of :func:`prmkit.search.vote.select`) — and :func:`compare` turns them into point values
and 95 % percentile-bootstrap intervals drawn from the same resampled problem sets for every
verifier (:mod:`prmkit.evaluate.bootstrap`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prmkit.metrics import first_error_prediction, processbench_f1
from prmkit.search.vote import select
from prmkit.types import Solution

__all__ = ["ProblemOutcome", "compare", "problem_outcome"]


@dataclass(frozen=True)
class ProblemOutcome:
    """One problem's N candidates as one verifier judged them.

    Attributes:
        gold: exact first error of each candidate (-1 none, None unknown).
        predicted: first step scored below the threshold (-1 none; None when no threshold).
        majority / weighted / best: whether plain majority vote, the PRM-weighted vote and
            PRM best-of-N picked a correct answer.
    """

    gold: tuple[int | None, ...]
    predicted: tuple[int | None, ...]
    majority: bool
    weighted: bool
    best: bool


def problem_outcome(solutions: Sequence[Solution], scores: Sequence[Sequence[float | None]],
                    gold: Sequence[int | None], threshold: float | None) -> ProblemOutcome:
    """The outcomes of one problem (see :class:`ProblemOutcome`); ``threshold`` None = no F1."""
    answers = [s.answer for s in solutions]

    def picked(how: str) -> bool:
        return bool(solutions[select(answers, scores, how=how, aggregation="min")].correct)

    predicted = tuple(first_error_prediction(row, threshold) if threshold is not None else None for row in scores)
    return ProblemOutcome(tuple(gold), predicted, picked("majority"), picked("weighted"), picked("best"))


def _f1(outcomes: Sequence[ProblemOutcome]) -> float:
    gold = [g for o in outcomes for g in o.gold]
    predicted = [p for o in outcomes for p in o.predicted]
    if any(p is None for p in predicted):
        return math.nan
    known = [(g, p) for g, p in zip(gold, predicted) if g is not None]
    return processbench_f1([g for g, _ in known], [p for _, p in known])["f1"] if known else math.nan


def _accuracy(field: str):
    return lambda outcomes: 100.0 * sum(getattr(o, field) for o in outcomes) / len(outcomes)


def compare(outcomes: Mapping[str, Sequence[ProblemOutcome]], resamples: int = 1000, seed: int = 0,
            level: float = 0.95) -> dict[str, dict[str, dict[str, float]]]:
    """Point values and bootstrap intervals of every verifier's F1, weighted vote, best-of-N (and majority).

    Args:
        outcomes: verifier name -> one :class:`ProblemOutcome` per problem, problems in the same order.
        resamples / seed / level: the bootstrap (the same resampled problem sets for every verifier).

    Returns:
        ``{name: {"f1" | "weighted" | "best" | "majority": {"value": v, "low": lo, "high": hi}}}``, in percent.

    Raises:
        ValueError: verifiers judged different numbers of problems.
    """
    from prmkit.evaluate.bootstrap import bootstrap_interval

    sizes = {len(v) for v in outcomes.values()}
    if len(sizes) > 1:
        raise ValueError(f"verifiers judged different numbers of problems: {sorted(sizes)}")
    statistics = {"f1": _f1, "weighted": _accuracy("weighted"), "best": _accuracy("best"), "majority": _accuracy("majority")}
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name, rows in outcomes.items():
        rows = list(rows)
        result[name] = {}
        for key, statistic in statistics.items():
            value = statistic(rows)
            low, high = (math.nan, math.nan) if math.isnan(value) else bootstrap_interval(rows, statistic, level, resamples, seed)
            result[name][key] = {"value": value, "low": low, "high": high}
    return result
