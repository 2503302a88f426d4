"""Read PRMBench phase-1 test files (Song et al., 2025; github ssmisya/PRMBench,
``mr_eval/tasks/prmtest_classified/data/prm800k_test_p1_4o_<category>.jsonl``).

Each JSONL line is one modified solution with injected errors of one category::

    {"idx": "prm_test_p1_62", "classification": "circular",
     "modified_question": "...", "modified_process": ["1. ...", ...], "error_steps": [3, 4, 5],
     "original_question": "...", "original_process": [...], "modified_steps": [...], "reason": "..."}

``error_steps`` are **1-based**. PRMBench labels every erroneous step (not only the first), so the
labels are 0.0 at each error step and 1.0 at every other step, and ``first_error`` is the smallest
0-based error index.

Error steps beyond the step count: a few records (e.g. ``missing_condition`` idx
``prm_test_p1_47``: 10 steps, ``error_steps`` [15]) list steps that do not exist. The official
scorer loops over the predicted step labels, so it never reaches those steps; they are kept
loadable here with the same effect: out-of-range error steps get no label (the original list
stays in ``solution.meta["error_steps"]``), and when *every* error step is out of range
``first_error`` is ``None`` (unknown) — the official ``first_error_acc`` skips such records too.

Empty steps: one shipped record (``deception`` idx ``prm_test_p1_87``, file line 73, step 16) has
a modified step with no text. No PRM input format can mark an empty step, and there is nothing in it
to judge, so it gets no label (``None``) and is not counted, like an out-of-range error step; with
``--model`` it is not sent to the scorer and its score is ``None``. The rest of the record counts.

``idx`` alone is not unique across categories (the same source problem is modified once per
category); records are keyed by ``"<classification>_<idx>"``, the official scorer's key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prmkit.io._jsonl import FormatError, read_jsonl, require
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["read_prmbench", "prmbench_record", "prmbench_key", "CORRECT_CLASSIFICATION"]

CORRECT_CLASSIFICATION = "correct"
"""Category of the unmodified solutions the official loader adds (from ``redundency`` records)."""


def prmbench_key(classification: str, idx: str) -> str:
    """The unique key of a PRMBench record, ``"<classification>_<idx>"`` (as in the official scorer)."""
    return f"{classification}_{idx}"


def _steps(record: Mapping[str, Any], field: str, where: str) -> list[str]:
    steps = require(record, field, list, where)
    if not steps or not all(isinstance(step, str) for step in steps):
        raise FormatError(f"{where}: field {field!r} must be a non-empty list of strings")
    return list(steps)


def prmbench_record(record: Mapping[str, Any], where: str = "record") -> LabelledSolution:
    """Convert one raw PRMBench record (its ``modified_process``) into a labelled solution.

    Args:
        record: a raw PRMBench line (fields ``idx, classification, modified_question,
            modified_process, error_steps``).
        where: location for error messages, e.g. ``"file.jsonl:12"``.

    Returns:
        ``problem.id`` = ``solution.problem_id`` = ``"<classification>_<idx>"``;
        ``solution.meta`` = ``{"idx", "classification", "error_steps" (1-based, as in the file)}``;
        labels 0.0 at in-range error steps, 1.0 elsewhere; ``first_error`` = smallest in-range
        0-based error index (``None`` when all error steps are out of range); ``source="human"``.

    Raises:
        FormatError: a field is missing or has the wrong type, or an error step is not an int >= 1.
    """
    idx = require(record, "idx", (str, int), where)
    classification = require(record, "classification", str, where)
    where = f"{where} (idx {idx!r}, classification {classification!r})"
    question = require(record, "modified_question", str, where)
    steps = _steps(record, "modified_process", where)
    error_steps = require(record, "error_steps", list, where)
    for step in error_steps:
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise FormatError(f"{where}: field 'error_steps' holds {step!r}; entries must be 1-based step numbers >= 1")
    in_range = sorted({step - 1 for step in error_steps if step <= len(steps)})
    labels: list[float | None] = [None if not step.strip() else 1.0 for step in steps]  # empty: not graded
    for index in in_range:
        labels[index] = None if not steps[index].strip() else 0.0
    if not error_steps:
        first_error: int | None = -1
    else:
        first_error = min(error_steps) - 1 if min(error_steps) <= len(steps) else None
    key = prmbench_key(classification, str(idx))
    meta = {"idx": str(idx), "classification": classification, "error_steps": list(error_steps)}
    return LabelledSolution(
        problem=Problem(id=key, question=question, meta={"idx": str(idx), "classification": classification}),
        solution=Solution(problem_id=key, steps=steps, meta=meta),
        labels=StepLabels(labels=labels, first_error=first_error, source="human"),
    )


def _correct_record(record: Mapping[str, Any], where: str) -> LabelledSolution:
    """The unmodified solution of a record as an all-correct ``"correct"``-category sample."""
    idx = str(require(record, "idx", (str, int), where))
    question = require(record, "original_question", str, where)
    steps = _steps(record, "original_process", where)
    key = prmbench_key(CORRECT_CLASSIFICATION, idx)
    meta = {"idx": idx, "classification": CORRECT_CLASSIFICATION, "error_steps": []}
    return LabelledSolution(
        problem=Problem(id=key, question=question, meta={"idx": idx, "classification": CORRECT_CLASSIFICATION}),
        solution=Solution(problem_id=key, steps=steps, correct=True, meta=meta),
        labels=StepLabels(labels=[1.0] * len(steps), first_error=-1, source="human"),
    )


def read_prmbench(
    *paths: str | os.PathLike[str], include_correct: bool = False
) -> list[LabelledSolution]:
    """Read one or more PRMBench JSONL files, in order.

    Like the official loader, a record whose ``"<classification>_<idx>"`` key was already read is
    skipped (first occurrence wins).

    Args:
        paths: PRMBench JSONL files (e.g. all of ``../shared/data/prmbench/*.jsonl``).
        include_correct: also add, like the official loader, the unmodified ``original_process``
            of every ``redundency`` record once per ``idx`` as a ``"correct"``-category sample with
            no error steps (key ``"correct_<idx>"``).

    Returns:
        Labelled solutions (see :func:`prmbench_record`).

    Raises:
        FormatError: a line is not JSON or a record is malformed (names file, line and field).
    """
    out: list[LabelledSolution] = []
    seen: set[str] = set()
    for path in paths:
        for line, record in read_jsonl(path):
            where = f"{path}:{line}"
            item = prmbench_record(record, where)
            if include_correct and item.solution.meta["classification"] == "redundency":
                correct_key = prmbench_key(CORRECT_CLASSIFICATION, item.solution.meta["idx"])
                if correct_key not in seen:
                    seen.add(correct_key)
                    out.append(_correct_record(record, where))
            if item.problem.id in seen:
                continue
            seen.add(item.problem.id)
            out.append(item)
    return out
