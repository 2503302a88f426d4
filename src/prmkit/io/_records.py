"""Helpers shared by the dataset readers/writers: content-derived ids and label binarisation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from prmkit.io._jsonl import FormatError
from prmkit.types import LabelledSolution

__all__ = ["problem_id", "hard_labels", "require_labels", "describe"]


def problem_id(prefix: str, question: str) -> str:
    """A stable id for a dataset without ids: ``"<prefix>-<first 12 hex of sha1(question)>"``.

    Every solution to the same question gets the same problem id, whatever file or line it is on.
    """
    return f"{prefix}-{hashlib.sha1(question.encode('utf-8')).hexdigest()[:12]}"


def describe(record: LabelledSolution, index: int) -> str:
    """``"record 3 (problem 'gsm8k-test-2')"``: how writers name a record in an error."""
    return f"record {index} (problem {record.problem.id!r})"


def require_labels(record: LabelledSolution, index: int, fmt: str) -> list[float | None]:
    """The record's step labels, checked to be present and one per step.

    Raises:
        FormatError: the record has no labels or a different number of labels than steps.
    """
    if record.labels is None:
        raise FormatError(
            f"{describe(record, index)}: has no step labels, but the {fmt} format needs one per step; "
            "label it first (prmkit annotate) or write it as 'prmkit' or 'gsm8k'"
        )
    labels = record.labels.labels
    if len(labels) != len(record.solution.steps):
        raise FormatError(
            f"{describe(record, index)}: {len(labels)} labels for {len(record.solution.steps)} steps"
        )
    return labels


def hard_labels(labels: Sequence[float | None], threshold: float, where: str) -> list[bool]:
    """Labels as booleans: ``label >= threshold`` (soft MC labels become hard ones; lossy).

    Raises:
        FormatError: a label is unknown (``None``); the message names the step.
    """
    out = []
    for i, value in enumerate(labels):
        if value is None:
            raise FormatError(f"{where}: step {i} has an unknown label (None); this format needs every step labelled")
        out.append(value >= threshold)
    return out
