"""Ensembles of scorers: combine several PRMs' step scores into one, step by step.

Combination rules (per step, over the members that scored it; ``None`` = not scored):
    ``mean``         the average.
    ``min``          the most pessimistic member.
    ``uncertainty``  mean - lam * std (population std, ddof=0), clipped to [0, 1]: steps the members
                     disagree on are pushed down. This is the uncertainty-weighted objective of
                     Coste et al., "Reward Model Ensembles Help Mitigate Overoptimization"
                     (ICLR 2024, arXiv:2310.02743, "UWO") with the standard deviation as the penalty
                     (the paper's UWO uses the variance; std keeps the penalty in score units).
A step no member scored stays ``None``; a step one member scored takes that score (std = 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from prmkit.models import Scorer, ScoringItem

__all__ = ["COMBINE", "EnsembleScorer", "combine"]

COMBINE = ("mean", "min", "uncertainty")


def combine(values: Sequence[float | None], how: str = "mean", lam: float = 1.0) -> float | None:
    """Combine one step's member scores.

    Args:
        values: one score per member, ``None`` where that member gave none.
        how: ``"mean"``, ``"min"`` or ``"uncertainty"``.
        lam: the std penalty weight for ``"uncertainty"`` (>= 0).

    Returns:
        The combined score in [0, 1], or ``None`` when no member scored the step.

    Raises:
        ValueError: unknown ``how``.

    Example:
        >>> combine([0.9, None, 0.5], "mean"), combine([0.9, 0.5], "min")
        (0.7, 0.5)
        >>> round(combine([0.9, 0.5], "uncertainty", lam=1.0), 6)  # 0.7 - 1.0 * 0.2
        0.5
    """
    if how not in COMBINE:
        raise ValueError(f"Unknown ensemble combination {how!r}; choose one of {', '.join(COMBINE)}")
    known = [float(v) for v in values if v is not None]
    if not known:
        return None
    if how == "min":
        return min(known)
    mean = sum(known) / len(known)
    if how == "mean":
        return mean
    std = math.sqrt(sum((v - mean) ** 2 for v in known) / len(known))
    return min(1.0, max(0.0, mean - lam * std))


def _build(member: Any, index: int) -> Scorer:
    """A member: a scorer object, a registered name, or ``{"name": ..., **options}``."""
    from prmkit.models import load_scorer

    if isinstance(member, str):
        return load_scorer(member)
    if isinstance(member, dict):
        if "name" not in member:
            raise ValueError(f"ensemble member {index} {member!r} has no 'name'; write {{'name': 'dummy', ...options}}")
        options = {k: v for k, v in member.items() if k != "name"}
        return load_scorer(member["name"], **options)
    if callable(getattr(member, "score", None)):
        return member
    raise ValueError(f"ensemble member {index} is {type(member).__name__}; expected a scorer, a name or a dict spec")


class EnsembleScorer:
    """Scores with every member and combines per step (see :func:`combine`).

    Args:
        scorers: the members: scorer objects, registered names (``"dummy"``), or specs
            ``{"name": "qwen2.5-math-prm", "path": ..., "backend": ...}``; at least two.
        how: ``"mean"``, ``"min"`` or ``"uncertainty"``.
        lam: std penalty weight for ``"uncertainty"``.

    Raises:
        ValueError: fewer than two members, unknown ``how``, negative ``lam``, a bad member spec,
            or a member returning the wrong number of scores (named by its index).

    Example:
        >>> ens = EnsembleScorer(scorers=[{"name": "dummy", "value": 0.9}, {"name": "dummy", "value": 0.5}],
        ...                      how="uncertainty", lam=1.0)
        >>> [[round(s, 6) for s in item] for item in ens.score([("q", ["a", "b"])])]
        [[0.5, 0.5]]
    """

    def __init__(self, scorers: Sequence[Any], how: str = "mean", lam: float = 1.0) -> None:
        if how not in COMBINE:
            raise ValueError(f"Unknown ensemble combination {how!r}; choose one of {', '.join(COMBINE)}")
        if lam < 0:
            raise ValueError(f"EnsembleScorer lam must be >= 0, got {lam}")
        if isinstance(scorers, (str, dict)) or len(scorers) < 2:
            raise ValueError("EnsembleScorer needs a list of at least two scorers (objects, names or {'name': ...} specs)")
        self.members = [_build(member, i) for i, member in enumerate(scorers)]
        self.how = how
        self.lam = lam

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Each member scores the whole batch once; the results are combined per step, input order kept."""
        per_member = []
        for m, member in enumerate(self.members):
            out = member.score(items)
            if len(out) != len(items) or any(len(s) != len(steps) for s, (_, steps) in zip(out, items)):
                raise ValueError(
                    f"ensemble member {m} ({type(member).__name__}) returned scores that do not match the items' "
                    "step counts"
                )
            per_member.append(out)
        return [
            [combine([scores[i][k] for scores in per_member], self.how, self.lam) for k in range(len(steps))]
            for i, (_, steps) in enumerate(items)
        ]
