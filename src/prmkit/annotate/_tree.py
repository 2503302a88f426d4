"""What the tree annotators (``rest-mcts``, ``ppm-pairs``) share: an MCTS tree per question and its statistics.

Each question gets one tree from :func:`prmkit.search.mcts.build_trees` (the search's MCTS: PUCT
over distinct sampled steps, widening of nodes whose proposals all broke the prefix). The tree is
guided by ``guide``, any :class:`~prmkit.models.Scorer` (a PRM checkpoint, ``arith-oracle``, ...),
or by default by :class:`OutcomeGuide`: the gold final answer only (a step that states a wrong
answer scores 0, every other step 1), i.e. MCTS with terminal rewards and no learned value, the
setting in which ReST-MCTS* and rStar-Math bootstrap their first round. Since that guide knows
nothing before an answer is stated, a new node is by default valued by one policy rollout from it
(``rollout_weight=1``: classic MCTS simulation, rStar-Math's terminal-guided rollouts); the
rollouts steer the search only, the labels are read from the tree's own finished solutions.

What the labels are read from, per node ``n`` (:func:`tree_stats`): the finished solutions
(terminal nodes) below it, ``finished(n)`` of them, ``correct(n)`` with the gold answer;

    Q(n)     = correct(n) / finished(n)   (None when no finished solution is below n)
    dist(n)  = fewest steps from n to a correct terminal below it (None when there is none)

``Q`` is the terminal-guided Q-value of rStar-Math (rounds 1-2: a node's value is the mean
terminal reward of the trajectories through it, each finished trajectory counted once);
``dist`` is ReST-MCTS*'s reasoning distance ``m_k``. The search's own PUCT value (``node.q``:
backed-up guide scores) is kept next to them in the records' meta.

Cost: every policy sample the tree drew (``beam_width`` per expansion, plus one completion per new
node when ``rollout_weight > 0``) counts as a rollout; a question's whole cost is charged to its
first record, and the annotator's ``roller`` counts calls and tokens like every other annotator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig
from prmkit.annotate._rollouts import Roller, UnitCoroutine, derive_seed, grade, prefix_text
from prmkit.annotate.consensus import judge_name
from prmkit.generation import Generator
from prmkit.search.config import SearchConfig
from prmkit.search.mcts import Node, build_trees, walk
from prmkit.tasks import Task
from prmkit.types import Completion, Problem

__all__ = ["NodeStats", "OutcomeGuide", "TreeAnnotator", "TreeConfig", "terminal_paths", "tree_stats"]


@dataclass
class TreeConfig(RolloutConfig):
    """Settings of the tree annotators: the MCTS that grows each question's tree.

    ``max_new_tokens`` caps a rollout (``rollout_weight > 0``); ``temperature`` and ``seed`` are the
    search's; ``batch_size`` is unused (the search sends all questions of a shard per call).
    """

    n: int = field(
        default=32, metadata={"help": "policy step samples per question (the MCTS budget N; a multiple of width)"}
    )
    width: int = field(default=4, metadata={"help": "step samples per expansion (distinct ones become children)"})
    c_puct: float = field(default=1.0, metadata={"help": "PUCT exploration weight"})
    widen_below: float = field(
        default=0.5, metadata={"help": "a step below this share of its parent's value is broken (0 = off)"}
    )
    rollout_weight: float = field(
        default=1.0,
        metadata={
            "help": "weight of one full rollout's guide score in a new node's value (0: the guide's path score only)"
        },
    )
    max_steps: int = field(default=10, metadata={"help": "deepest solution the tree grows"})
    max_step_tokens: int = field(default=32, metadata={"help": "token limit of one sampled step"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1 or self.n < self.width or self.n % self.width:
            raise ValueError(f"{type(self).__name__}: n = {self.n} must be a positive multiple of width = {self.width}")
        self.search_config(0)  # the remaining checks: SearchConfig's

    def search_config(self, seed: int) -> SearchConfig:
        return SearchConfig(
            n=self.n, beam_width=self.width, max_steps=self.max_steps, max_step_tokens=self.max_step_tokens,
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, c_puct=self.c_puct,
            widen_below=self.widen_below, rollout_weight=self.rollout_weight, seed=seed,
        )  # fmt: skip


class OutcomeGuide:
    """The default guide (a Scorer): a step that states a final answer scores 1.0 if it is the gold one
    and 0.0 if not; every other step 1.0 (nothing is known about it yet).

    Args:
        task: extracts and grades answers.
        problems: the questions searched (found again by their text).
    """

    name = "outcome"

    def __init__(self, task: Task, problems: Sequence[Problem]) -> None:
        self.task = task
        self.problems = {p.question.strip(): p for p in problems}

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float | None]]:
        out: list[list[float | None]] = []
        for question, steps in items:
            problem = self.problems[question.strip()]
            row: list[float | None] = []
            for step in steps:
                answer = self.task.extract_answer(step)
                row.append(1.0 if answer is None or self.task.is_correct(answer, problem) else 0.0)
            out.append(row)
        return out


@dataclass
class NodeStats:
    """What the finished solutions below one node say (see the module docstring)."""

    finished: int = 0
    correct: int = 0
    distance: int | None = None

    @property
    def q(self) -> float | None:
        return self.correct / self.finished if self.finished else None


def tree_stats(task: Task, problem: Problem, root: Node) -> dict[int, NodeStats]:
    """``id(node) -> NodeStats`` for every node of the tree (a terminal is its own only solution)."""
    stats: dict[int, NodeStats] = {}

    def visit(node: Node) -> NodeStats:
        if node.partial.finished:
            right = grade(task, problem, prefix_text(task, node.partial.steps))[1]
            found = NodeStats(1, int(right), 0 if right else None)
        else:
            found = NodeStats()
            for child in node.children:
                below = visit(child)
                found.finished += below.finished
                found.correct += below.correct
                if below.distance is not None and (found.distance is None or below.distance + 1 < found.distance):
                    found.distance = below.distance + 1
        stats[id(node)] = found
        return found

    visit(root)
    return stats


def terminal_paths(root: Node) -> list[tuple[Node, list[Node]]]:
    """Every finished solution with its root-to-terminal path (root excluded), depth first, one node per step.

    A terminal that added no step (the policy ended right after its parent) is represented by its
    parent, whose statistics include it; a terminal without any step is skipped.
    """
    paths = []
    for node in walk(root):
        if node.partial.finished and node.partial.steps:
            path = []
            cursor: Node | None = node
            while cursor is not None and cursor.parent is not None:
                path.append(cursor)
                cursor = cursor.parent
            path.reverse()
            if len(path) > len(node.partial.steps):
                path.pop()
            paths.append((node, path))
    return paths


def tree_cost(root: Node, config: TreeConfig) -> int:
    """Policy samples the tree drew: every expansion's, plus a rollout per new unfinished node when rolling out."""
    samples = sum(node.samples for node in walk(root))
    if config.rollout_weight > 0:
        samples += sum(1 for node in walk(root) if node.parent is not None and not node.partial.finished)
    return samples


