"""Shared machinery of the search methods: candidates, results, step-wise expansion and scoring.

All methods work on many problems at once: every expansion round is ONE ``Generator.complete``
call and every scoring round ONE ``Scorer.score`` call over all problems' frontiers, so backend
batches stay full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.search._budget import Budget
from prmkit.search.vote import select
from prmkit.tasks import Task
from prmkit.types import Completion, Problem

__all__ = ["Partial", "Candidate", "SearchResult", "expand", "sample_solutions", "score_partials", "finalize"]


@dataclass
class Partial:
    """A (possibly finished) step prefix of one problem's solution."""

    steps: list[str] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    num_tokens: int = 0
    finished: bool = False

    def extend(self, step: str | None, tokens: int, finished: bool) -> Partial:
        steps = self.steps + ([step] if step else [])
        return Partial(steps=steps, scores=list(self.scores), num_tokens=self.num_tokens + tokens, finished=finished)


@dataclass
class Candidate:
    """A final candidate solution, in the JSON shape ``prmkit eval bon`` reads."""

    steps: list[str]
    scores: list[float | None]
    num_tokens: int
    answer: str | None
    correct: bool | None
    finished: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "correct": self.correct,
            "scores": self.scores,
            "num_tokens": self.num_tokens,
            "steps": self.steps,
            "finished": self.finished,
        }


@dataclass
class SearchResult:
    """One problem's search outcome: every final candidate, the chosen one, and the compute spent.

    ``budget`` is the run's total (shared by all problems searched together); ``meta`` holds
    method-specific facts (e.g. MCTS visit counts, tokens saved by early rejection).
    """

    problem_id: str
    method: str
    candidates: list[Candidate]
    chosen: int
    budget: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool | None:
        return self.candidates[self.chosen].correct if self.candidates else None

    def to_dict(self) -> dict[str, Any]:
        chosen = self.candidates[self.chosen] if self.candidates else None
        return {
            "problem_id": self.problem_id,
            "method": self.method,
            "chosen": self.chosen,
            "answer": chosen.answer if chosen else None,
            "correct": chosen.correct if chosen else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "budget": self.budget,
            "meta": self.meta,
        }


def prefix_text(task: Task, problem: Problem, steps: Sequence[str]) -> str:
    """The prompt a rollout continues from: the task prompt plus the finished steps."""
    return task.prompt(problem) + "".join(s + task.step_separator for s in steps)


def parse_step(task: Task, completion: Completion) -> tuple[str | None, bool]:
    """Turn a one-step completion into (step text or None, solution finished?).

    A solution is finished when the policy stopped for any reason other than the step separator
    (EOS, length), produced an empty step, or wrote a step that already carries a final answer.
    """
    text = completion.text
    if completion.finish_reason == "stop" and text.endswith(task.step_separator):
        text = text[: -len(task.step_separator)]
    step = text.strip()
    if not step:
        return None, True
    finished = completion.finish_reason != "stop" or task.extract_answer(step) is not None
    return step, finished


def expand(
    task: Task,
    generator: Generator,
    requests: Sequence[tuple[Problem, Partial, int]],
    *,
    temperature: float,
    max_step_tokens: int,
    seed: int | None,
) -> list[list[Partial]]:
    """Propose next steps: for each (problem, partial, k) return k children.

    Requests for the same prompt (e.g. DVTS subtrees all starting at the root) are merged into one
    prompt with the summed k, so they get distinct samples even from a generator that seeds each
    prompt on its own; prompts are then grouped by total k (one ``complete`` call per distinct k).
    """
    out: list[list[Partial]] = [[] for _ in requests]
    by_prompt: dict[str, list[int]] = {}
    for index, (problem, partial, _) in enumerate(requests):
        by_prompt.setdefault(prefix_text(task, problem, partial.steps), []).append(index)
    by_total: dict[int, list[str]] = {}
    for prompt, indices in by_prompt.items():
        by_total.setdefault(sum(requests[i][2] for i in indices), []).append(prompt)
    for total, prompts in sorted(by_total.items()):
        completions = generator.complete(
            prompts,
            n=total,
            stop=[task.step_separator],
            max_new_tokens=max_step_tokens,
            temperature=temperature,
            seed=None if seed is None else seed + total,
        )
        for prompt, row in zip(prompts, completions):
            cursor = iter(row)
            for i in by_prompt[prompt]:
                parent = requests[i][1]
                for completion in (next(cursor) for _ in range(requests[i][2])):
                    step, finished = parse_step(task, completion)
                    out[i].append(parent.extend(step, completion.num_tokens, finished))
    return out


def sample_solutions(
    task: Task, generator: Generator, problems: Sequence[Problem], *, n: int, max_new_tokens: int,
    temperature: float, seed: int | None,
) -> tuple[list[list[Partial]], list[list[Completion]]]:
    """Sample ``n`` whole solutions (or prefixes, with a small ``max_new_tokens``) per problem in one call.

    Returns the step-split partials and the raw completions (for continuing a prefix verbatim).
    """
    rows = generator.complete(
        [task.prompt(p) for p in problems], n=n, stop=None, max_new_tokens=max_new_tokens,
        temperature=temperature, seed=seed,
    )
    partials = [
        [Partial(steps=task.split_steps(c.text), num_tokens=c.num_tokens, finished=c.finish_reason != "length") for c in row]
        for row in rows
    ]
    return partials, rows


def score_partials(scorer: Scorer, items: Sequence[tuple[Problem, Partial]]) -> None:
    """Score every step of each partial in one call and store the scores on the partials."""
    todo = [(p, part) for p, part in items if part.steps]
    if not todo:
        return
    scores = scorer.score([(p.question, part.steps) for p, part in todo])
    for (_, part), row in zip(todo, scores):
        part.scores = list(row)


def to_candidate(task: Task, problem: Problem, partial: Partial) -> Candidate:
    text = "".join(s + task.step_separator for s in partial.steps)
    answer = task.extract_answer(text) if text else None
    correct = task.is_correct(answer, problem) if problem.answer is not None else None
    return Candidate(partial.steps, partial.scores, partial.num_tokens, answer, correct, partial.finished)


def finalize(
    task: Task,
    problem: Problem,
    method: str,
    partials: Sequence[Partial],
    budget: Budget,
    *,
    selection: str,
    aggregation: str,
    chosen: int | None = None,
    meta: dict[str, Any] | None = None,
) -> SearchResult:
    """Build a :class:`SearchResult`; the answer is chosen by :func:`~prmkit.search.vote.select` unless given."""
    candidates = [to_candidate(task, problem, p) for p in partials]
    if chosen is None:
        chosen = select([c.answer for c in candidates], [c.scores for c in candidates], selection, aggregation) if candidates else 0
    return SearchResult(problem.id, method, candidates, chosen, budget.to_dict(), meta or {})
