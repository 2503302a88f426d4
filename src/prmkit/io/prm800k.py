"""PRM800K JSONL (Lightman et al. 2023, "Let's Verify Step by Step", github openai/prm800k).

Reference: the annotated record in the openai/prm800k README. The fields prmkit uses, per line::

    {"question": {"problem": "What is ...?", "ground_truth_answer": "40,\\\\!000", ...},
     "label": {"steps": [{"completions": [{"text": "...", "rating": 0, "flagged": null}, ...],
                          "human_completion": null,
                          "chosen_completion": 0},
                         ...],
               "finish_reason": "found_error"},      # or "solution", "bad_problem", "give_up"
     "labeler": "...", "generation": 9, ...}

* Each ``label.steps[k]`` lists one or more candidate ``completions`` for step k, each rated
  -1 (wrong), 0 (neutral: not wrong, no progress) or +1 (good), or ``null`` (unrated).
* ``chosen_completion`` is the index of the candidate the trajectory continued with, or ``null``
  when a labeler-written ``human_completion`` (a +1 step; phase 1) was used instead, or when the
  labelling stopped at this step.

Reading follows the chosen path, one :class:`~prmkit.types.LabelledSolution` per line: at each
step the chosen candidate (or the human completion, label 1.0); at a step with neither, the
trajectory ends there, taking the first candidate rated -1 as its last (wrong) step if there is
one. Ratings become labels +1 -> 1.0, -1 -> 0.0, 0 -> ``neutral`` (default 1.0: neutral steps
count as correct, as PRMs trained on PRM800K usually treat them; pass 0.0 or 0.5 to change),
``null`` -> ``None``. ``first_error`` is the first step rated -1 (-1 if none; ``None`` if an
unrated step comes first), ``source="human"``. ``problem.answer`` = ``ground_truth_answer``;
``solution.answer`` is extracted from the last step (``# Answer`` block);
``solution.correct = True`` when ``finish_reason == "solution"``, else ``None``;
``solution.meta["finish_reason"]`` keeps the reason. Records with no labelled step are skipped.
Problem ids are ``"prm800k-<sha1 of problem>"``.

Writing emits one candidate per step (``chosen_completion: 0``), rating 1 when the label is
``>= threshold``, -1 below it and ``null`` when unknown (lossy for neutral and soft labels), and
``finish_reason`` from ``solution.meta`` or else ``"found_error"`` / ``"solution"`` / ``"give_up"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from prmkit.answers import extract_answer
from prmkit.io._jsonl import FormatError, atomic_writer, read_jsonl, require
from prmkit.io._records import problem_id, require_labels
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["read", "write"]

_RATINGS = (-1, 0, 1, None)


def _rating(completion: dict[str, Any], where: str) -> int | None:
    rating = completion.get("rating")
    if rating not in _RATINGS or isinstance(rating, bool):
        raise FormatError(f"{where}: field 'rating' should be -1, 0, 1 or null, got {rating!r}")
    return rating


def _path(steps: list[Any], where: str) -> list[tuple[str, int | None]]:
    """(text, rating) along the chosen path; a human completion counts as rating +1."""
    path: list[tuple[str, int | None]] = []
    for k, step in enumerate(steps):
        at = f"{where}: label.steps[{k}]"
        if not isinstance(step, dict):
            raise FormatError(f"{at} should be an object, got {type(step).__name__}")
        completions = require(step, "completions", list, at)
        chosen = step.get("chosen_completion")
        human = step.get("human_completion")
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            if not 0 <= chosen < len(completions):
                raise FormatError(f"{at}: chosen_completion {chosen} is out of range for {len(completions)} completions")
            candidate = completions[chosen]
            if not isinstance(candidate, dict):
                raise FormatError(f"{at}.completions[{chosen}] should be an object")
            path.append((require(candidate, "text", str, f"{at}.completions[{chosen}]"), _rating(candidate, at)))
        elif chosen is not None:
            raise FormatError(f"{at}: field 'chosen_completion' should be an int or null, got {chosen!r}")
        elif human is not None:
            text = human if isinstance(human, str) else require(human, "text", str, f"{at}.human_completion")
            path.append((text, 1))
        else:  # labelling stopped here: keep the wrong candidate that ended it, if any
            for j, candidate in enumerate(completions):
                if isinstance(candidate, dict) and _rating(candidate, f"{at}.completions[{j}]") == -1:
                    path.append((require(candidate, "text", str, f"{at}.completions[{j}]"), -1))
                    break
            break
    for k, (text, _) in enumerate(path):
        if not text.strip():
            raise FormatError(f"{where}: label.steps[{k}]: the chosen step text is empty")
    return path


def read(path: str | os.PathLike[str], *, neutral: float | None = 1.0) -> Iterator[LabelledSolution]:
    """Yield the chosen-path solution of every PRM800K record, with its human step labels.

    Args:
        path: a PRM800K ``phase{1,2}_{train,test}.jsonl`` file or one of the same schema.
        neutral: the label for a step rated 0 (``1.0``, ``0.0``, ``0.5``, or ``None`` = unknown).

    Raises:
        FormatError: a missing/mistyped field, a rating outside -1/0/1/null, or a
            ``chosen_completion`` out of range (the message names file, line and step).
        ValueError: ``neutral`` is outside [0, 1].
    """
    if neutral is not None and not 0.0 <= neutral <= 1.0:
        raise ValueError(f"prm800k.read: neutral={neutral!r} must be in [0, 1] or None")
    values = {1: 1.0, 0: neutral, -1: 0.0, None: None}
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        question = require(record, "question", dict, where)
        text = require(question, "problem", str, f"{where}: question")
        gold = question.get("ground_truth_answer")
        label = require(record, "label", dict, where)
        finish = label.get("finish_reason")
        path_steps = _path(require(label, "steps", list, f"{where}: label"), where)
        if not path_steps:
            continue
        ratings = [rating for _, rating in path_steps]
        first_error: int | None = -1
        for k, rating in enumerate(ratings):
            if rating is None or rating == -1:
                first_error = None if rating is None else k
                break
        steps = [step for step, _ in path_steps]
        pid = problem_id("prm800k", text)
        yield LabelledSolution(
            problem=Problem(id=pid, question=text, answer=gold if isinstance(gold, str) else None),
            solution=Solution(
                problem_id=pid,
                steps=steps,
                answer=extract_answer(steps[-1]),
                correct=True if finish == "solution" else None,
                meta={"finish_reason": finish} if isinstance(finish, str) else {},
            ),
            labels=StepLabels(labels=[values[r] for r in ratings], first_error=first_error, source="human"),
        )


def write(path: str | os.PathLike[str], records: Iterable[LabelledSolution], *, threshold: float = 0.5) -> int:
    """Write labelled solutions as PRM800K-schema JSONL (atomically); return the count.

    Args:
        path: output file.
        records: solutions with labels (``None`` labels are written as unrated steps).
        threshold: rating +1 when a label is ``>= threshold``, else -1.

    Raises:
        FormatError: a record has no labels.
    """
    count = 0
    with atomic_writer(path) as handle:
        for index, record in enumerate(records):
            labels = require_labels(record, index, "prm800k")
            ratings = [None if value is None else (1 if value >= threshold else -1) for value in labels]
            finish = record.solution.meta.get("finish_reason")
            if not isinstance(finish, str):
                finish = "found_error" if -1 in ratings else ("solution" if record.solution.correct else "give_up")
            row = {
                "question": {"problem": record.problem.question, "ground_truth_answer": record.problem.answer},
                "label": {
                    "steps": [
                        {
                            "completions": [{"text": step, "rating": rating, "flagged": None}],
                            "human_completion": None,
                            "chosen_completion": 0,
                        }
                        for step, rating in zip(record.solution.steps, ratings, strict=True)
                    ],
                    "finish_reason": finish,
                },
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
