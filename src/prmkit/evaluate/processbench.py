"""ProcessBench evaluation of a PRM, following the official scripts (github QwenLM/ProcessBench, ``code/``)
and the paper (Zheng et al., 2024, "ProcessBench: Identifying Process Errors in Mathematical Reasoning").

A scalar PRM predicts the earliest wrong step as the first step whose score is below a threshold
(-1 when none is). Per subset (the id prefix: ``gsm8k``, ``math``, ``olympiadbench``, ``omnimath``,
or e.g. ``arith`` for prmkit's own held-out set):

* ``error_acc``: accuracy on erroneous samples — the prediction must equal the gold index;
* ``correct_acc``: accuracy on correct samples — the prediction must be -1;
* ``f1``: their harmonic mean, all in percent. An empty side makes its accuracy and the F1 NaN, as
  ``np.mean([])`` does in the official script (written as ``null`` in JSON).

The headline ``average_f1`` is the plain mean of the subset F1s. The threshold is either fixed
(default 0.5) or ``"auto"``: chosen to maximise F1 on the GSM8K subset and reused on all subsets, as
the paper does for scalar PRMs. Every subset also reports its own best threshold and best F1 — an
optimistic upper bound, since it is tuned on the test data itself.

Example:
    >>> from prmkit.evaluate.processbench import evaluate
    >>> records = [{"id": "arith-0", "problem": "q", "steps": ["a", "b"], "label": 1},
    ...            {"id": "arith-1", "problem": "q", "steps": ["a", "b"], "label": -1}]
    >>> evaluate(records, {"arith-0": [0.9, 0.2], "arith-1": [0.8, 0.7]})["subsets"]["arith"]["f1"]
    100.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prmkit.evaluate._scoring import check_scores, score_labelled
from prmkit.io.processbench import processbench_record, subset_of
from prmkit.metrics import first_error_prediction, processbench_f1
from prmkit.types import LabelledSolution

__all__ = ["evaluate", "evaluate_scorer", "processbench_f1", "predict_first_errors", "best_threshold", "score_records"]

ScoresLike = Mapping[str, Sequence[float | None]] | Sequence[Sequence[float | None]]


def _as_labelled(records: Sequence[LabelledSolution | Mapping[str, Any]]) -> list[LabelledSolution]:
    out = []
    for i, record in enumerate(records):
        item = record if isinstance(record, LabelledSolution) else processbench_record(record, f"record {i}")
        if item.labels is None or item.labels.first_error is None:
            raise ValueError(
                f"record {item.problem.id!r} has no known first error (labels.first_error); "
                "ProcessBench needs the earliest wrong step (-1 for none) for every record"
            )
        out.append(item)
    return out


def predict_first_errors(scores: Sequence[Sequence[float | None]], threshold: float = 0.5) -> list[int | None]:
    """Predicted earliest wrong step per solution: first score below ``threshold``, -1 if none,
    ``None`` (never right) when no step has a score (see :func:`prmkit.metrics.first_error_prediction`)."""
    return [first_error_prediction(row, threshold) for row in scores]


def _subset(item: LabelledSolution) -> str:
    return str(item.problem.meta.get("subset") or subset_of(item.problem.id))


def best_threshold(
    gold_first_errors: Sequence[int], scores: Sequence[Sequence[float | None]]
) -> tuple[float, float]:
    """The threshold that maximises ProcessBench F1 on these samples, found exactly.

    With prefix minima ``m_i = min(s_0..s_i)`` (``None`` scores never flag), a sample with gold
    error ``k`` is predicted right exactly for thresholds ``t`` in ``(m_k, m_{k-1}]``
    (``m_{-1} = +inf``) and a correct sample exactly for ``t <= m_{n-1}`` — never when no step has
    a score (no prediction, as in :func:`predict_first_errors`). Accuracies are step
    functions of ``t`` that change only at these endpoints, so evaluating one threshold in every gap
    between consecutive endpoints (their midpoint), one below all and one above all, covers every
    achievable result. Among equally good thresholds the one closest to 0.5 is returned.

    Args:
        gold_first_errors: shape (n,): gold earliest error per sample (-1 = correct sample).
        scores: n lists of step scores.

    Returns:
        ``(threshold, f1)``; ``(nan, nan)`` when F1 is undefined at every threshold (one side empty).
    """
    lows, highs, correct_mins = [], [], []
    for gold, row in zip(gold_first_errors, scores):
        prefix = np.minimum.accumulate([math.inf if s is None else float(s) for s in row]) if row else np.array([])
        if gold == -1:
            unscored = bool(row) and all(s is None for s in row)
            correct_mins.append(-math.inf if unscored else (prefix[-1] if len(prefix) else math.inf))
        else:
            lows.append(prefix[gold])
            highs.append(math.inf if gold == 0 else prefix[gold - 1])
    ends = np.unique([v for v in (*lows, *highs, *correct_mins) if math.isfinite(v)])
    if len(ends) == 0:
        candidates = np.array([0.5])
    else:
        candidates = np.concatenate([[ends[0] - 1.0, 0.5], (ends[:-1] + ends[1:]) / 2, [ends[-1] + 1.0]])
    lows_a, highs_a, mins_a = np.asarray(lows, float), np.asarray(highs, float), np.asarray(correct_mins, float)
    t = candidates[:, None]  # (c, 1)
    error_acc = 100.0 * ((lows_a[None, :] < t) & (t <= highs_a[None, :])).mean(axis=1) if len(lows) else None
    correct_acc = 100.0 * (t <= mins_a[None, :]).mean(axis=1) if len(correct_mins) else None
    if error_acc is None or correct_acc is None:
        return math.nan, math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(error_acc + correct_acc > 0, 2 * error_acc * correct_acc / (error_acc + correct_acc), np.nan)
    if np.isnan(f1).all():
        return math.nan, math.nan
    best = np.nanmax(f1)
    winners = np.flatnonzero(f1 == best)
    pick = winners[np.argmin(np.abs(candidates[winners] - 0.5))]
    return float(candidates[pick]), float(best)


def evaluate(
    records: Sequence[LabelledSolution | Mapping[str, Any]],
    scores: ScoresLike,
    threshold: float | str = 0.5,
    tune_on: str = "gsm8k",
) -> dict[str, Any]:
    """ProcessBench metrics of per-step scores.

    Args:
        records: :func:`prmkit.io.processbench.read_processbench` output, or raw ProcessBench dicts.
            The subset is ``problem.meta["subset"]``, else the id without ``-<n>``.
        scores: either a mapping record id -> one score per step, or a list of score lists aligned
            with ``records``. Extra ids in a mapping are ignored.
        threshold: a number, or ``"auto"`` = the F1-maximising threshold on subset ``tune_on``,
            reused on every subset.
        tune_on: the subset ``"auto"`` tunes on (the paper uses GSM8K).

    Returns:
        ``{"subsets": {name: {"error_acc", "correct_acc", "f1", "threshold", "best_threshold",
        "best_f1", "num_error", "num_correct"}}, "average_f1", "threshold", "threshold_mode"}``;
        accuracies and F1 in percent (NaN where undefined, see the module docstring).

    Raises:
        ValueError: a record has no scores or a different number of scores than steps (names
            the id), an id occurs twice, ``threshold`` is neither a number nor ``"auto"``, or ``"auto"`` finds no
            ``tune_on`` subset.
    """
    items = _as_labelled(records)
    keys = [item.problem.id for item in items]
    repeated = sorted({key for key in keys if keys.count(key) > 1}) if len(set(keys)) != len(keys) else []
    if repeated:
        raise ValueError(
            f"ProcessBench record id(s) {repeated[:5]} occur more than once (the same file given twice?); "
            "each sample must be counted once"
        )
    aligned = check_scores(keys, [len(item.solution.steps) for item in items], scores, what="ProcessBench record")
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(_subset(item), []).append(i)
    gold = [int(item.labels.first_error) for item in items]  # type: ignore[union-attr, arg-type]

    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
        if tune_on not in groups:
            raise ValueError(
                f"threshold 'auto' tunes on subset {tune_on!r}, which is not in the data "
                f"(subsets: {', '.join(groups)}); pass its file too or give a fixed threshold"
            )
        members = groups[tune_on]
        used, _ = best_threshold([gold[i] for i in members], [aligned[i] for i in members])
        if math.isnan(used):
            raise ValueError(f"subset {tune_on!r} needs both erroneous and correct samples to tune a threshold")
        mode = f"auto (max F1 on {tune_on})"
    else:
        used, mode = float(threshold), "fixed"

    subsets: dict[str, dict[str, float]] = {}
    for name, members in groups.items():
        sub_gold = [gold[i] for i in members]
        sub_scores = [aligned[i] for i in members]
        result: dict[str, Any] = dict(processbench_f1(sub_gold, predict_first_errors(sub_scores, used)))
        result["threshold"] = used
        result["best_threshold"], result["best_f1"] = best_threshold(sub_gold, sub_scores)
        result["num_error"] = sum(1 for g in sub_gold if g != -1)
        result["num_correct"] = sum(1 for g in sub_gold if g == -1)
        subsets[name] = result
    f1s = [s["f1"] for s in subsets.values()]
    average = float(np.mean(f1s)) if f1s else math.nan
    return {"subsets": subsets, "average_f1": average, "threshold": used, "threshold_mode": mode}


def score_records(
    records: Sequence[LabelledSolution | Mapping[str, Any]],
    scorer: Any,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, list[float | None]]:
    """Score every record's steps with ``scorer`` (batched, with a progress bar): ``{id: scores}``."""
    return score_labelled(_as_labelled(records), scorer, batch_size, "ProcessBench", progress)


def evaluate_scorer(
    records: Sequence[LabelledSolution | Mapping[str, Any]],
    scorer: Any,
    threshold: float | str = 0.5,
    tune_on: str = "gsm8k",
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the records with a :class:`~prmkit.models.Scorer`, then :func:`evaluate` them.

    The result also holds ``"scores"`` ({id: step scores}) so a run can be re-evaluated without
    the model.
    """
    scores = score_records(records, scorer, batch_size=batch_size, progress=progress)
    result = evaluate(records, scores, threshold=threshold, tune_on=tune_on)
    result["scores"] = scores
    return result
