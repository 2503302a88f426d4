"""How well automatic labels agree with a task's exact step checker (e.g. arith), per rollout spent.

Both sides are compared as *prefix correctness* (ProcessBench semantics): step ``i`` is "correct"
when no step up to and including ``i`` is wrong. The exact side is 1 before
``task.first_error(problem, steps)`` and 0 from it on. The annotator side is its label binarised at
``threshold``; a ``None`` label after the annotator's own first error counts as 0 (the prefix is
already broken), any other ``None`` is unlabelled and skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prmkit.tasks import Task
from prmkit.types import LabelledSolution

__all__ = ["Agreement", "agreement"]


@dataclass
class Agreement:
    """Agreement of labelled solutions with the exact labels.

    Attributes:
        solutions: labelled solutions whose exact first error is known.
        steps: steps compared.
        step_accuracy: fraction of compared steps where both sides agree.
        first_error_accuracy: fraction of solutions whose located first error (-1 = none) is exact.
        rollouts: rollouts recorded in the solutions' labels.
        unlabelled_steps: steps skipped because the annotator left them unknown.
    """

    solutions: int
    steps: int
    step_accuracy: float
    first_error_accuracy: float
    rollouts: int
    unlabelled_steps: int = 0

    @property
    def rollouts_per_solution(self) -> float:
        return self.rollouts / self.solutions if self.solutions else 0.0


def agreement(task: Task, records: Sequence[LabelledSolution], *, threshold: float = 0.5) -> Agreement:
    """Compare each record's labels with ``task.first_error`` (see the module docstring).

    Args:
        task: a task with an exact ``first_error`` (records it returns ``None`` for are skipped).
        records: labelled solutions (``labels`` must be set).
        threshold: a label ``>= threshold`` means "correct" (hard labels are 0/1; for Math-Shepherd
            soft labels pass a tiny positive value to recover the hard estimate).

    Raises:
        ValueError: a record has no labels, or labels of the wrong length.
    """
    solutions = steps = agree = first_agree = rollouts = unlabelled = 0
    for index, record in enumerate(records):
        labels, n = record.labels, len(record.solution.steps)
        if labels is None or len(labels.labels) != n:
            raise ValueError(
                f"record {index} (problem {record.problem.id!r}): labels {None if labels is None else len(labels.labels)} "
                f"do not cover its {n} steps; label the record before measuring agreement"
            )
        exact = task.first_error(record.problem, record.solution.steps)
        if exact is None:
            continue
        solutions += 1
        rollouts += labels.rollouts
        first_agree += labels.first_error == exact
        own_error = labels.first_error
        for i, value in enumerate(labels.labels):
            truth = exact == -1 or i < exact
            if value is None:
                if own_error is None or own_error == -1 or i < own_error:
                    unlabelled += 1
                    continue
                predicted = False
            else:
                predicted = value >= threshold
            steps += 1
            agree += predicted == truth
    return Agreement(
        solutions=solutions,
        steps=steps,
        step_accuracy=agree / steps if steps else 0.0,
        first_error_accuracy=first_agree / solutions if solutions else 0.0,
        rollouts=rollouts,
        unlabelled_steps=unlabelled,
    )
