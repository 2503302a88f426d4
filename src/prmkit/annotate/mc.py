"""Math-Shepherd Monte Carlo step labels (hard and soft estimation).

Reference: Wang et al. 2024, "Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human
Annotations", §3.3. For step ``i`` of a solution, ``N`` completions are sampled from the prefix that
ends with step ``i``; with ``j`` of them reaching the gold answer,

    hard estimation  y_i = 1 if j >= 1 else 0
    soft estimation  y_i = j / N

The last step needs no rollouts: the prefix is the whole solution, so its label is whether the
solution's own final answer is right (1.0 / 0.0). A solution of ``T`` steps therefore costs
``N * (T - 1)`` rollouts, and all prefixes of all solutions of all units in a batch go to the policy
together.

Example:
    >>> from prmkit.annotate import MCAnnotator, AnnotationUnit            # doctest: +SKIP
    >>> mc = MCAnnotator(generator, task, n=8)                              # doctest: +SKIP
    >>> records = mc.annotate([AnnotationUnit(problem, [solution])])       # doctest: +SKIP
    >>> records[0].labels.labels, records[0].labels.rollouts               # doctest: +SKIP
    ([1.0, 1.0, 0.0], 16)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig
from prmkit.annotate._rollouts import UnitCoroutine
from prmkit.types import LabelledSolution, StepLabels

__all__ = ["MCAnnotator", "MCConfig"]

_LABEL_KINDS = ("hard", "soft")


@dataclass
class MCConfig(RolloutConfig):
    """Settings of :class:`MCAnnotator` (``n`` is Math-Shepherd's N, completions per step)."""

    labels: str = field(default="hard", metadata={"help": "'hard' (1 if any rollout is right) or 'soft' (fraction right)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.labels not in _LABEL_KINDS:
            raise ValueError(f"MCConfig.labels must be one of {_LABEL_KINDS}, got {self.labels!r}")


class MCAnnotator(Annotator):
    """Per-step Monte Carlo labels (Math-Shepherd hard / soft estimation) for given solutions.

    Args:
        generator: the completer (the policy that wrote the solutions, or a stronger one).
        task: prompts, step separator and answer grading.
        config: an :class:`MCConfig`; keyword ``overrides`` replace its fields.

    Output per solution: ``StepLabels(labels, first_error, source="mc", rollouts=n * (T - 1))`` where
    ``labels`` are the hard or soft estimates of every step, ``first_error`` is the first step whose
    hard estimate is 0 (-1 if none), and ``solution.meta["mc"]`` holds the soft estimates either way.
    """

    name = "mc"
    config_class = MCConfig
    config: MCConfig

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        found = yield from self._prefix_values(unit, root=False)
        records: list[LabelledSolution] = []
        for solution, mc, spent in zip(unit.solutions or [], found.values, found.rollouts):
            hard = [1.0 if value else 0.0 for value in mc]
            first_error = next((i for i, value in enumerate(hard) if value == 0.0), -1)
            labels = StepLabels(
                labels=hard if self.config.labels == "hard" else list(mc),
                first_error=first_error,
                source="mc",
                rollouts=spent,
            )
            records.append(self._record(unit.problem, solution.steps, solution, labels, list(mc)))
        return records
