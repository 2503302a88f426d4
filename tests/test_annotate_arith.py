"""Annotators on the real arith task (exact step checker) with a simulated policy.

The simulated policy continues any arith prefix: each remaining operation is done right with
probability ``p``, otherwise its result is off by one; later steps compute correctly from the wrong
value, and it always ends with ``The answer is N.``. Labels are then compared with
``ArithTask.first_error``. Problems use ``+ - *`` only: with ``/`` the simulation's floor division can
erase an earlier error, so the final answer is right although a step is wrong (real MC labels miss
exactly such steps; that is measured by the benchmark, not pinned here). (The shipped tiny policy is exercised by benchmarks/annotation_cost.py.)
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from prmkit.annotate import (
    AnnotationUnit,
    MCAnnotator,
    OmegaPRMAnnotator,
    SolutionSampler,
    agreement,
)
from prmkit.tasks.arith import ArithTask, Difficulty
from prmkit.types import Completion

_RESULT = re.compile(r"=\s*(-?\d+)\s*$")


class SimulatedArithPolicy:
    def __init__(self, p: float = 0.85) -> None:
        self.p = p
        self.completions = 0

    def complete(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        stop: Sequence[str] | None = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]:
        self.completions += n * len(prompts)
        return [[self._one(prompt, random.Random(f"{seed}/{prompt}/{i}")) for i in range(n)] for prompt in prompts]

    def _one(self, prompt: str, rng: random.Random) -> Completion:
        question, *done = [line for line in prompt.split("\n") if line.strip()]
        problem = ArithTask.parse_question(question)
        value = int(_RESULT.search(done[-1]).group(1)) if done else problem.start
        lines = []
        for op, b in problem.ops[len(done) :]:
            exact = {"+": value + b, "-": value - b, "*": value * b, "/": value // b}[op]
            result = exact if rng.random() < self.p else exact + 1
            lines.append(f"{value}{op}{b}={result}")
            value = result
        lines.append(f"The answer is {value}.")
        return Completion(text="\n".join(lines) + "\n", num_tokens=sum(len(line) for line in lines))


def test_mc_and_omegaprm_agree_with_exact_arith_labels_and_omegaprm_costs_less():
    task = ArithTask(difficulty=Difficulty(min_ops=2, max_ops=6, ops=("+", "-", "*")), num_test=24, seed=0)
    policy = SimulatedArithPolicy(p=0.85)
    problems = task.problems("test")
    sampled = SolutionSampler(policy, task, samples=3, seed=5)(problems)
    units = [AnnotationUnit(p, s) for p, s in zip(problems, sampled)]
    assert all(len(s) == 3 for s in sampled)

    mc_records = MCAnnotator(policy, task, n=8).annotate(units)
    omega_records = OmegaPRMAnnotator(policy, task, n=8, mode="solution").annotate(units)
    mc, omega = agreement(task, mc_records), agreement(task, omega_records)

    assert mc.solutions == omega.solutions == 72
    # From a correct prefix this policy succeeds with p ** remaining >= 0.85 ** 5 = 0.44, so 8
    # rollouts miss it with probability <= 0.01; from a wrong prefix it never recovers.
    assert mc.first_error_accuracy >= 0.9 and omega.first_error_accuracy >= 0.9
    assert mc.step_accuracy >= 0.9 and omega.step_accuracy >= 0.9
    assert omega.rollouts < 0.6 * mc.rollouts
    assert mc.rollouts + omega.rollouts + 72 == policy.completions
