"""A deterministic fake policy and task for the annotator tests (plus tests of the fakes themselves).

The "chain" task: ``C 3 5 2`` means start at 3, add 5, add 2 (answer 10). A solution writes one
addition per line (``3+5=8``) and ends with ``ans 10``. The fake policy continues any prefix,
getting each addition right with probability ``p`` and otherwise writing a result one too high;
later steps build on the wrong value, so errors never cancel: a rollout reaches the gold answer
iff its prefix is right and it makes no mistake (probability ``p ** remaining``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import Completion, Problem

_STEP = re.compile(r"^(\d+)\+(\d+)=(\d+)$")
_ANS = re.compile(r"ans (\d+)")


class ChainTask:
    name = "chain"
    step_separator = "\n"

    def __init__(self, num_problems: int = 8, min_ops: int = 3, max_ops: int = 6, seed: int = 0, decoy: bool = False):
        """``decoy``: the prompt shows a worked example ending ``ans <gold answer>``, so extracting the
        answer from prompt + completion (instead of the solution text) would be caught."""
        rng = random.Random(seed)
        self.decoy = decoy
        self._problems = []
        for i in range(num_problems):
            numbers = [rng.randint(1, 9) for _ in range(rng.randint(min_ops, max_ops) + 1)]
            self._problems.append(
                Problem(id=f"chain-{i}", question="C " + " ".join(map(str, numbers)), answer=str(sum(numbers)))
            )

    @staticmethod
    def numbers(problem: Problem) -> list[int]:
        return [int(x) for x in problem.question.split()[1:]]

    def problems(self, split: str = "test") -> list[Problem]:
        return list(self._problems)

    def prompt(self, problem: Problem) -> str:
        example = f"(example: ans {problem.answer})\n" if self.decoy else ""
        return example + problem.question + "\n"

    def split_steps(self, text: str) -> list[str]:
        return [line.strip() for line in text.split("\n") if line.strip()]

    def extract_answer(self, text: str) -> str | None:
        found = _ANS.findall(text)
        return found[-1] if found else None

    def is_correct(self, answer: str | None, problem: Problem) -> bool:
        return answer is not None and int(answer) == int(problem.answer)

    def reference_steps(self, problem: Problem) -> list[str]:
        nums = self.numbers(problem)
        steps, value = [], nums[0]
        for x in nums[1:]:
            steps.append(f"{value}+{x}={value + x}")
            value += x
        return steps + [f"ans {value}"]

    def wrong_steps(self, problem: Problem, error_at: int) -> list[str]:
        """A solution whose first error is at step ``error_at`` (an addition step, result + 1)."""
        nums = self.numbers(problem)
        steps, value = [], nums[0]
        for i, x in enumerate(nums[1:]):
            result = value + x + (1 if i == error_at else 0)
            steps.append(f"{value}+{x}={result}")
            value = result
        return steps + [f"ans {value}"]

    def first_error(self, problem: Problem, steps: list[str]) -> int | None:
        nums = self.numbers(problem)
        value = nums[0]
        for i, step in enumerate(steps):
            if i < len(nums) - 1:
                m = _STEP.match(step)
                if not m or int(m.group(1)) != value or int(m.group(2)) != nums[i + 1]:
                    return i
                if int(m.group(3)) != value + nums[i + 1]:
                    return i
                value += nums[i + 1]
            elif i == len(nums) - 1:
                if step != f"ans {value}":
                    return i
            else:
                return i
        return -1


class Interrupted(Exception):
    """Raised by :class:`ChainPolicy` after ``fail_after`` calls (simulates a killed job)."""


class ChainPolicy:
    """Fake policy for :class:`ChainTask`; deterministic per (seed, prompt, sample index)."""

    def __init__(self, p: float = 0.8, fail_after: int | None = None, silent: bool = False):
        self.p, self.fail_after, self.silent = p, fail_after, silent
        self.calls = 0
        self.prompts: list[str] = []
        self.completions = 0
        self.call_sizes: list[int] = []

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
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise Interrupted(f"killed after {self.calls} calls")
        self.calls += 1
        self.call_sizes.append(len(prompts))
        self.prompts.extend(prompts)
        self.completions += n * len(prompts)
        return [[self._one(prompt, seed, i) for i in range(n)] for prompt in prompts]

    def _one(self, prompt: str, seed: int | None, index: int) -> Completion:
        if self.silent:
            return Completion(text="", num_tokens=0)
        rng = random.Random(f"{seed}/{prompt}/{index}")
        lines = [line for line in prompt.split("\n") if line.strip()]
        q = next(i for i, line in enumerate(lines) if line.startswith("C "))
        nums = [int(x) for x in lines[q].split()[1:]]
        done = lines[q + 1 :]
        value = int(_STEP.match(done[-1]).group(3)) if done else nums[0]
        out = []
        for x in nums[1 + len(done) :]:
            result = value + x + (0 if rng.random() < self.p else 1)
            out.append(f"{value}+{x}={result}")
            value = result
        out.append(f"ans {value}")
        text = "\n".join(out) + "\n"
        return Completion(text=text, num_tokens=len(out) * 4)


class ScriptedPolicy:
    """For hand-worked trees: from a prefix (the steps after the question), the first
    ``script[prefix]`` of the ``n`` completions are ``ans <right>`` and the rest ``ans 0``."""

    def __init__(self, script: dict[tuple[str, ...], int], right: str) -> None:
        self.script, self.right = script, right
        self.completions = 0

    def complete(self, prompts: Sequence[str], *, n: int = 1, **_: object) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            prefix = tuple(line for line in prompt.split("\n")[1:] if line)
            hits = self.script[prefix]
            out.append([Completion(text=f"ans {self.right}\n" if i < hits else "ans 0\n", num_tokens=2) for i in range(n)])
            self.completions += n
        return out


class ChainJudge:
    """An exact second judge for :class:`ChainTask` (a Scorer): 1.0 before the first error, 0.0 from it."""

    name = "chain-judge"

    def __init__(self, num_problems: int = 8) -> None:
        self.task = ChainTask(num_problems=num_problems)
        self.calls = 0

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float | None]]:
        self.calls += 1
        out: list[list[float | None]] = []
        for question, steps in items:
            first = self.task.first_error(Problem(id="judged", question=question.strip()), list(steps))
            stop = len(steps) if first in (-1, None) else first
            out.append([1.0 if i < stop else 0.0 for i in range(len(steps))])
        return out


def test_fakes_follow_the_protocols_and_are_deterministic():
    task, policy = ChainTask(), ChainPolicy(p=0.5)
    assert isinstance(task, Task) and isinstance(policy, Generator)
    problem = task.problems()[0]
    assert task.first_error(problem, task.reference_steps(problem)) == -1
    assert task.first_error(problem, task.wrong_steps(problem, 1)) == 1
    a = policy.complete([task.prompt(problem)], n=3, seed=7)
    b = policy.complete([task.prompt(problem)], n=3, seed=7)
    assert a == b and len(a[0]) == 3


def test_fake_policy_success_rate_is_p_to_the_remaining_steps():
    task, policy = ChainTask(num_problems=1, min_ops=3, max_ops=3), ChainPolicy(p=0.5)
    problem = task.problems()[0]
    (outs,) = policy.complete([task.prompt(problem)], n=400, seed=1)
    rate = sum(task.is_correct(task.extract_answer(c.text), problem) for c in outs) / 400
    assert abs(rate - 0.125) < 0.06
