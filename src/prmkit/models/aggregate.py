"""Turn a solution's per-step scores into one number — the single aggregation used all over prmkit.

Best-of-N selection, weighted voting, search and RL rewards all call :func:`aggregate`, so a
"min" in an evaluation table means exactly the "min" used at search time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["AGGREGATIONS", "aggregate"]

AGGREGATIONS = ("min", "last", "product", "mean", "softmin")


def aggregate(scores: Sequence[float | None], how: str = "min", temperature: float = 0.1) -> float:
    """Aggregate step scores in [0, 1] into a solution score in [0, 1].

    Args:
        scores: one score per step; ``None`` (unknown, e.g. an ORM's non-final steps) is skipped.
        how: ``"min"``, ``"last"``, ``"product"``, ``"mean"`` or ``"softmin"``.
        temperature: for ``"softmin"``: sum_k w_k * s_k with w = softmax(-s / temperature)
            (PURE's min-form weighting; tends to ``"min"`` as temperature -> 0, to ``"mean"`` as it grows).

    Returns:
        The aggregated score; 0.0 for a solution with no known step score.

    Raises:
        ValueError: unknown ``how`` or non-positive ``temperature``.

    Example:
        >>> aggregate([0.9, 0.2, 0.8], "min"), aggregate([0.9, 0.2, 0.8], "last")
        (0.2, 0.8)
    """
    known = [float(s) for s in scores if s is not None]
    if how not in AGGREGATIONS:
        raise ValueError(f"Unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
    if not known:
        return 0.0
    if how == "min":
        return min(known)
    if how == "last":
        return known[-1]
    if how == "product":
        return math.prod(known)
    if how == "mean":
        return sum(known) / len(known)
    if temperature <= 0:
        raise ValueError(f"softmin temperature must be > 0, got {temperature}")
    low = min(known)
    weights = [math.exp(-(s - low) / temperature) for s in known]
    return sum(w * s for w, s in zip(weights, known)) / sum(weights)