class _Counted:
    """A Generator that adds every call to a :class:`Roller`'s counters (calls, rollouts, tokens)."""

    def __init__(self, roller: Roller) -> None:
        self.roller = roller

    def complete(self, prompts: Sequence[str], **options: Any) -> list[list[Completion]]:
        out = self.roller.generator.complete(prompts, **options)
        self.roller.calls += 1
        self.roller.rollouts += sum(len(row) for row in out)
        self.roller.tokens += sum(c.num_tokens for row in out for c in row)
        return out


class TreeAnnotator(Annotator):
    """Base of the annotators that label from one MCTS tree per question (they write their own records).

    Subclasses set ``name``, ``config_class`` and write :meth:`label`.

    Args:
        generator: the policy that grows the trees.
        task: prompts, steps and answer grading.
        config: a :class:`TreeConfig` (subclass); keyword ``overrides`` replace its fields.
        guide: the Scorer whose path scores value the nodes (default: :class:`OutcomeGuide`).
    """

    config: TreeConfig

    def __init__(self, generator: Generator, task: Task, config: TreeConfig | None = None, *, guide: Any = None,
                 **overrides: Any) -> None:  # fmt: skip
        if guide is not None and not callable(getattr(guide, "score", None)):
            raise ValueError(f"{self.name}: guide must be a prmkit Scorer (load_scorer(...)) or None, got {guide!r}")
        super().__init__(generator, task, config, **overrides)
        self.guide = guide

    @property
    def needs_solutions(self) -> bool:
        return False

    def config_dict(self) -> dict[str, Any]:
        return {**super().config_dict(), "guide": "outcome" if self.guide is None else judge_name(self.guide)}

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        raise TypeError(f"{self.name} grows one tree per question for a whole batch; call annotate()")

    def annotate(
        self,
        units: Sequence[AnnotationUnit],
        *,
        key: object = 0,
        on_done: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """Grow every unit's tree together (one generator call per search round), then label each.

        ``unit.solutions`` are ignored: the trees are the material. Records come in unit order.
        """
        problems = [unit.problem for unit in units]
        if not problems:
            return []
        guide = self.guide if self.guide is not None else OutcomeGuide(self.task, problems)
        seed = derive_seed(self.config.seed, key)
        roots = build_trees(self.task, _Counted(self.roller), guide, problems, self.config.search_config(seed))
        records: list[Any] = []
        for index, (problem, root) in enumerate(zip(problems, roots)):
            records.extend(
                self.label(problem, root, tree_stats(self.task, problem, root), tree_cost(root, self.config))
            )
            if on_done is not None:
                on_done(index)
        return records

    def label(self, problem: Problem, root: Node, stats: dict[int, NodeStats], cost: int) -> list[Any]:
        """The records of one question's tree (``cost``: its policy samples, charged to the first record)."""
        raise NotImplementedError
