"""Tasks: problems + prompt + step splitting + answer checking (+ an exact step checker if one exists)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from prmkit._registry import Registry
from prmkit.types import Problem

__all__ = ["Task", "TASKS", "load_task"]


@runtime_checkable
class Task(Protocol):
    """What search, annotation and evaluation need to know about a kind of problem."""

    name: str
    #: The text that ends every step: a solution's text is ``"".join(s + step_separator for s in steps)``
    #: and a rollout from a step prefix starts from ``prompt(problem) + that text of the prefix``.
    step_separator: str

    def problems(self, split: str) -> list[Problem]: ...

    def prompt(self, problem: Problem) -> str: ...

    def split_steps(self, text: str) -> list[str]: ...

    def extract_answer(self, text: str) -> str | None: ...

    def is_correct(self, answer: str | None, problem: Problem) -> bool: ...

    def first_error(self, problem: Problem, steps: list[str]) -> int | None:
        """Exact 0-based earliest wrong step, -1 when all are right, None when it cannot be known."""
        ...


TASKS = Registry("task")
TASKS.register("arith", "prmkit.tasks.arith:ArithTask")
TASKS.register("gsm8k", "prmkit.tasks.gsm8k:GSM8KTask")


def load_task(name: str, **options: Any) -> Task:
    """Build the task registered as ``name`` (e.g. ``"arith"``, ``"gsm8k"``)."""
    return TASKS.get(name)(**options)
