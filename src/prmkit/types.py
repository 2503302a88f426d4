"""The plain data records prmkit passes around, with a lossless JSON round-trip.

Every record is a frozen-free dataclass of JSON-native fields, so ``X.from_dict(x.to_dict()) == x``
holds for all of them; JSONL files hold one ``to_dict()`` per line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = ["Problem", "Solution", "StepLabels", "Completion", "LabelledSolution", "StepPair", "first_error_from_labels"]


class _JSONRecord:
    """Mixin: ``to_dict`` / ``from_dict`` for dataclasses whose fields are JSON-native."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}; expected {sorted(names)}")
        return cls(**data)


@dataclass
class Problem(_JSONRecord):
    """A question with its gold final answer.

    Attributes:
        id: unique id within its dataset (e.g. ``"gsm8k-17"``).
        question: the problem text shown to the policy / PRM.
        answer: gold final answer as a string (``None`` when unknown).
        meta: free-form extras (source, difficulty, the arith task's exact operations, ...).
    """

    id: str
    question: str
    answer: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Solution(_JSONRecord):
    """A step-split solution to a problem, optionally with its final-answer correctness.

    Attributes:
        problem_id: the :class:`Problem` id it answers.
        steps: the reasoning steps, each non-empty.
        answer: the extracted final answer (``None`` when none could be extracted).
        correct: whether the final answer is right (``None`` when unknown).
        meta: free-form extras (generator name, sampling seed, token counts, ...).
    """

    problem_id: str
    steps: list[str]
    answer: str | None = None
    correct: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepLabels(_JSONRecord):
    """Process labels for one solution.

    Attributes:
        labels: one entry per step: P(step is correct) in [0, 1] (hard labels are 0.0/1.0, MC
            estimates are fractions), or ``None`` where the step's label is unknown.
        first_error: 0-based index of the earliest wrong step, ``-1`` when every step is right,
            ``None`` when unknown (ProcessBench semantics: steps after the first error are not
            judged on their own).
        source: who produced the labels (``"human"``, ``"mc"``, ``"omegaprm"``, ``"exact"``, ...).
        rollouts: how many policy rollouts producing these labels cost (0 for human/exact).
    """

    labels: list[float | None]
    first_error: int | None = None
    source: str = "unknown"
    rollouts: int = 0

    def __post_init__(self) -> None:
        for i, value in enumerate(self.labels):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"StepLabels.labels[{i}] = {value!r} is outside [0, 1]")
        if self.first_error is not None and not -1 <= self.first_error < len(self.labels):
            raise ValueError(
                f"StepLabels.first_error = {self.first_error} is not -1 or a step index < {len(self.labels)}"
            )


@dataclass
class Completion(_JSONRecord):
    """One sampled continuation from a :class:`~prmkit.generation.Generator`.

    Attributes:
        text: the generated text (without the prompt; includes the stop string when one was hit).
        num_tokens: how many tokens the policy generated for it (the compute budget unit).
        finish_reason: ``"stop"`` (stop string), ``"eos"`` or ``"length"``.
    """

    text: str
    num_tokens: int
    finish_reason: str = "eos"


@dataclass
class LabelledSolution:
    """A problem, one solution to it, and (optionally) its process labels: the common currency of
    the dataset readers/writers in :mod:`prmkit.io` and of ``prmkit convert``."""

    problem: Problem
    solution: Solution
    labels: StepLabels | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.to_dict(),
            "solution": self.solution.to_dict(),
            "labels": None if self.labels is None else self.labels.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelledSolution:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: unknown fields, or labels whose count differs from the step count (every
                step needs exactly one label, ``null`` when unknown).
        """
        labels = data.get("labels")
        record = cls(
            problem=Problem.from_dict(data["problem"]),
            solution=Solution.from_dict(data["solution"]),
            labels=None if labels is None else StepLabels.from_dict(labels),
        )
        if record.labels is not None and len(record.labels.labels) != len(record.solution.steps):
            raise ValueError(
                f"problem {record.problem.id!r}: labels.labels has {len(record.labels.labels)} entries for "
                f"{len(record.solution.steps)} steps; give one label per step (null when unknown)"
            )
        return record


@dataclass
class StepPair:
    """A step preference: after ``prefix``, continuing with ``chosen`` is better than with ``rejected``.

    What the ``ppm-pairs`` annotator writes and the pairwise (Bradley-Terry) PRM trainer reads: the
    reward of ``prefix + chosen`` (the score of its last step) should exceed that of
    ``prefix + rejected``. ``chosen`` / ``rejected`` are one step each for an intermediate pair,
    whole solutions (with an empty ``prefix``) for a final-answer pair.

    Attributes:
        problem: the question.
        prefix: the shared steps before the two alternatives.
        chosen, rejected: the preferred and the dispreferred continuation (non-empty step lists).
        q_chosen, q_rejected: the values that ranked them (e.g. MCTS Q-values).
        source: who made the pair (``"ppm-pairs"``, ...).
        rollouts: policy samples charged to this pair (a tree's whole cost goes to its first pair).
        meta: free-form extras.
    """

    problem: Problem
    prefix: list[str]
    chosen: list[str]
    rejected: list[str]
    q_chosen: float
    q_rejected: float
    source: str = "unknown"
    rollouts: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.chosen or not self.rejected:
            raise ValueError(f"StepPair for problem {self.problem.id!r}: chosen and rejected need at least one step each")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "problem": self.problem.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepPair:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: unknown fields or an empty side.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"StepPair: unknown field(s) {sorted(unknown)}; expected {sorted(names)}")
        return cls(**{**data, "problem": Problem.from_dict(data["problem"])})


def first_error_from_labels(labels: list[float | None], threshold: float = 0.5) -> int | None:
    """Earliest step whose label is below ``threshold``; -1 if none; None if an unknown label comes first."""
    for i, value in enumerate(labels):
        if value is None:
            return None
        if value < threshold:
            return i
    return -1
