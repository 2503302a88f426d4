"""A tiny deterministic world for testing search/annotation logic without models.

Problem "Q s k": start at s, add 1 k times. Correct steps are "a+1=b", then "The answer is N.".
:class:`SlipGenerator` writes each step wrong (result off by one) with probability ``p``, reading
its state from the prompt, so it behaves like a policy that continues a prefix. :class:`ExactScorer`
is the exact oracle: 1.0 before the first wrong step, 0.0 from it on.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from prmkit.types import Completion, Problem

STEP = re.compile(r"^(-?\d+)\+1=(-?\d+)$")


class CountTask:
    name = "count"
    step_separator = "\n"

    def problems(self, split: str = "test", count: int = 8) -> list[Problem]:
        rng = random.Random(split)
        out = []
        for i in range(count):
            s, k = rng.randint(0, 50), rng.randint(2, 5)
            out.append(Problem(id=f"{split}-{i}", question=f"Q {s} {k}", answer=str(s + k)))
        return out

    def prompt(self, problem: Problem) -> str:
        return problem.question + "\n"

    def split_steps(self, text: str) -> list[str]:
        return [line.strip() for line in text.split("\n") if line.strip()]

    def extract_answer(self, text: str) -> str | None:
        found = re.findall(r"The answer is (-?\d+)\.", text)
        return found[-1] if found else None

    def is_correct(self, answer: str | None, problem: Problem) -> bool:
        return answer is not None and answer == problem.answer

    def first_error(self, problem: Problem, steps: list[str]) -> int | None:
        s, k = map(int, problem.question.split()[1:])
        value = s
        for i, step in enumerate(steps):
            if i < k:
                m = STEP.match(step)
                if not m or int(m.group(1)) != value or int(m.group(2)) != value + 1:
                    return i
                value += 1
            elif step != f"The answer is {value}.":
                return i
        return -1


class SlipGenerator:
    """Writes the next step(s) of a CountTask solution, slipping with probability ``p`` per step."""

    def __init__(self, p: float = 0.3) -> None:
        self.p = p
        self.calls: list[tuple[int, int]] = []  # (prompts, n) per call

    def complete(self, prompts, *, n=1, stop=None, max_new_tokens=256, temperature=1.0, seed=None):
        self.calls.append((len(prompts), n))
        out = []
        for prompt in prompts:
            row = []
            for j in range(n):
                rng = random.Random(f"{seed}|{prompt}|{j}|{temperature}")
                row.append(self._write(prompt, stop, max_new_tokens, rng, temperature))
            out.append(row)
        return out

    def _write(self, prompt: str, stop, max_new_tokens: int, rng: random.Random, temperature: float) -> Completion:
        lines = prompt.split("\n")
        s, k = map(int, lines[0].split()[1:])
        partial = lines[-1] if len(lines) > 1 else ""  # a step cut off mid-line, continued verbatim
        steps = [line for line in lines[1:-1] if line]
        if steps and steps[-1].startswith("The answer is"):
            return Completion(text="", num_tokens=1, finish_reason="eos")
        value = int(STEP.match(steps[-1]).group(2)) if steps and STEP.match(steps[-1]) else s
        written = []
        for index in range(len(steps), k + 1):
            if index == k:
                line = f"The answer is {value}."
            else:
                slip = temperature > 0 and rng.random() < self.p
                nxt = value + 1 + (1 if slip else 0)
                line = f"{value}+1={nxt}"
                value = nxt
            if index == len(steps) and partial:
                # finish the cut line when it is a prefix of what we would write, else end it as written
                m = STEP.match(partial)
                line = line[len(partial):] if line.startswith(partial) else ""
                if not line and m:
                    value = int(m.group(2))
            written.append(line)
            if stop:
                break
        text = "\n".join(written) + "\n"
        if len(text) > max_new_tokens:
            return Completion(text=text[:max_new_tokens], num_tokens=max_new_tokens, finish_reason="length")
        finish = "stop" if stop else "eos"
        return Completion(text=text, num_tokens=len(text), finish_reason=finish)


class ExactScorer:
    """Oracle PRM for CountTask: needs the problem, recovered from the question text."""

    def __init__(self) -> None:
        self.task = CountTask()
        self.calls = 0

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float | None]]:
        self.calls += 1
        out = []
        for question, steps in items:
            problem = Problem(id="", question=question, answer=None)
            first = self.task.first_error(problem, list(steps))
            cut = len(steps) if first in (-1, None) else first
            out.append([1.0 if i < cut else 0.0 for i in range(len(steps))])
        return out
