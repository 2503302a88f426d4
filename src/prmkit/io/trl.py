"""TRL "stepwise supervision" JSONL: the dataset type TRL's PRM trainer consumed.

Reference: TRL docs, ``docs/source/dataset_formats.md``, section "Stepwise supervision" (standard
format). One JSON object per line::

    {"prompt": "Which number is larger, 9.8 or 9.11?",
     "completions": ["The fractional part of 9.8 is 0.8, while the fractional part of 9.11 is 0.11.",
                     "Since 0.11 is greater than 0.8, the number 9.11 is larger than 9.8."],
     "labels": [true, false]}

* ``prompt`` (str): the problem; ``completions`` (list[str]): the steps, in order; ``labels``
  (list[bool]): whether each step is correct. Other fields are ignored.

Reading gives one :class:`~prmkit.types.LabelledSolution` per line: problem id
``"trl-<sha1 of prompt>"`` (the format has no ids), hard labels 1.0/0.0, ``first_error`` the first
``false`` (-1 if none), ``solution.answer`` extracted from the last step. Writing needs every step
labelled; soft labels are binarised at ``threshold`` (lossy).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from prmkit.answers import extract_answer
from prmkit.io._jsonl import FormatError, atomic_writer, read_jsonl, require
from prmkit.io._records import describe, hard_labels, problem_id, require_labels
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels, first_error_from_labels

__all__ = ["read", "write"]


def read(path: str | os.PathLike[str]) -> Iterator[LabelledSolution]:
    """Yield one labelled solution per record of a TRL stepwise-supervision JSONL file.

    Raises:
        FormatError: a line is not JSON, a field is missing or mistyped, a step is empty, or the
            numbers of completions and labels differ (the message names file, line and field).
    """
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        prompt = require(record, "prompt", str, where)
        completions = require(record, "completions", list, where)
        flags = require(record, "labels", list, where)
        if not completions:
            raise FormatError(f"{where}: field 'completions' is empty; a solution needs at least one step")
        if len(completions) != len(flags):
            raise FormatError(f"{where}: {len(completions)} completions but {len(flags)} labels; they must pair up")
        for i, (step, flag) in enumerate(zip(completions, flags, strict=True)):
            if not isinstance(step, str) or not step.strip():
                raise FormatError(f"{where}: field 'completions'[{i}] is empty or not a string: {step!r:.80}")
            if not isinstance(flag, bool):
                raise FormatError(f"{where}: field 'labels'[{i}] should be true/false, got {flag!r}")
        labels: list[float | None] = [1.0 if flag else 0.0 for flag in flags]
        yield LabelledSolution(
            problem=Problem(id=problem_id("trl", prompt), question=prompt),
            solution=Solution(
                problem_id=problem_id("trl", prompt),
                steps=list(completions),
                answer=extract_answer(completions[-1]),
            ),
            labels=StepLabels(labels=labels, first_error=first_error_from_labels(labels)),
        )


def write(path: str | os.PathLike[str], records: Iterable[LabelledSolution], *, threshold: float = 0.5) -> int:
    """Write labelled solutions as TRL stepwise-supervision JSONL (atomically); return the count.

    Args:
        path: output file.
        records: solutions with a label for every step.
        threshold: a step is ``true`` when its label is ``>= threshold``.

    Raises:
        FormatError: a record has no labels or an unknown (``None``) step label; nothing is left at
            ``path`` in that case.
    """
    count = 0
    with atomic_writer(path) as handle:
        for index, record in enumerate(records):
            labels = require_labels(record, index, "trl")
            row = {
                "prompt": record.problem.question,
                "completions": list(record.solution.steps),
                "labels": hard_labels(labels, threshold, describe(record, index)),
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
