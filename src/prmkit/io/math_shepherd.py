"""Math-Shepherd JSONL (Hugging Face dataset ``peiyi9979/Math-Shepherd``, Wang et al. 2023).

Reference: the dataset card of peiyi9979/Math-Shepherd, and TRL's conversion script
``examples/datasets/math_shepherd.py`` (which this reader agrees with). One object per line::

    {"input": "<question> Step 1: <step 1> ки\\nStep 2: <step 2> ки\\n...Step n: ... The answer is: 52 ки",
     "label": "<question> Step 1: <step 1> +\\nStep 2: <step 2> -\\n...Step n: ... The answer is: 52 -",
     "task": "GSM8K"}

* ``input`` (str): the question, one space, then the steps, each followed by the step tag
  ``" ки"``; steps are separated by newlines and start with ``Step k:``.
* ``label`` (str, optional here): the same text with each ``ки`` replaced by ``+`` (the step can
  still reach the gold answer: MC "hard estimation") or ``-``.
* ``task`` (str, optional): ``"GSM8K"`` or ``"MATH"``; kept in ``problem.meta["task"]``.

Reading: the text before the first tag holds the question and step 1; they are split at the first
``Step 1:`` (any case), else after the last ``?`` (as TRL does). Steps keep their ``Step k:``
prefix (TRL's ``trl-lib/math_shepherd`` keeps it too). Labels are 1.0 (``+``) / 0.0 (``-``),
``source="mc"``; ``first_error`` is the first ``-``; ``solution.correct`` is the last step's label
(the last step's estimate is whether the solution itself reaches the gold answer). Records
without ``label`` get ``labels=None``. Problem ids are ``"math-shepherd-<sha1 of question>"``.

Writing adds ``Step k: `` to steps that lack it and binarises soft labels at ``threshold``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator

from prmkit.answers import extract_answer
from prmkit.io._jsonl import FormatError, atomic_writer, read_jsonl, require
from prmkit.io._records import describe, hard_labels, problem_id, require_labels
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels, first_error_from_labels

__all__ = ["STEP_TAG", "read", "write", "parse_record"]

#: The step tag: the position at which the Math-Shepherd PRM predicts "+" or "-".
STEP_TAG = "ки"
_FIRST_STEP = re.compile(r"step\s*1\s*:", re.IGNORECASE)
_STEP_PREFIX = re.compile(r"\s*step\s*\d+\s*:", re.IGNORECASE)


def _split_question(head: str, where: str) -> tuple[str, str]:
    """Split the text before the first tag into (question, step 1)."""
    marker = _FIRST_STEP.search(head)
    if marker:
        question, first = head[: marker.start()], head[marker.start() :]
    elif "?" in head and head.rsplit("?", 1)[1].strip():
        question, first = head.rsplit("?", 1)
        question += "?"
    else:
        raise FormatError(
            f"{where}: field 'input': cannot tell the question from step 1 (no 'Step 1:' marker and no '?' "
            f"before the first step tag {STEP_TAG!r}): {head!r:.120}"
        )
    if not question.strip() or not first.strip():
        raise FormatError(f"{where}: field 'input': empty question or empty step 1 in {head!r:.120}")
    return question.strip(), first.strip()


def parse_record(record: dict, where: str) -> LabelledSolution:
    """Turn one Math-Shepherd record into a labelled solution (see the module docstring).

    Args:
        record: the decoded JSON object.
        where: ``"file:line"`` for error messages.

    Raises:
        FormatError: no step tag, a label character that is not ``+``/``-`` where ``input`` has a
            tag, an empty step, or text after the last tag.
    """
    text = require(record, "input", str, where)
    label_text = record.get("label")
    if label_text is not None and not isinstance(label_text, str):
        raise FormatError(f"{where}: field 'label' should be str, got {type(label_text).__name__}")
    pieces = text.split(STEP_TAG)
    if len(pieces) < 2:
        raise FormatError(f"{where}: field 'input' has no step tag {STEP_TAG!r}; every step must end with ' {STEP_TAG}'")
    if pieces[-1].strip():
        raise FormatError(f"{where}: field 'input' has text after the last step tag: {pieces[-1]!r:.80}")
    question, first = _split_question(pieces[0], where)
    steps = [first] + [piece.strip() for piece in pieces[1:-1]]
    for k, step in enumerate(steps):
        if not step:
            raise FormatError(f"{where}: field 'input': step {k} is empty (two step tags with nothing between)")
    labels = None
    correct = None
    if label_text is not None:
        # "ки" (2 chars) became "+"/"-" (1 char): the i-th tag at input index p sits at label index p - i.
        flags, position = [], 0
        for i, piece in enumerate(pieces[:-1]):
            position += len(piece)
            at = position - i
            mark = label_text[at] if at < len(label_text) else ""
            if mark not in ("+", "-"):
                raise FormatError(
                    f"{where}: field 'label': expected '+' or '-' for step {i} at character {at} (where 'input' "
                    f"has {STEP_TAG!r}), found {mark!r}; 'label' must be 'input' with each tag replaced"
                )
            flags.append(mark == "+")
            position += len(STEP_TAG)
        values: list[float | None] = [1.0 if flag else 0.0 for flag in flags]
        labels = StepLabels(labels=values, first_error=first_error_from_labels(values), source="mc")
        correct = flags[-1]
    meta = {"task": record["task"]} if isinstance(record.get("task"), str) else {}
    pid = problem_id("math-shepherd", question)
    return LabelledSolution(
        problem=Problem(id=pid, question=question, meta=meta),
        solution=Solution(problem_id=pid, steps=steps, answer=extract_answer(steps[-1]), correct=correct),
        labels=labels,
    )


def read(path: str | os.PathLike[str]) -> Iterator[LabelledSolution]:
    """Yield one labelled solution per line of a Math-Shepherd JSONL file.

    Raises:
        FormatError: see :func:`parse_record`; the message names file, line and field.
    """
    for line, record in read_jsonl(path):
        yield parse_record(record, f"{path}:{line}")


def _with_prefix(step: str, k: int) -> str:
    return step.strip() if _STEP_PREFIX.match(step) else f"Step {k}: {step.strip()}"


def write(path: str | os.PathLike[str], records: Iterable[LabelledSolution], *, threshold: float = 0.5) -> int:
    """Write labelled solutions as Math-Shepherd JSONL (atomically); return the count.

    Args:
        path: output file.
        records: solutions with a label for every step.
        threshold: ``+`` when a step's label is ``>= threshold``, else ``-``.

    Raises:
        FormatError: a record lacks labels, has an unknown label, or has the step tag ``ки`` inside
            its question or a step (the output would not parse back).
    """
    count = 0
    with atomic_writer(path) as handle:
        for index, record in enumerate(records):
            where = describe(record, index)
            flags = hard_labels(require_labels(record, index, "math-shepherd"), threshold, where)
            steps = [_with_prefix(step, k) for k, step in enumerate(record.solution.steps, 1)]
            if STEP_TAG in record.problem.question or any(STEP_TAG in step for step in steps):
                raise FormatError(f"{where}: the question or a step contains the step tag {STEP_TAG!r}")
            if _FIRST_STEP.search(record.problem.question):
                raise FormatError(f"{where}: the question contains 'Step 1:', so it could not be told from step 1")
            head = record.problem.question.strip() + " "
            row = {
                "input": head + "\n".join(f"{step} {STEP_TAG}" for step in steps),
                "label": head + "\n".join(f"{step} {'+' if ok else '-'}" for step, ok in zip(steps, flags, strict=True)),
            }
            if "task" in record.problem.meta:
                row["task"] = record.problem.meta["task"]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
