"""PRMBench evaluation (Song et al., 2025), following the official code (github ssmisya/PRMBench,
``mr_eval/tasks/prmtest_classified/task.py``, ``evaluate_function`` and ``eval_on_hallucination_step``,
and the PRMScore line of ``mr_visualize/eval_res_view/draw_tabs/form_excel_strs.ipynb``).

Rules, as in the official code:

* a step is predicted *valid* when its score is **strictly greater** than the threshold (0.5);
* counts are micro-averaged over steps: TP = correct step predicted valid, FN = correct step
  predicted invalid, TN = erroneous step predicted invalid, FP = erroneous step predicted valid;
* ``f1`` is the F1 of the valid (positive) class, ``negative_f1`` that of the erroneous class, and
  ``PRMScore = 0.5 * f1 + 0.5 * negative_f1``;
* per category (the record's ``classification``) and overall. The overall counts exclude the
  ``"correct"`` category (unmodified solutions, added with ``read_prmbench(include_correct=True)``),
  exactly as the official scorer does; that category is still reported on its own.

The official code can also take a judge model's separate *redundancy* labels for the
``redundency``/``circular`` categories; a prmkit scorer gives one P(correct) per step, so the
validity rule above is used for every category (the path the official code takes for PRMs).

Differences from the official code, on purpose, all outside the normal case: results are in
percent (the paper's tables multiply by 100). F1 is computed as ``2TP / (2TP + FP + FN)``, which
equals the official ``2PR / (P + R)`` whenever that is defined; where the official code writes its
sentinel -1 we report NaN (JSON ``null``) when the class is neither present nor predicted
(TP = FP = FN = 0), and the true F1 of 0 when the class was missed entirely (TP = 0 with FP, FN > 0;
official: -1, since P + R = 0). An undefined precision or recall is NaN (official: -1). So a
sentinel never leaks into PRMScore as a number. Each record must have exactly one score per step
(the official loop silently scores only as many steps as it has labels). Error steps listed beyond
a solution's length are never reached, as in the official loop.

Example:
    >>> from prmkit.evaluate.prmbench import evaluate
    >>> record = {"idx": "p1", "classification": "circular", "modified_question": "q",
    ...           "modified_process": ["a", "b", "c"], "error_steps": [2]}
    >>> result = evaluate([record], {"circular_p1": [0.9, 0.2, 0.4]})  # TP, TN, FN
    >>> round(result["f1"], 2), round(result["negative_f1"], 2), round(result["prmscore"], 2)
    (66.67, 66.67, 66.67)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prmkit.evaluate._scoring import check_scores, score_labelled
from prmkit.io.prmbench import CORRECT_CLASSIFICATION, prmbench_record
from prmkit.types import LabelledSolution

__all__ = ["evaluate", "evaluate_scorer", "confusion", "scores_from_confusion"]

ScoresLike = Mapping[str, Sequence[float | None]] | Sequence[Sequence[float | None]]


def _as_labelled(records: Sequence[LabelledSolution | Mapping[str, Any]]) -> list[LabelledSolution]:
    out = []
    for i, record in enumerate(records):
        item = record if isinstance(record, LabelledSolution) else prmbench_record(record, f"record {i}")
        if item.labels is None:
            raise ValueError(f"record {item.problem.id!r} has no step labels; PRMBench needs them")
        out.append(item)
    return out


def _classification(item: LabelledSolution) -> str:
    return str(item.solution.meta.get("classification") or item.problem.meta.get("classification") or "all")


def confusion(
    labels: Sequence[float | None], scores: Sequence[float | None], threshold: float = 0.5, key: str = "record"
) -> dict[str, int]:
    """Step counts ``{"tp", "fp", "tn", "fn"}`` of one solution (PRMBench's naming, see the module docstring).

    A step is erroneous when its label is < 0.5; steps with an unknown (``None``) label are skipped.

    Raises:
        ValueError: a step with a known label has no score (names ``key`` and the step).
    """
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for step, (label, score) in enumerate(zip(labels, scores)):
        if label is None:
            continue
        if score is None:
            raise ValueError(f"{key}: step {step} has no score; PRMBench needs a score for every labelled step")
        valid = score > threshold
        if label >= 0.5:
            counts["tp" if valid else "fn"] += 1
        else:
            counts["fp" if valid else "tn"] += 1
    return counts


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def _f1(hits: int, false_alarms: int, misses: int) -> float:
    """F1 = 2TP / (2TP + FP + FN); NaN only when the class is neither present nor predicted."""
    denominator = 2 * hits + false_alarms + misses
    return 2 * hits / denominator if denominator else math.nan


def scores_from_confusion(counts: Mapping[str, int]) -> dict[str, float]:
    """Precision/recall/F1 of both classes and PRMScore from step counts, in percent (NaN if undefined)."""
    tp, fp, tn, fn = counts["tp"], counts["fp"], counts["tn"], counts["fn"]
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    negative_precision, negative_recall = _ratio(tn, tn + fn), _ratio(tn, tn + fp)
    f1, negative_f1 = _f1(tp, fp, fn), _f1(tn, fn, fp)
    out = {
        "prmscore": 0.5 * f1 + 0.5 * negative_f1,
        "f1": f1,
        "negative_f1": negative_f1,
        "precision": precision,
        "recall": recall,
        "negative_precision": negative_precision,
        "negative_recall": negative_recall,
    }
    return {name: 100.0 * value for name, value in out.items()}


def evaluate(
    records: Sequence[LabelledSolution | Mapping[str, Any]],
    scores: ScoresLike,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """PRMBench metrics of per-step scores.

    Args:
        records: :func:`prmkit.io.prmbench.read_prmbench` output, or raw PRMBench dicts.
        scores: a mapping ``"<classification>_<idx>"`` (the record's ``problem.id``) -> one score
            per step, or a list of score lists aligned with ``records``.
        threshold: a step is predicted valid when its score is > threshold.

    Returns:
        ``{"prmscore", "f1", "negative_f1", ..., "num_samples", "categories": {classification:
        {"prmscore", "f1", "negative_f1", ..., "tp", "fp", "tn", "fn", "num_samples"}}, "threshold"}``,
        in percent.

    Raises:
        ValueError: a record has no scores, a different number of scores than steps, or a labelled
            step without a score (names the record).
    """
    items = _as_labelled(records)
    keys = [item.problem.id for item in items]
    aligned = check_scores(keys, [len(item.solution.steps) for item in items], scores, what="PRMBench record")
    per_category: dict[str, dict[str, int]] = {}
    total = {"tp": 0, "fp": 0, "tn": 0, "fn": 0, "num_samples": 0}
    for key, item, row in zip(keys, items, aligned):
        counts = confusion(item.labels.labels, row, threshold, key)  # type: ignore[union-attr]
        name = _classification(item)
        bucket = per_category.setdefault(name, {"tp": 0, "fp": 0, "tn": 0, "fn": 0, "num_samples": 0})
        targets = [bucket] if name == CORRECT_CLASSIFICATION else [bucket, total]
        for target in targets:
            for field, value in counts.items():
                target[field] += value
            target["num_samples"] += 1
    categories = {name: {**scores_from_confusion(c), **c} for name, c in per_category.items()}
    return {**scores_from_confusion(total), **total, "categories": categories, "threshold": threshold}


def evaluate_scorer(
    records: Sequence[LabelledSolution | Mapping[str, Any]],
    scorer: Any,
    threshold: float = 0.5,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the records' steps with a :class:`~prmkit.models.Scorer` (batched), then :func:`evaluate`.

    The result also holds ``"scores"`` ({key: step scores}). Steps without text are not sent to the
    scorer (their score is ``None``; :mod:`prmkit.io.prmbench` leaves them unlabelled).
    """
    items = _as_labelled(records)
    scores = score_labelled(items, scorer, batch_size, "PRMBench", progress, skip_empty=True)
    result = evaluate(items, scores, threshold=threshold)
    result["scores"] = scores
    return result
