"""Consensus filtering: keep a solution only when Monte Carlo and a second judge agree on its first error.

Reference: Zhang et al. 2025, "The Lessons of Developing Process Reward Models in Mathematical
Reasoning" (Qwen2.5-Math-PRM, arXiv 2501.07301), §3.3. Monte Carlo labels are noisy (a wrong step
that rollouts recover from looks right; a right step the policy cannot finish looks wrong), and an
LLM judge errs differently, so the paper keeps only the samples on which both agree:

    e_MC    = first step whose hard MC estimate is 0 (no rollout of n reaches the gold answer), -1 if none
    e_judge = first step the judge scores below ``judge_threshold``, -1 if none
    keep the solution iff e_MC == e_judge, with labels 1 before that step, 0 at it (and ``None``
    after it: neither side says anything trustworthy about later steps)

The judge is any :class:`~prmkit.models.Scorer` (``load_scorer(...)``: a PRM checkpoint, the
ProcessBench critic ``judge``, a likelihood verifier, ...) scoring ``(question, steps)``; a judge that
leaves a step before its first error unscored (``None``) gives no verdict, and the solution is
dropped. The MC half is exactly ``mc``'s (:meth:`~prmkit.annotate.Annotator._prefix_values`):
``n * (T - 1)`` rollouts per solution of ``T`` steps; the judge costs no rollouts. Rollouts behind a
dropped solution are still spent (the runner's shard stats count them; the records do not).

Output per kept solution: ``StepLabels(labels, first_error, source="consensus", rollouts)`` with
``solution.meta["mc"]`` the MC values and ``meta["judge"]`` the judge's scores. The kept fraction is
``records / solutions`` of :class:`~prmkit.annotate.AnnotationRun` (and :attr:`ConsensusAnnotator.kept`
/ :attr:`~ConsensusAnnotator.seen` in Python).

Example:
    >>> from prmkit.models import load_scorer                                             # doctest: +SKIP
    >>> judge = load_scorer("token-cls", path="runs/prm")                                 # doctest: +SKIP
    >>> annotator = ConsensusAnnotator(generator, task, judge=judge, n=8)                 # doctest: +SKIP
    >>> records = annotator.annotate(units); annotator.kept / annotator.seen              # doctest: +SKIP
    0.62
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig, hard_labels
from prmkit.annotate._rollouts import UnitCoroutine
from prmkit.generation import Generator
from prmkit.tasks import Task
from prmkit.types import LabelledSolution, StepLabels, first_error_from_labels

__all__ = ["ConsensusAnnotator", "ConsensusConfig", "judge_name"]


@dataclass
class ConsensusConfig(RolloutConfig):
    """Settings of :class:`ConsensusAnnotator` (``n``: rollouts per MC estimate, the paper's 8)."""

    judge_threshold: float = field(default=0.5, metadata={"help": "the judge calls a step wrong when its score is below this"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.judge_threshold <= 1.0:
            raise ValueError(f"ConsensusConfig.judge_threshold must be in (0, 1], got {self.judge_threshold!r}")


def judge_name(judge: Any) -> str:
    """What identifies a judge in ``run.json``: a lazy scorer's recipe, else its class name."""
    if hasattr(judge, "options") and isinstance(getattr(judge, "name", None), str):
        return f"{judge.name} {sorted((str(k), str(v)) for k, v in judge.options.items())}"
    name = getattr(judge, "name", None)
    return name if isinstance(name, str) else type(judge).__name__


class ConsensusAnnotator(Annotator):
    """MC labels kept only where a second judge agrees on the first error (see the module docstring).

    Args:
        generator: the completer whose rollouts give the MC estimates.
        task: prompts, step separator and answer grading.
        config: a :class:`ConsensusConfig`; keyword ``overrides`` replace its fields.
        judge: the second judge, any :class:`~prmkit.models.Scorer`.

    Attributes:
        seen: solutions judged so far; kept: those both sides agreed on.
    """

    name = "consensus"
    config_class = ConsensusConfig
    config: ConsensusConfig

    def __init__(self, generator: Generator, task: Task, config: ConsensusConfig | None = None, *, judge: Any,
                 **overrides: Any) -> None:
        if judge is None or not callable(getattr(judge, "score", None)):
            raise ValueError(f"consensus: judge must be a prmkit Scorer (load_scorer(...)), got {judge!r}")
        super().__init__(generator, task, config, **overrides)
        self.judge = judge
        self.seen = self.kept = 0

    def config_dict(self) -> dict[str, Any]:
        return {**super().config_dict(), "judge": judge_name(self.judge)}

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        found = yield from self._prefix_values(unit, root=False)
        records: list[LabelledSolution] = []
        for solution, mc, spent in zip(unit.solutions or [], found.values, found.rollouts):
            first_error = next((i for i, value in enumerate(mc) if value == 0.0), -1)
            labels = StepLabels(hard_labels(first_error, len(mc)), first_error, "consensus", spent)
            records.append(self._record(unit.problem, solution.steps, solution, labels, list(mc)))
        return records

    def annotate(
        self,
        units: Sequence[AnnotationUnit],
        *,
        key: object = 0,
        on_done: Callable[[int], None] | None = None,
    ) -> list[LabelledSolution]:
        """MC-label every unit (rollouts batched), score all solutions with the judge in one call, keep the agreed.

        Raises:
            RuntimeError: the judge returned the wrong number of solutions or of step scores.
        """
        records = super().annotate(units, key=key, on_done=on_done)
        if not records:
            return []
        scores = self.judge.score([(r.problem.question, list(r.solution.steps)) for r in records])
        if len(scores) != len(records):
            raise RuntimeError(f"consensus: judge {judge_name(self.judge)} returned {len(scores)} results for {len(records)} solutions")
        kept: list[LabelledSolution] = []
        for record, steps_scores in zip(records, scores):
            if len(steps_scores) != len(record.solution.steps):
                raise RuntimeError(
                    f"consensus: judge {judge_name(self.judge)} gave {len(steps_scores)} scores for the "
                    f"{len(record.solution.steps)} steps of a solution to problem {record.problem.id!r}"
                )
            judged = first_error_from_labels(list(steps_scores), self.config.judge_threshold)
            record.solution.meta["judge"] = list(steps_scores)
            self.seen += 1
            if judged is not None and judged == record.labels.first_error:  # type: ignore[union-attr]
                self.kept += 1
                kept.append(record)
        return kept
