"""Pure step-metric math shared by evaluation (:mod:`prmkit.evaluate`) and training (:mod:`prmkit.train`).

Bottom layer: numpy only, no imports from other prmkit folders, so a trainer can call these on every
evaluation step without pulling in benchmark readers. Every function takes plain sequences (lists,
numpy arrays) of per-step values.

Conventions used throughout:

* A *label* is P(step is correct) in [0, 1]: 1.0 = correct step, 0.0 = wrong step. Metrics that need
  a binary label binarise with ``label >= 0.5`` (so MC soft labels work too).
* A *score* is the PRM's P(step is correct) in [0, 1]. A step is *predicted correct* when
  ``score >= threshold`` and *predicted wrong* when ``score < threshold`` — the same rule as
  :func:`first_error_prediction` ("first step whose score is below the threshold").
* Pairs where the label or the score is ``None`` (unknown) are dropped before computing anything.
* Undefined metrics (an absent class, an empty input) are ``float("nan")``, never a made-up 0 —
  averaging NaN in then visibly poisons a table instead of hiding the problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "auroc",
    "f1_at_threshold",
    "expected_calibration_error",
    "first_error_prediction",
    "processbench_f1",
]

_NAN = float("nan")


def _paired(labels: Sequence[float | None], scores: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs with a ``None`` on either side; return float arrays (labels, scores), each shape (n,)."""
    if len(labels) != len(scores):
        raise ValueError(f"labels and scores must have the same length, got {len(labels)} and {len(scores)}")
    kept = [(float(y), float(s)) for y, s in zip(labels, scores) if y is not None and s is not None]
    if not kept:
        return np.zeros(0), np.zeros(0)
    y, s = np.asarray(kept, dtype=float).T
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; a scorer produced no number for some step (use None for unknown)")
    return y, s


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (shape (n,)), ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def auroc(labels: Sequence[float | None], scores: Sequence[float | None]) -> float:
    """Area under the ROC curve of ``scores`` separating correct steps (label >= 0.5) from wrong ones.

    Computed as the Mann-Whitney U statistic: the probability that a random correct step scores
    higher than a random wrong step, ties counting one half (equivalently: average ranks for ties).

    Args:
        labels: shape (n,): P(step correct); binarised at 0.5. ``None`` entries are skipped.
        scores: shape (n,): PRM scores; ``None`` entries are skipped.

    Returns:
        AUROC in [0, 1]; ``nan`` when only one class is present after skipping (AUROC is undefined).

    Raises:
        ValueError: lengths differ, or a score is NaN.

    Example:
        >>> auroc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4])
        0.875
    """
    y, s = _paired(labels, scores)
    positive = y >= 0.5
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return _NAN
    ranks = _average_ranks(s)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def f1_at_threshold(
    labels: Sequence[float | None],
    scores: Sequence[float | None],
    threshold: float = 0.5,
    positive: int = 1,
) -> float:
    """F1 of the step classifier ``score >= threshold`` (predicted correct) vs ``score < threshold``.

    Args:
        labels: shape (n,): P(step correct); binarised at 0.5. ``None`` entries are skipped.
        scores: shape (n,): PRM scores; ``None`` entries are skipped.
        threshold: scores at or above it are predicted correct.
        positive: which class F1 is reported for: ``1`` = correct steps (the usual step F1),
            ``0`` = wrong steps (error detection, PRMBench's "negative F1").

    Returns:
        F1 in [0, 1]; 0.0 when there are positives (true or predicted) but none is hit;
        ``nan`` when the positive class is neither present nor predicted (F1 is undefined).

    Raises:
        ValueError: lengths differ, a score is NaN, or ``positive`` is not 0 or 1.

    Example:
        >>> f1_at_threshold([1, 1, 0, 0], [0.9, 0.2, 0.3, 0.7])
        0.5
    """
    if positive not in (0, 1):
        raise ValueError(f"positive must be 0 (wrong steps) or 1 (correct steps), got {positive!r}")
    y, s = _paired(labels, scores)
    truth = (y >= 0.5) if positive == 1 else (y < 0.5)
    predicted = (s >= threshold) if positive == 1 else (s < threshold)
    tp = int((truth & predicted).sum())
    fp = int((~truth & predicted).sum())
    fn = int((truth & ~predicted).sum())
    if tp + fp + fn == 0:
        return _NAN
    return 2.0 * tp / (2.0 * tp + fp + fn)


