"""Percentile bootstrap intervals over problems: how sure is a difference between two verifiers?

Why over problems: the N candidates of one problem share its difficulty, so solutions are not
independent draws; resampling whole problems (Efron & Tibshirani 1993, ch. 13, the percentile
interval) keeps that correlation. Every statistic of one comparison is computed on the *same*
resampled problem sets (one seed), so intervals of different verifiers are comparable.

    >>> lo, hi = bootstrap_interval([[1.0], [0.0], [1.0], [1.0]], lambda groups: 100 * sum(g[0] for g in groups) / len(groups))
    >>> 0.0 <= lo <= 75.0 <= hi <= 100.0
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["bootstrap_interval", "ratio_interval", "resampled_indices"]

T = TypeVar("T")


def resampled_indices(groups: int, resamples: int = 1000, seed: int = 0) -> Any:
    """``(resamples, groups)`` int array: each row draws ``groups`` group indices with replacement."""
    import numpy as np

    if groups < 1 or resamples < 1:
        raise ValueError(f"bootstrap needs >= 1 group and >= 1 resample (got {groups}, {resamples})")
    return np.random.default_rng(seed).integers(0, groups, size=(resamples, groups))


def bootstrap_interval(
    groups: Sequence[T], statistic: Callable[[list[T]], float], level: float = 0.95, resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile interval of ``statistic`` over problem-level resamples of ``groups``.

    Args:
        groups: one entry per problem (whatever ``statistic`` needs: outcomes, solutions, ...).
        statistic: maps a list of groups to a number (e.g. accuracy in percent, F1).
        level: coverage of the interval (0.95 = the 2.5th to 97.5th percentile).
        resamples / seed: bootstrap draws; the same seed gives the same resampled sets.

    Returns:
        ``(low, high)``; NaN resamples (e.g. an F1 undefined on a draw) are ignored, and
        ``(nan, nan)`` comes back when every draw is NaN.
    """
    import numpy as np

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = np.array([statistic([groups[i] for i in row]) for row in resampled_indices(len(groups), resamples, seed)],
                      dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float] | None = None, level: float = 0.95,
    resamples: int = 1000, seed: int = 0,
) -> tuple[float, float]:
    """The percentile interval of ``sum(numerators) / sum(denominators)`` over problem-level resamples.

    The vectorised special case of :func:`bootstrap_interval` for means and pooled rates (one
    entry per problem; no denominators = the mean over problems), fast enough to put an interval on
    every point of every curve. The same ``seed`` draws the same problem sets as
    :func:`bootstrap_interval`.

    Args:
        numerators: per problem, e.g. its accuracy (0-1 or %), or its number of hits.
        denominators: per problem, e.g. its number of solutions; default 1 each.
        level / resamples / seed: as for :func:`bootstrap_interval`.

    Returns:
        ``(low, high)`` in the unit of the ratio; ``(nan, nan)`` when every draw is undefined (0/0).

    Example:
        >>> lo, hi = ratio_interval([3, 1, 2], [4, 4, 4])
        >>> 0.25 <= lo <= 0.5 <= hi <= 0.75
        True
    """
    import numpy as np

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    num = np.asarray(numerators, dtype=float)
    den = np.ones_like(num) if denominators is None else np.asarray(denominators, dtype=float)
    if num.shape != den.shape or num.ndim != 1:
        raise ValueError(f"numerators and denominators must be two equal-length lists, got shapes {num.shape}, {den.shape}")
    rows = resampled_indices(len(num), resamples, seed)  # (resamples, problems)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = num[rows].sum(axis=1) / den[rows].sum(axis=1)  # (resamples,)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))
