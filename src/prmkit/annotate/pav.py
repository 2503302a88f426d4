"""Process advantage (PAV) labels: a step's progress under a prover policy, ``Q(prefix+step) - V(prefix)``.

Reference: Setlur et al. 2024, "Rewarding Progress: Scaling Automated Process Verifiers for LLM
Reasoning" (arXiv 2410.08146), §3. The process reward of step ``a_h`` in state ``s_h`` is the
advantage under a *prover* policy ``mu``,

    A^mu(s_h, a_h) = Q^mu(s_h, a_h) - V^mu(s_h)

i.e. how much the step changes the prover's chance of reaching the right answer. Both terms are
estimated by Monte Carlo: ``Q^mu(s_h, a_h)`` is the fraction of ``n`` prover rollouts from the
prefix that ends with the step, ``V^mu(s_h)`` the same for the prefix before it (for the first step
the bare question). The prover is whatever ``generator`` this annotator is given: the policy that
wrote the solutions, or another checkpoint (the paper's point is that a *complementary* prover,
e.g. a Best-of-K policy, separates good steps from bad better than the base policy itself).

Labels (the paper trains a verifier on the advantage; prmkit's records need values in [0, 1]):

    labels="advantage"   y_h = (1 + A_h) / 2      the advantage, mapped affinely onto [0, 1]
    labels="hard"        y_h = 1 if A_h >= threshold else 0      (threshold 0: the step loses nothing)

``first_error`` is the first step with ``A_h < threshold`` either way; ``solution.meta["advantage"]``
holds every ``A_h``, ``meta["mc"]`` every ``Q``, ``meta["root_mc"]`` ``V(question)``. Cost: the
rollouts of per-step MC plus ``n`` per question (shared by its solutions, charged to the first);
the MC values come from :meth:`~prmkit.annotate.Annotator._prefix_values`, like ``mc`` and ``rpe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig
from prmkit.annotate._rollouts import UnitCoroutine
from prmkit.types import LabelledSolution, StepLabels

__all__ = ["PAVAnnotator", "PAVConfig", "advantages"]

_LABEL_KINDS = ("hard", "advantage")


@dataclass
class PAVConfig(RolloutConfig):
    """Settings of :class:`PAVAnnotator` (``n``: prover rollouts per MC estimate)."""

    labels: str = field(default="hard", metadata={"help": "'hard' (A >= threshold) or 'advantage' ((1 + A) / 2)"})
    threshold: float = field(default=0.0, metadata={"help": "a step is good when its advantage A >= threshold"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.labels not in _LABEL_KINDS:
            raise ValueError(f"PAVConfig.labels must be one of {_LABEL_KINDS}, got {self.labels!r}")
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"PAVConfig.threshold must be in [-1, 1] (advantages are), got {self.threshold!r}")


def advantages(root: float, values: list[float]) -> list[float]:
    """``A_h = Q(s_h, a_h) - V(s_h)`` for every step, with ``V(s_1) = root`` and ``V(s_h) = Q(s_{h-1}, a_{h-1})``."""
    before = [root, *values[:-1]]
    return [after - prior for prior, after in zip(before, values)]


class PAVAnnotator(Annotator):
    """Advantage labels under a prover (see the module docstring).

    Args:
        generator: the prover ``mu`` (its rollouts estimate Q and V).
        task: prompts, step separator and answer grading.
        config: a :class:`PAVConfig`; keyword ``overrides`` replace its fields.
    """

    name = "pav"
    config_class = PAVConfig
    config: PAVConfig

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        found = yield from self._prefix_values(unit, root=True)
        records: list[LabelledSolution] = []
        for solution, mc, spent in zip(unit.solutions or [], found.values, found.rollouts):
            advantage = advantages(found.root or 0.0, mc)
            good = [a >= self.config.threshold for a in advantage]
            first_error = next((i for i, ok in enumerate(good) if not ok), -1)
            if self.config.labels == "hard":
                values: list[float | None] = [1.0 if ok else 0.0 for ok in good]
            else:
                values = [min(1.0, max(0.0, (1.0 + a) / 2.0)) for a in advantage]
            labels = StepLabels(values, first_error, "pav", spent)
            record = self._record(unit.problem, solution.steps, solution, labels, list(mc))
            record.solution.meta.update(root_mc=found.root, advantage=advantage)
            records.append(record)
        return records
