"""Read the ProcessBench test sets (Zheng et al., 2024; github QwenLM/ProcessBench, HF Qwen/ProcessBench).

A ProcessBench file is a JSON list (the GitHub ``dataset/*.json``) — JSONL (one record per line, as
exported from the Hugging Face dataset) is read too. Each record is::

    {"id": "gsm8k-0", "generator": "Qwen2-7B-Instruct", "problem": "...", "steps": ["...", ...],
     "final_answer_correct": false, "label": 1}

``label`` is the 0-based index of the earliest wrong step, or -1 when every step is right. Steps
after the earliest error are not judged by the annotators, so their labels are unknown (``None``).
The subset of a record ("gsm8k", "math", "olympiadbench", "omnimath") is its id without the
trailing ``-<number>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prmkit.io._jsonl import FormatError, read_jsonl, require
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["read_processbench", "processbench_record", "subset_of"]


def subset_of(record_id: str) -> str:
    """The subset a ProcessBench id belongs to: ``"gsm8k-17"`` -> ``"gsm8k"`` (id without ``-<n>``).

    An id without a ``-<number>`` suffix is its own subset name.
    """
    head, sep, tail = record_id.rpartition("-")
    return head if sep and head and tail.isdigit() else record_id


def processbench_record(record: Mapping[str, Any], where: str = "record") -> LabelledSolution:
    """Convert one raw ProcessBench record into a :class:`~prmkit.types.LabelledSolution`.

    Args:
        record: a raw record (fields ``id, problem, steps, label``; ``generator`` and
            ``final_answer_correct`` are optional).
        where: a location for error messages, e.g. ``"gsm8k.json:record 12"``.

    Returns:
        ``problem.id`` = ``solution.problem_id`` = the record id; ``solution.correct`` =
        ``final_answer_correct``; ``solution.meta`` holds ``generator`` and ``subset``; labels =
        ``[1.0] * label + [0.0] + [None] * rest`` (all 1.0 for label -1), ``first_error`` = label,
        ``source = "human"``.

    Raises:
        FormatError: a field is missing or of the wrong type, there are no steps, or ``label`` is
            not -1 or a step index.
    """
    record_id = require(record, "id", str, where)
    where = f"{where} (id {record_id!r})"
    question = require(record, "problem", str, where)
    steps = require(record, "steps", list, where)
    label = require(record, "label", int, where)
    if not steps or not all(isinstance(step, str) for step in steps):
        raise FormatError(f"{where}: field 'steps' must be a non-empty list of strings")
    if isinstance(label, bool) or not -1 <= label < len(steps):
        raise FormatError(
            f"{where}: field 'label' = {label!r} must be -1 (no error) or a step index 0..{len(steps) - 1}"
        )
    if label == -1:
        labels: list[float | None] = [1.0] * len(steps)
    else:
        labels = [1.0] * label + [0.0] + [None] * (len(steps) - label - 1)
    correct = record.get("final_answer_correct")
    subset = subset_of(record_id)
    return LabelledSolution(
        problem=Problem(id=record_id, question=question, meta={"subset": subset}),
        solution=Solution(
            problem_id=record_id,
            steps=list(steps),
            correct=correct if isinstance(correct, bool) else None,
            meta={"generator": record.get("generator"), "subset": subset},
        ),
        labels=StepLabels(labels=labels, first_error=label, source="human"),
    )


def read_processbench(path: str | os.PathLike[str]) -> list[LabelledSolution]:
    """Read a ProcessBench file (JSON list, or JSONL) into labelled solutions, in file order.

    Args:
        path: e.g. ``../shared/data/processbench/gsm8k.json``.

    Returns:
        One :class:`~prmkit.types.LabelledSolution` per record (see :func:`processbench_record`).

    Raises:
        FormatError: the file is not a JSON list / JSONL of objects, a record is malformed, or an
            id occurs twice (the metric matches scores to records by id).

    Example:
        >>> records = read_processbench("../shared/data/processbench/gsm8k.json")  # doctest: +SKIP
        >>> records[0].labels.first_error, len(records)  # doctest: +SKIP
        (1, 400)
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        raw = [(f"{path}:{line}", record) for line, record in read_jsonl(path)]
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise FormatError(f"{path}: invalid JSON ({err.msg} at line {err.lineno}); expected a JSON list") from None
        if not isinstance(data, list):
            raise FormatError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
        raw = []
        for i, record in enumerate(data):
            if not isinstance(record, dict):
                raise FormatError(f"{path}: record {i} should be an object, got {type(record).__name__}")
            raw.append((f"{path}:record {i}", record))
    out: list[LabelledSolution] = []
    seen: dict[str, str] = {}
    for where, record in raw:
        item = processbench_record(record, where)
        if item.problem.id in seen:
            raise FormatError(f"{where}: id {item.problem.id!r} already used at {seen[item.problem.id]}")
        seen[item.problem.id] = where
        out.append(item)
    return out
