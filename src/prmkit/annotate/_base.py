"""What every annotator shares: the unit of work, the rollout settings, and the batched run loop."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from collections.abc import Generator as PyGenerator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from prmkit.annotate._rollouts import (
    Roller,
    Rollout,
    RolloutRequest,
    UnitCoroutine,
    derive_seed,
    drive,
    grade,
    prefix_text,
)
from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = [
    "AnnotationUnit",
    "Annotator",
    "PrefixValues",
    "RolloutConfig",
    "hard_labels",
    "units_from_records",
]


@dataclass
class AnnotationUnit:
    """One question and the solutions to label (the unit that shards count and resume by).

    Attributes:
        problem: the question with its gold answer.
        solutions: solutions to label (per-solution annotators); ``None`` lets the shard runner sample
            them from the policy; tree-mode OmegaPRM ignores them and writes its own.
    """

    problem: Problem
    solutions: list[Solution] | None = None


def units_from_records(records: Sequence[LabelledSolution]) -> list[AnnotationUnit]:
    """Group solutions by problem (first-seen order) into units, e.g. records read from JSONL.

    Raises:
        ValueError: two records share a problem id but not the problem (names the id).
    """
    units: dict[str, AnnotationUnit] = {}
    for index, record in enumerate(records):
        unit = units.get(record.problem.id)
        if unit is None:
            units[record.problem.id] = AnnotationUnit(record.problem, [record.solution])
        elif unit.problem != record.problem:
            raise ValueError(
                f"record {index}: problem id {record.problem.id!r} was seen before with a different question or "
                "answer; give every distinct problem its own id"
            )
        else:
            unit.solutions.append(record.solution)  # type: ignore[union-attr]
    return list(units.values())


@dataclass
class RolloutConfig:
    """How rollouts are sampled (shared by every Monte Carlo annotator)."""

    n: int = field(default=8, metadata={"help": "rollouts per Monte Carlo estimate of a step prefix (k, N)"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of one rollout"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of rollouts"})
    stop: list[str] | None = field(default=None, metadata={"help": "stop strings of rollouts (None: run to EOS)"})
    seed: int = field(default=0, metadata={"help": "base seed; every generator call derives its own from it"})
    batch_size: int = field(default=64, metadata={"help": "prompts per Generator.complete call"})

    def __post_init__(self) -> None:
        for name in ("n", "max_new_tokens", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be a positive integer, got {value!r}")
        if self.temperature < 0:
            raise ValueError(f"{type(self).__name__}.temperature must be >= 0, got {self.temperature!r}")


def hard_labels(first_error: int, num_steps: int) -> list[float | None]:
    """Labels implied by a located first error: 1.0 before it, 0.0 at it, ``None`` after
    (ProcessBench semantics: later steps are not judged); all 1.0 when ``first_error == -1``."""
    if first_error == -1:
        return [1.0] * num_steps
    return [1.0] * first_error + [0.0] + [None] * (num_steps - first_error - 1)


@dataclass
class PrefixValues:
    """Monte Carlo values of every prefix of one unit's solutions (what mc, rpe and pav label from).

    Attributes:
        root: ``MC(question)``: fraction of ``n`` rollouts from the bare question that are right
            (``None`` when it was not asked for).
        values: per solution ``[MC(steps[:1]), ..., MC(steps[:T])]``; the last entry is the
            solution's own final answer graded (1.0 / 0.0, no rollouts).
        rollouts: per solution, the rollouts behind its values (``n * (T - 1)``; the root's ``n``
            are charged to the unit's first solution).
    """

    root: float | None
    values: list[list[float]]
    rollouts: list[int]


class Annotator(ABC):
    """Base of the Monte Carlo annotators: owns the :class:`Roller` and the batched run loop.

    Subclasses set :attr:`name`, :attr:`config_class` (and :attr:`needs_solutions` when it can be false) and write :meth:`unit`, a coroutine per
    :class:`AnnotationUnit` (see :mod:`prmkit.annotate._rollouts`).

    Attributes:
        roller: samples rollouts; ``roller.rollouts`` / ``roller.calls`` count all work done so far.
    """

    name: ClassVar[str]
    #: The subclass's settings class: what ``config=None`` defaults to and ``overrides`` rebuild.
    config_class: ClassVar[type[RolloutConfig]]
    #: Whether labelling samples from ``generator`` (False: SPARE; the CLI then loads no policy
    #: when the solutions are given).
    uses_generator: ClassVar[bool] = True
    #: What the records are, in the CLI's summary line.
    record_noun: ClassVar[str] = "labelled solutions"

    @property
    def needs_solutions(self) -> bool:
        """Whether :meth:`unit` labels given solutions (else it writes its own, like tree OmegaPRM)."""
        return True

    def __init__(self, generator: Generator, task: Task, config: RolloutConfig | None = None, **overrides: Any) -> None:
        config = config or self.config_class()
        if overrides:
            config = self.config_class(**{**config.__dict__, **overrides})
        self.task, self.config = task, config
        self.roller = Roller(
            generator,
            task,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            stop=config.stop,
            batch_size=config.batch_size,
        )

    def config_dict(self) -> dict[str, Any]:
        """The settings that determine the labels (stored next to the shards; resume checks them)."""
        return {"annotator": self.name, **dataclasses.asdict(self.config)}

    @abstractmethod
    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        """The coroutine that labels one unit."""

    def annotate(
        self,
        units: Sequence[AnnotationUnit],
        *,
        key: object = 0,
        on_done: Callable[[int], None] | None = None,
    ) -> list[LabelledSolution]:
        """Label every unit, batching all their rollouts together; returns records in unit order.

        Args:
            units: the work; per-solution annotators need ``unit.solutions`` set.
            key: mixed into the sampling seeds (the shard runner passes the shard number, so a
                resumed run samples exactly what an uninterrupted one would).
            on_done: called with a unit's index when it is finished.

        Raises:
            ValueError: a unit lacks solutions this annotator needs, or a solution has no steps.
        """
        for unit in units:
            if self.needs_solutions and unit.solutions is None:
                raise ValueError(
                    f"{self.name}: problem {unit.problem.id!r} has no solutions to label; pass solutions or let "
                    "prmkit.annotate.run_sharded sample them (sampler=...)"
                )
            for index, solution in enumerate(unit.solutions or []):
                if not solution.steps or any(not step.strip() for step in solution.steps):
                    raise ValueError(
                        f"{self.name}: problem {unit.problem.id!r}, solution {index}: steps {solution.steps!r:.120} "
                        "contain an empty step (or none at all); drop or fix the solution before labelling"
                    )
        per_unit = drive([self.unit(u) for u in units], self.roller, seed=derive_seed(self.config.seed, key), on_done=on_done)
        return [record for records in per_unit for record in records]

    # -- helpers for subclasses -----------------------------------------------------------------

    def _prefix_values(
        self, unit: AnnotationUnit, *, root: bool
    ) -> PyGenerator[list[RolloutRequest], list[list[Rollout]], PrefixValues]:
        """Estimate MC of every inner prefix of every solution (and of the bare question when
        ``root``) in one batched round; use as ``values = yield from self._prefix_values(unit, root=...)``."""
        problem, solutions, n = unit.problem, unit.solutions or [], self.config.n
        requests = [
            RolloutRequest(problem, tuple(solution.steps[:t]), n)
            for solution in solutions
            for t in range(1, len(solution.steps))
        ]
        if root and solutions:
            requests.append(RolloutRequest(problem, (), n))
        rollouts = yield requests
        values, spent, offset = [], [], 0
        for solution in solutions:
            inner = len(solution.steps) - 1
            mc = [sum(r.correct for r in rs) / n for rs in rollouts[offset : offset + inner]]
            offset += inner
            mc.append(1.0 if self._final_correct(problem, solution.steps)[1] else 0.0)
            values.append(mc)
            spent.append(n * inner)
        root_mc = None
        if root and solutions:
            root_mc = sum(r.correct for r in rollouts[offset]) / n
            spent[0] += n
        return PrefixValues(root_mc, values, spent)

    def _final_correct(self, problem: Problem, steps: Sequence[str]) -> tuple[str | None, bool]:
        """Grade a complete solution by its own final answer (no rollouts needed)."""
        return grade(self.task, problem, prefix_text(self.task, steps))

    def _record(
        self,
        problem: Problem,
        steps: Sequence[str],
        base: Solution | None,
        labels: StepLabels,
        mc: list[float | None],
    ) -> LabelledSolution:
        """A labelled copy of the solution; ``solution.meta["mc"]`` keeps every measured MC value."""
        answer, correct = self._final_correct(problem, steps)
        meta = dict(base.meta) if base is not None else {}
        meta["mc"] = mc
        solution = Solution(problem_id=problem.id, steps=list(steps), answer=answer, correct=correct, meta=meta)
        return LabelledSolution(problem=problem, solution=solution, labels=labels)
