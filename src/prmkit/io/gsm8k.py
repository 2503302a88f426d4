"""GSM8K JSONL (Cobbe et al. 2021, github openai/grade-school-math): reference solutions and the
example model solutions released with it.

Reference solutions (``train.jsonl`` / ``test.jsonl``), one object per line::

    {"question": "Janet's ducks lay 16 eggs per day. ...",
     "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\\nShe makes 9 * 2 = $<<9*2=18>>18 ...\\n#### 18"}

* ``answer``: one reasoning step per line, ``<<a=b>>`` calculator notes, then ``#### N``.

:func:`read` yields one solution per record: steps = the lines before ``#### N`` with calculator
notes removed; ``problem.answer`` = ``N`` without thousands commas (as the official
``extract_answer`` does); ``solution.correct = True``; ``labels = None`` (GSM8K has no step labels).
Problem ids are ``"<id_prefix>-<0-based record index>"`` with ``id_prefix`` defaulting to
``"gsm8k-<file stem>"`` (``"gsm8k-test-17"``). :func:`write` writes the same schema back.

Example model solutions (``example_model_solutions.jsonl``), one object per test problem::

    {"question": "...", "ground_truth": "<reference steps>\\nA: 18",
     "6b_finetuning": {"is_correct": false, "solution": "...\\nA: 26"}, "175b_verification": {...}, ...}

:func:`read_model_solutions` yields one solution per model key (every field whose value is an
object with ``solution`` and ``is_correct``): steps = the solution's lines (calculator notes
removed; the final ``A: N`` line is kept, it is what the model wrote), ``solution.answer`` =
the extracted ``N``, ``solution.correct = is_correct``, ``solution.meta["model"]`` = the key.
The file is in test-set order, so ids default to ``"gsm8k-test-<index>"``, the same ids
:func:`read` gives ``test.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from prmkit.answers import extract_answer
from prmkit.io._jsonl import FormatError, atomic_writer, read_jsonl, require
from prmkit.io._records import describe
from prmkit.steps import split_steps
from prmkit.types import LabelledSolution, Problem, Solution

__all__ = ["read", "write", "read_model_solutions", "remove_calculator_notes"]

_NOTE = re.compile(r"<<[^<>]*>>")


def remove_calculator_notes(text: str) -> str:
    """Drop GSM8K's ``<<16-3-4=9>>`` calculator annotations (the result after them stays)."""
    return _NOTE.sub("", text)


def _steps(text: str, keep_notes: bool) -> list[str]:
    return split_steps(text if keep_notes else remove_calculator_notes(text), "\n")


def read(
    path: str | os.PathLike[str], *, id_prefix: str | None = None, keep_calculator_notes: bool = False
) -> Iterator[LabelledSolution]:
    """Yield the reference solution of every problem in a GSM8K ``question``/``answer`` file.

    Args:
        path: ``train.jsonl`` / ``test.jsonl`` or a file of the same schema.
        id_prefix: problem ids are ``f"{id_prefix}-{index}"``; default ``"gsm8k-<file stem>"``.
        keep_calculator_notes: keep the ``<<a=b>>`` notes in the steps.

    Raises:
        FormatError: a field is missing/mistyped, or ``answer`` has no ``#### N`` line or no steps.
    """
    prefix = id_prefix or f"gsm8k-{Path(path).stem}"
    for index, (line, record) in enumerate(read_jsonl(path)):
        where = f"{path}:{line}"
        question = require(record, "question", str, where)
        answer = require(record, "answer", str, where)
        if "####" not in answer:
            raise FormatError(f"{where}: field 'answer' has no '#### N' final-answer line: {answer[-80:]!r}")
        body, gold = answer.rsplit("####", 1)
        gold = gold.strip().replace(",", "")
        steps = _steps(body, keep_calculator_notes)
        if not gold or not steps:
            raise FormatError(f"{where}: field 'answer' has an empty final answer or no steps before '####'")
        pid = f"{prefix}-{index}"
        yield LabelledSolution(
            problem=Problem(id=pid, question=question, answer=gold),
            solution=Solution(problem_id=pid, steps=steps, answer=gold, correct=True),
        )


def write(path: str | os.PathLike[str], records: Iterable[LabelledSolution]) -> int:
    """Write solutions as GSM8K ``question``/``answer`` JSONL (steps one per line, then ``#### N``).

    Step labels are not part of the format and are dropped. ``N`` is the problem's gold answer.

    Raises:
        FormatError: a record's problem has no gold answer (``problem.answer is None``), or its
            solution is marked incorrect (GSM8K answers are correct reference solutions).
    """
    count = 0
    with atomic_writer(path) as handle:
        for index, record in enumerate(records):
            if record.problem.answer is None:
                raise FormatError(
                    f"{describe(record, index)}: problem.answer is None; GSM8K needs the gold answer for '#### N'"
                )
            if record.solution.correct is False:
                raise FormatError(
                    f"{describe(record, index)}: the solution is marked incorrect, but GSM8K's 'answer' holds a "
                    "correct reference solution; keep model solutions in the 'prmkit' format"
                )
            body = "\n".join(step.strip() for step in record.solution.steps)
            row = {"question": record.problem.question, "answer": f"{body}\n#### {record.problem.answer}"}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_model_solutions(
    path: str | os.PathLike[str], *, id_prefix: str = "gsm8k-test", keep_calculator_notes: bool = False
) -> Iterator[LabelledSolution]:
    """Yield every model solution in GSM8K's ``example_model_solutions.jsonl`` (4 per problem there).

    Args:
        path: the file.
        id_prefix: problem ids are ``f"{id_prefix}-{index}"`` (the file is in test-set order).
        keep_calculator_notes: keep the ``<<a=b>>`` notes in the steps.

    Raises:
        FormatError: ``question``/``ground_truth`` missing, no ``A: N``/``#### N`` in
            ``ground_truth``, or a model entry without a str ``solution`` / bool ``is_correct``.
    """
    for index, (line, record) in enumerate(read_jsonl(path)):
        where = f"{path}:{line}"
        question = require(record, "question", str, where)
        truth = require(record, "ground_truth", str, where)
        gold = extract_answer(truth)
        if gold is None:
            raise FormatError(f"{where}: field 'ground_truth' has no final 'A: N' (or '#### N') line")
        pid = f"{id_prefix}-{index}"
        models = [key for key, value in record.items() if isinstance(value, dict)]
        if not models:
            raise FormatError(f"{where}: no model entries (objects with 'solution' and 'is_correct') in {sorted(record)}")
        for model in models:
            entry = record[model]
            text = require(entry, "solution", str, f"{where}: field {model!r}")
            correct = require(entry, "is_correct", bool, f"{where}: field {model!r}")
            yield LabelledSolution(
                problem=Problem(id=pid, question=question, answer=gold.replace(",", "")),
                solution=Solution(
                    problem_id=pid,
                    steps=_steps(text, keep_calculator_notes),
                    answer=extract_answer(text),
                    correct=correct,
                    meta={"model": model},
                ),
            )
