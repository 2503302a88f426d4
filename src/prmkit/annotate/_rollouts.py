"""Rollouts from step prefixes, batched across every annotator that is waiting for some.

Why: Monte Carlo labelling costs one policy rollout per sample, and a policy backend is only fast
when it gets many prompts at once. Each annotator is therefore written as a *coroutine* per unit of
work (one problem and its solutions): it ``yield``s the rollout requests it needs next and
receives their results. :func:`drive` runs many such coroutines in lockstep and merges all their
pending requests into as few :meth:`~prmkit.generation.Generator.complete` calls as possible (the
lm-evaluation-harness pattern: collect requests, call the model once per request type).

A rollout from the prefix ``steps[:t]`` of a solution starts from
``task.prompt(problem) + "".join(s + task.step_separator for s in steps[:t])``; its final answer is
extracted from the *solution text* (the prefix text plus the completion), never from the prompt,
so numbers in the question cannot be mistaken for an answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from collections.abc import Generator as PyGenerator
from dataclasses import dataclass

from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import LabelledSolution, Problem

__all__ = [
    "Roller",
    "Rollout",
    "RolloutRequest",
    "UnitCoroutine",
    "derive_seed",
    "drive",
    "grade",
    "prefix_text",
]


@dataclass(frozen=True)
class Rollout:
    """One completion sampled from a step prefix, already graded.

    Attributes:
        text: the completion (without the prompt and the prefix).
        steps: ``task.split_steps(text)``: the steps the policy wrote after the prefix.
        answer: the answer extracted from prefix text + ``text`` (``None`` when there is none).
        correct: whether ``answer`` is the gold answer.
        num_tokens: tokens the policy generated (OmegaPRM's ``len(r)``).
    """

    text: str
    steps: tuple[str, ...]
    answer: str | None
    correct: bool
    num_tokens: int


@dataclass(frozen=True)
class RolloutRequest:
    """Ask for ``n`` rollouts of ``problem`` continuing after the steps in ``prefix``."""

    problem: Problem
    prefix: tuple[str, ...]
    n: int


#: An annotator's work on one unit: yields lists of requests, is sent back one list of rollouts per
#: request (same order), and finally returns the unit's labelled solutions.
UnitCoroutine = PyGenerator[list[RolloutRequest], list[list[Rollout]], list[LabelledSolution]]


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (``hash()`` is salted per process; this is not)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def prefix_text(task: Task, steps: Sequence[str]) -> str:
    """The text of ``steps`` as the policy writes it: each step followed by ``task.step_separator``."""
    return "".join(step + task.step_separator for step in steps)


def grade(task: Task, problem: Problem, solution_text: str) -> tuple[str | None, bool]:
    """Extract the final answer of ``solution_text`` (no prompt in it) and check it against the gold."""
    answer = task.extract_answer(solution_text)
    return answer, bool(task.is_correct(answer, problem))


class Roller:
    """Turns rollout requests into graded rollouts with few ``Generator.complete`` calls.

    Args:
        generator: the policy.
        task: builds prompts, splits steps and grades answers.
        max_new_tokens, temperature, stop: passed to every ``complete`` call.
        batch_size: at most this many prompts per ``complete`` call.

    Attributes:
        calls: ``complete`` calls made so far.
        rollouts: completions received so far (the cost unit every annotator reports).
        tokens: tokens the policy generated for them.
    """

    def __init__(
        self,
        generator: Generator,
        task: Task,
        *,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        stop: Sequence[str] | None = None,
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"Roller: batch_size must be >= 1, got {batch_size}")
        self.generator, self.task = generator, task
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.stop = list(stop) if stop else None
        self.batch_size = batch_size
        self.calls = 0
        self.rollouts = 0
        self.tokens = 0

    def run(self, requests: Sequence[RolloutRequest], *, seed: int) -> list[list[Rollout]]:
        """Sample and grade every request; returns one list of ``request.n`` rollouts per request.

        Requests with the same ``n`` share calls of up to ``batch_size`` prompts; call ``j`` gets
        the seed ``derive_seed(seed, n, j)``.

        Raises:
            RuntimeError: the generator returned the wrong number of prompts or completions.
        """
        results: list[list[Rollout]] = [[] for _ in requests]
        by_n: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            if request.n < 1:
                raise ValueError(f"RolloutRequest for problem {request.problem.id!r}: n must be >= 1, got {request.n}")
            by_n.setdefault(request.n, []).append(index)
        for n, indices in by_n.items():
            for chunk_number, start in enumerate(range(0, len(indices), self.batch_size)):
                chunk = indices[start : start + self.batch_size]
                prefixes = [prefix_text(self.task, requests[i].prefix) for i in chunk]
                prompts = [self.task.prompt(requests[i].problem) + text for i, text in zip(chunk, prefixes)]
                outputs = self.generator.complete(
                    prompts,
                    n=n,
                    stop=self.stop,
                    max_new_tokens=self.max_new_tokens,
                    temperature=self.temperature,
                    seed=derive_seed(seed, n, chunk_number),
                )
                self.calls += 1
                if len(outputs) != len(prompts) or any(len(out) != n for out in outputs):
                    got = [len(out) for out in outputs]
                    raise RuntimeError(
                        f"{type(self.generator).__name__}.complete returned {len(outputs)} lists of sizes {got[:8]} "
                        f"for {len(prompts)} prompts with n={n}; a Generator must return n completions per prompt"
                    )
                for i, text, completions in zip(chunk, prefixes, outputs):
                    request = requests[i]
                    for completion in completions:
                        self.tokens += completion.num_tokens
                        answer, correct = grade(self.task, request.problem, text + completion.text)
                        results[i].append(
                            Rollout(
                                text=completion.text,
                                steps=tuple(self.task.split_steps(completion.text)),
                                answer=answer,
                                correct=correct,
                                num_tokens=completion.num_tokens,
                            )
                        )
                    self.rollouts += n
        return results


def drive(
    coroutines: Sequence[UnitCoroutine],
    roller: Roller,
    *,
    seed: int,
    on_done: Callable[[int], None] | None = None,
) -> list[list[LabelledSolution]]:
    """Run unit coroutines in lockstep, one batched :meth:`Roller.run` per round.

    Args:
        coroutines: fresh (not started) coroutines, one per unit.
        roller: samples the rollouts.
        seed: round ``r`` uses ``derive_seed(seed, r)`` so a rerun of the same units is identical.
        on_done: called with a unit's index when it finishes (progress bars).

    Returns:
        Each unit's labelled solutions, in input order.
    """
    results: list[list[LabelledSolution] | None] = [None] * len(coroutines)
    pending: dict[int, list[RolloutRequest]] = {}

    def advance(index: int, sent: list[list[Rollout]] | None) -> None:
        coroutine = coroutines[index]
        try:
            requests = coroutine.send(sent)  # type: ignore[arg-type]  # None starts the coroutine
            while not requests:  # nothing to sample this time: answer at once
                requests = coroutine.send([])
        except StopIteration as stop:
            results[index] = list(stop.value or [])
            if on_done is not None:
                on_done(index)
            return
        pending[index] = list(requests)

    for index in range(len(coroutines)):
        advance(index, None)
    round_number = 0
    while pending:
        waiting = list(pending.items())
        pending.clear()
        flat = [request for _, requests in waiting for request in requests]
        outputs = roller.run(flat, seed=derive_seed(seed, round_number))
        round_number += 1
        offset = 0
        for index, requests in waiting:
            advance(index, outputs[offset : offset + len(requests)])
            offset += len(requests)
    return [r if r is not None else [] for r in results]