def expected_calibration_error(
    labels: Sequence[float | None], scores: Sequence[float | None], bins: int = 10
) -> float:
    """Expected calibration error of scores read as P(step correct) (Guo et al., 2017, eq. 3).

    ``ECE = sum_b (n_b / n) * |mean(label in b) - mean(score in b)|`` over ``bins`` equal-width bins
    of [0, 1]; bin b holds scores in ``[b/bins, (b+1)/bins)``, the last bin also holds 1.0. Soft
    labels are used as they are (the mean label is then the empirical P(correct) of the bin).

    Args:
        labels: shape (n,): P(step correct) in [0, 1]. ``None`` entries are skipped.
        scores: shape (n,): PRM scores in [0, 1]. ``None`` entries are skipped.
        bins: number of equal-width bins (>= 1).

    Returns:
        ECE in [0, 1]; ``nan`` when no pair is left.

    Raises:
        ValueError: lengths differ, ``bins < 1``, or a score is NaN or outside [0, 1].

    Example:
        >>> round(expected_calibration_error([1, 0, 1, 1], [0.9, 0.9, 0.2, 0.2], bins=2), 6)
        0.6
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    y, s = _paired(labels, scores)
    if len(s) == 0:
        return _NAN
    if (s < 0).any() or (s > 1).any():
        raise ValueError(f"scores must lie in [0, 1] for calibration; got min {s.min()}, max {s.max()}")
    index = np.minimum((s * bins).astype(int), bins - 1)  # (n,) bin of each score
    total = 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if count:
            total += count * abs(float(y[members].mean()) - float(s[members].mean()))
    return total / len(s)


def first_error_prediction(scores: Sequence[float | None], threshold: float = 0.5) -> int | None:
    """Predicted earliest wrong step: the first step whose score is below ``threshold``.

    This is how ProcessBench turns a scalar PRM into an error locator (Zheng et al., 2024, sec. 4.1).

    Args:
        scores: one score per step; ``None`` (no score for that step, e.g. an outcome model's
            intermediate steps) is skipped, i.e. never predicted as the error.
        threshold: scores strictly below it mark a step wrong.

    Returns:
        The 0-based index of that step; ``-1`` when no scored step is below the threshold;
        ``None`` (no prediction) when the solution has steps but *none* of them has a score — e.g. a
        generative judge that gave no usable ``\\boxed{}`` verdict. The official critic script
        (QwenLM/ProcessBench ``code/run_eval.py``) records such a prediction as ``None``, which
        matches neither an error index nor -1; reading it as -1 would reward abstaining on
        correct samples.

    Example:
        >>> first_error_prediction([0.9, None, 0.3, 0.1]), first_error_prediction([0.9, 0.6])
        (2, -1)
        >>> print(first_error_prediction([None, None]))
        None
    """
    for i, score in enumerate(scores):
        if score is not None and score < threshold:
            return i
    if len(scores) and all(score is None for score in scores):
        return None
    return -1


def processbench_f1(
    gold_first_errors: Sequence[int], predicted_first_errors: Sequence[int | None]
) -> dict[str, float]:
    """ProcessBench's metric, exactly as the official scripts (QwenLM/ProcessBench ``code/``) compute it.

    Erroneous samples (gold != -1) count as right only when the prediction equals the gold earliest
    error index; correct samples (gold == -1) only when the prediction is -1. Then
    ``f1 = 2 * error_acc * correct_acc / (error_acc + correct_acc)``.

    Degenerate cases follow the official numpy code: the accuracy of an empty side is
    ``np.mean([]) = nan``, which makes ``f1`` nan; both accuracies 0 gives ``0/0 = nan`` too.

    Args:
        gold_first_errors: shape (n,): gold earliest-error step per sample, -1 for fully correct.
        predicted_first_errors: shape (n,): predicted earliest-error step, -1 for "no error",
            ``None`` for "no prediction" (counts as wrong on both sides, as the official
            ``match = (pred == label)`` does for an unparseable critique).

    Returns:
        ``{"error_acc", "correct_acc", "f1"}``, all in percent (0-100) or nan as described.

    Raises:
        ValueError: the two sequences differ in length.

    Example:
        >>> processbench_f1([2, 0, -1, -1], [2, 1, -1, 3])
        {'error_acc': 50.0, 'correct_acc': 50.0, 'f1': 50.0}
    """
    if len(gold_first_errors) != len(predicted_first_errors):
        raise ValueError(
            f"gold_first_errors has {len(gold_first_errors)} entries but predicted_first_errors has "
            f"{len(predicted_first_errors)}; pass one prediction per sample"
        )
    pairs = [(int(g), None if p is None else int(p)) for g, p in zip(gold_first_errors, predicted_first_errors)]
    on_errors = [p == g for g, p in pairs if g != -1]
    on_correct = [p == -1 for g, p in pairs if g == -1]
    error_acc = 100.0 * sum(on_errors) / len(on_errors) if on_errors else _NAN
    correct_acc = 100.0 * sum(on_correct) / len(on_correct) if on_correct else _NAN
    denominator = error_acc + correct_acc
    f1 = _NAN if math.isnan(denominator) or denominator == 0 else 2.0 * error_acc * correct_acc / denominator
    return {"error_acc": error_acc, "correct_acc": correct_acc, "f1": f1}
