"""Step-level metrics for any step-labelled set (human, MC, exact labels): AUROC, F1, calibration,
first-error accuracy — the :mod:`prmkit.metrics` math applied to :class:`~prmkit.types.LabelledSolution` records.

Steps whose label or score is ``None`` (e.g. ProcessBench steps after the first error) are skipped.
Unlike the benchmark modules, values here are fractions in [0, 1] (NaN where undefined).

Example:
    >>> from prmkit.types import LabelledSolution, Problem, Solution, StepLabels
    >>> item = LabelledSolution(Problem("p", "q"), Solution("p", ["a", "b"]), StepLabels([1.0, 0.0], first_error=1))
    >>> evaluate([item], [[0.8, 0.3]])["auroc"]
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prmkit.evaluate._scoring import check_scores
from prmkit.io.solutions import record_key, unique_keys
from prmkit.metrics import auroc, expected_calibration_error, f1_at_threshold, first_error_prediction
from prmkit.types import LabelledSolution

__all__ = ["evaluate", "record_key", "record_keys", "unique_keys"]


def record_keys(records: Sequence[LabelledSolution]) -> list[str]:
    """:func:`record_key` of each record, repeated ones numbered by :func:`unique_keys`."""
    return unique_keys([record_key(item) for item in records])


def evaluate(
    records: Sequence[LabelledSolution],
    scores: Mapping[str, Sequence[float | None]] | Sequence[Sequence[float | None]],
    threshold: float = 0.5,
    bins: int = 10,
) -> dict[str, Any]:
    """Step metrics of per-step scores against step labels.

    Args:
        records: labelled solutions (``labels`` must be set).
        scores: a mapping :func:`record_key` -> one score per step, or a list aligned with ``records``.
        threshold: scores >= threshold are predicted correct (and the first step below it is the
            predicted first error).
        bins: calibration bins.

    Returns:
        ``{"auroc", "f1", "negative_f1", "ece", "first_error_acc", "num_steps", "num_solutions",
        "num_first_error"}``, the rates in percent (ECE in percentage points): ``f1`` for correct
        steps, ``negative_f1`` for wrong steps, ``first_error_acc`` = share of solutions with a known
        first error whose predicted first error (-1 = none) equals it; ``nan`` where undefined.

    Raises:
        ValueError: a record without labels, duplicate keys with a mapping, or missing/mis-sized scores.
    """
    keys = []
    for item in records:
        if item.labels is None:
            raise ValueError(f"record {record_key(item)!r} has no step labels")
        if len(item.labels.labels) != len(item.solution.steps):
            raise ValueError(
                f"record {record_key(item)!r} has {len(item.solution.steps)} steps but {len(item.labels.labels)} "
                "labels; give one label per step (None when unknown)"
            )
        keys.append(record_key(item))
    if isinstance(scores, Mapping) and len(set(keys)) != len(keys):
        raise ValueError(
            "several records share a key; set solution.meta['id'] to a unique id per solution "
            "or pass scores as a list aligned with the records"
        )
    aligned = check_scores(keys, [len(item.solution.steps) for item in records], scores, what="solution")
    labels_flat: list[float | None] = []
    scores_flat: list[float | None] = []
    hits, known = 0, 0
    for item, row in zip(records, aligned):
        labels_flat.extend(item.labels.labels)  # type: ignore[union-attr]
        scores_flat.extend(row)
        gold = item.labels.first_error  # type: ignore[union-attr]
        if gold is not None:
            known += 1
            hits += first_error_prediction(row, threshold) == gold
    steps = sum(1 for y, s in zip(labels_flat, scores_flat) if y is not None and s is not None)
    return {  # percent, like every rate prmkit reports
        "auroc": 100 * auroc(labels_flat, scores_flat),
        "f1": 100 * f1_at_threshold(labels_flat, scores_flat, threshold),
        "negative_f1": 100 * f1_at_threshold(labels_flat, scores_flat, threshold, positive=0),
        "ece": 100 * expected_calibration_error(labels_flat, scores_flat, bins),
        "first_error_acc": 100 * hits / known if known else math.nan,
        "num_steps": steps,
        "num_solutions": len(records),
        "num_first_error": known,
    }
