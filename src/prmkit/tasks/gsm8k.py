"""The GSM8K task over local files: grade-school word problems with gold final answers.

Why it exists: search, annotation and evaluation run on real problems through the same
:class:`~prmkit.tasks.Task` protocol as the synthetic arith task. GSM8K has no exact step checker,
so :meth:`GSM8KTask.first_error` returns ``None`` (unknown); final answers are extracted and graded
by :mod:`prmkit.answers` (math-verify). Every problem's reference solution (the dataset's own worked
answer, calculator notes removed) is kept: :meth:`GSM8KTask.reference_steps` (what SPARE aligns to).

Files are read from a directory holding ``<split>.jsonl`` in the official schema
(``question``, ``answer`` ending with ``#### N``; see :mod:`prmkit.io.gsm8k`), e.g. a copy of
github.com/openai/grade-school-math ``grade_school_math/data``. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from prmkit.tasks._free_text import FreeTextSteps
from prmkit.types import Problem

__all__ = ["DEFAULT_PROMPT", "GSM8KTask"]

#: The default prompt: the question, then the solution one step per line, ending "The answer is N."
DEFAULT_PROMPT = (
    "Solve the problem step by step, one step per line, and end with 'The answer is N.'\n"
    "Question: {question}\nAnswer:\n"
)


class GSM8KTask(FreeTextSteps):
    """GSM8K problems from local JSONL files; implements :class:`prmkit.tasks.Task`.

    Args:
        data_dir: directory with ``train.jsonl`` / ``test.jsonl`` (any ``<split>.jsonl`` works).
        prompt_template: format string with a ``{question}`` field; should end with the
            separator so the solution starts on a new line.
        limit: keep only the first ``limit`` problems of each split (``None`` = all).

    Raises:
        FileNotFoundError: (from :meth:`problems`) ``<data_dir>/<split>.jsonl`` does not exist.

    Example:
        >>> task = GSM8KTask("../shared/data/gsm8k", limit=2)                  # doctest: +SKIP
        >>> p = task.problems("test")[0]; p.answer                              # doctest: +SKIP
        '18'
    """

    name = "gsm8k"
    step_separator = "\n"

    def __init__(
        self, data_dir: str | os.PathLike[str], prompt_template: str = DEFAULT_PROMPT, limit: int | None = None
    ) -> None:
        if "{question}" not in prompt_template:
            raise ValueError(f"GSM8KTask: prompt_template must contain '{{question}}', got {prompt_template!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"GSM8KTask: limit must be >= 1 or None, got {limit}")
        self.data_dir, self.prompt_template, self.limit = Path(data_dir), prompt_template, limit
        self._cache: dict[str, list[Problem]] = {}
        self._references: dict[str, list[str]] = {}  # problem id -> reference steps (read with the problems)

    def problems(self, split: str) -> list[Problem]:
        """The problems of ``<data_dir>/<split>.jsonl`` (ids ``gsm8k-<split>-<index>``)."""
        if split not in self._cache:
            from prmkit.io.gsm8k import read

            path = self.data_dir / f"{split}.jsonl"
            if not path.is_file():
                available = sorted(p.stem for p in self.data_dir.glob("*.jsonl")) if self.data_dir.is_dir() else []
                raise FileNotFoundError(
                    f"GSM8KTask: no file {path} for split {split!r}; splits found in {self.data_dir}: {available}"
                )
            problems = []
            for record in read(path, id_prefix=f"gsm8k-{split}"):
                problems.append(record.problem)
                self._references[record.problem.id] = list(record.solution.steps)
                if self.limit is not None and len(problems) >= self.limit:
                    break
            self._cache[split] = problems
        return list(self._cache[split])

    def reference_steps(self, problem: Problem) -> list[str]:
        """The dataset's reference solution of ``problem``: its steps before ``#### N``, calculator notes removed.

        Found by id (``gsm8k-<split>-<index>``; that split's file is read when it was not yet) and
        checked against the question, so a record read back from JSONL finds its reference too.

        Raises:
            ValueError: no problem of that id and question is in ``data_dir`` (names the id).
        """
        split = problem.id.removeprefix("gsm8k-").rsplit("-", 1)[0]
        if problem.id not in self._references and problem.id.startswith("gsm8k-") and (self.data_dir / f"{split}.jsonl").is_file():
            self.problems(split)
        known = next((p for p in self._cache.get(split, []) if p.id == problem.id), None)
        if known is None or known.question != problem.question:
            raise ValueError(
                f"GSM8KTask.reference_steps: no problem {problem.id!r} with this question in {self.data_dir} "
                f"(limit={self.limit}); reference solutions are found by the ids problems() gives (gsm8k-<split>-<index>)"
            )
        return list(self._references[problem.id])

    def prompt(self, problem: Problem) -> str:
        return self.prompt_template.format(question=problem.question)
