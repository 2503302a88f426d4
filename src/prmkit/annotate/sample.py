"""Sample whole solutions from the policy: the material per-solution annotators label.

Why a separate piece: the demo (and ``prmkit annotate``) label the policy's *own* solutions, so
they must first be written; doing it per shard keeps a long job resumable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.annotate._rollouts import Roller, RolloutRequest, derive_seed, grade
from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import Problem, Solution

__all__ = ["SamplerConfig", "SolutionSampler"]


@dataclass
class SamplerConfig:
    """How solutions to label are sampled."""

    samples: int = field(default=4, metadata={"help": "solutions sampled per problem"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of one solution"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    seed: int = field(default=1234, metadata={"help": "base seed of solution sampling"})
    batch_size: int = field(default=64, metadata={"help": "prompts per Generator.complete call"})

    def __post_init__(self) -> None:
        for name in ("samples", "max_new_tokens", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"SamplerConfig.{name} must be a positive integer, got {value!r}")


class SolutionSampler:
    """Samples ``samples`` solutions per problem in batched calls; solutions without steps are dropped.

    Attributes:
        samples_drawn: completions sampled so far (kept or not).
        dropped: completions dropped for having no step.
    """

    def __init__(self, generator: Generator, task: Task, config: SamplerConfig | None = None, **overrides: Any) -> None:
        config = config or SamplerConfig()
        if overrides:
            config = SamplerConfig(**{**config.__dict__, **overrides})
        self.task, self.config = task, config
        self.roller = Roller(
            generator, task, max_new_tokens=config.max_new_tokens, temperature=config.temperature, batch_size=config.batch_size
        )
        self.samples_drawn = 0
        self.dropped = 0

    def config_dict(self) -> dict[str, Any]:
        return {"sampler": dataclasses.asdict(self.config)}

    def __call__(self, problems: Sequence[Problem], key: object = 0) -> list[list[Solution]]:
        """One list of solutions per problem (in order); ``key`` is mixed into the seed (shard number).

        Each solution is ``task.split_steps`` of the completion, graded by its own final answer;
        ``meta["sample"]`` is its index among the problem's samples.
        """
        requests = [RolloutRequest(problem, (), self.config.samples) for problem in problems]
        outputs = self.roller.run(requests, seed=derive_seed(self.config.seed, "solutions", key))
        result: list[list[Solution]] = []
        for problem, rollouts in zip(problems, outputs):
            solutions = []
            for index, rollout in enumerate(rollouts):
                self.samples_drawn += 1
                if not rollout.steps:
                    self.dropped += 1
                    continue
                answer, correct = grade(self.task, problem, rollout.text)
                solutions.append(
                    Solution(problem.id, list(rollout.steps), answer, correct, meta={"sample": index, "tokens": rollout.num_tokens})
                )
            result.append(solutions)
        return result
