"""What every task over free-form math text shares: steps split at its separator, final answers
extracted and graded by :mod:`prmkit.answers` (math-verify), and no exact step checker."""

from __future__ import annotations

from prmkit.types import Problem

__all__ = ["FreeTextSteps"]


class FreeTextSteps:
    """Mixin for a :class:`~prmkit.tasks.Task` whose steps are text between ``step_separator``\\ s."""

    step_separator: str

    def split_steps(self, text: str) -> list[str]:
        """The non-blank parts between separators, stripped."""
        return [part.strip() for part in text.split(self.step_separator) if part.strip()]

    def extract_answer(self, text: str) -> str | None:
        """The final answer (``#### N``, ``The answer is N``, ``\\boxed{N}``, ...) via :mod:`prmkit.answers`."""
        from prmkit.answers import extract_answer

        return extract_answer(text)

    def is_correct(self, answer: str | None, problem: Problem) -> bool:
        """Whether ``answer`` equals the gold answer (math-verify, so ``1,000`` == ``1000``)."""
        from prmkit.answers import grade

        return grade(answer, problem.answer)

    def first_error(self, problem: Problem, steps: list[str]) -> int | None:
        """No exact step checker for free text: always ``None`` (unknown)."""
        return None
