"""Relative progress estimation (RPE): a step is good when it keeps most of the prefix's MC value.

Reference: Zhao et al. 2025, "GenPRM: Scaling Test-Time Compute of Process Reward Models via
Generative Reasoning" (arXiv 2504.00891), §3.2. With ``MC(s_t)`` the Monte Carlo value of the state
*before* step ``t`` (the question plus steps ``1..t-1``; for the first step the bare question) and
``MC(s_t, a_t)`` the value after it, both from ``n`` rollouts,

    P_t = MC(s_t, a_t) / MC(s_t)          (P_t = 0 when MC(s_t) = 0)
    y_t = 1 if P_t >= epsilon else 0      epsilon = 0.8 (the paper's threshold)

Why: Math-Shepherd's hard label (``MC(s_t, a_t) > 0``) calls a step correct whenever any rollout
recovers after it; RPE calls it wrong when it *loses* more than 20 % of the success chance the
prefix had. The last step's ``MC(s_T, a_T)`` is the solution's own graded answer (no rollouts).

Cost: the same ``n * (T - 1)`` rollouts per solution as per-step MC, plus ``n`` per question for
``MC(question)`` (shared by all the question's solutions, charged to its first record). The MC
values come from :meth:`~prmkit.annotate.Annotator._prefix_values`, the machinery ``mc`` uses.

Output per solution: ``StepLabels(y, first_error, source="rpe", rollouts)`` with ``first_error`` the
first ``t`` with ``y_t = 0`` (-1 if none); ``solution.meta["mc"]`` holds ``MC(s_t, a_t)``,
``meta["root_mc"]`` ``MC(question)`` and ``meta["progress"]`` every ``P_t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig
from prmkit.annotate._rollouts import UnitCoroutine
from prmkit.types import LabelledSolution, StepLabels

__all__ = ["RPEAnnotator", "RPEConfig", "relative_progress"]


@dataclass
class RPEConfig(RolloutConfig):
    """Settings of :class:`RPEAnnotator` (``n``: rollouts per MC estimate)."""

    epsilon: float = field(default=0.8, metadata={"help": "step is good when MC(after) / MC(before) >= epsilon (GenPRM: 0.8)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.epsilon <= 1.0:
            raise ValueError(f"RPEConfig.epsilon must be in (0, 1], got {self.epsilon!r}")


def relative_progress(root: float, values: list[float]) -> list[float]:
    """``P_t = MC(s_t, a_t) / MC(s_t)`` for every step, ``MC(s_1) = root``; 0 where ``MC(s_t) = 0``."""
    before = [root, *values[:-1]]
    return [after / prior if prior > 0 else 0.0 for prior, after in zip(before, values)]


class RPEAnnotator(Annotator):
    """GenPRM relative-progress labels (see the module docstring).

    Args:
        generator: the completer.
        task: prompts, step separator and answer grading.
        config: an :class:`RPEConfig`; keyword ``overrides`` replace its fields.
    """

    name = "rpe"
    config_class = RPEConfig
    config: RPEConfig

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        found = yield from self._prefix_values(unit, root=True)
        records: list[LabelledSolution] = []
        for solution, mc, spent in zip(unit.solutions or [], found.values, found.rollouts):
            progress = relative_progress(found.root or 0.0, mc)
            hard: list[float | None] = [1.0 if p >= self.config.epsilon else 0.0 for p in progress]
            first_error = next((i for i, y in enumerate(hard) if y == 0.0), -1)
            labels = StepLabels(hard, first_error, "rpe", spent)
            record = self._record(unit.problem, solution.steps, solution, labels, list(mc))
            record.solution.meta.update(root_mc=found.root, progress=progress)
            records.append(record)
        return records
