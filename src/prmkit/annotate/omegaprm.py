"""OmegaPRM: locate the first error by binary search with Monte Carlo estimates, choosing which
rollout to search with an MCTS-style rule.

Reference: Luo et al. 2024, "Improve Mathematical Reasoning in Language Models by Automated Process
Supervision" (arXiv 2406.06592), §3.3 and Algorithm 1. A *state* ``s`` is a question plus a step
prefix; ``MC(s)`` is the fraction of ``k`` rollouts from ``s`` that reach the gold answer, and a
prefix counts as correct when ``MC(s) > 0``. The search keeps a pool of (state, incorrect rollout)
pairs with ``0 < MC(s) < 1`` and repeatedly

1. **selects** ``argmax Q(s, r) + U(s)`` with
   ``Q(s, r) = alpha ** (1 - MC(s)) * beta ** (len(r) / L)`` (prefer wrong rollouts from states
   that are usually right, and short rollouts; ``len(r)`` in tokens) and
   ``U(s) = c_puct * sqrt(sum_i N(s_i)) / (1 + N(s))`` (``N(s)``: times ``s`` was selected);
2. **binary searches** the selected rollout for its first error: split ``s + r`` at the midpoint of
   the still-unsearched steps, estimate MC of that prefix with ``k`` rollouts, continue in the right
   half when ``MC > 0`` and in the left half otherwise. Every estimated prefix becomes a state;
   those with ``0 < MC < 1`` add their incorrect rollouts to the pool;
3. **maintains** the statistics: ``N(s) += 1`` for the selected state (done at selection), MC and Q
   for the new states. An MC estimate is made once per distinct prefix and then reused.

until the pool is empty or the question's rollout ``budget`` cannot pay for another estimate.
Defaults follow the paper: ``alpha=0.5, beta=0.9, L=500, c_puct=0.125``.

Two modes (``OmegaPRMConfig.mode``):

``"tree"`` (the paper's algorithm): the root is the question alone, estimated with ``k`` rollouts;
a question whose root MC is 0 or 1 has nothing to search and yields no records. Each searched
rollout ``s + r`` becomes one record.

``"solution"``: binary search on each *given* solution (e.g. solutions sampled from the policy,
which is what ``prmkit demo`` labels). A solution whose own final answer is right is labelled all
correct at no cost; otherwise the search runs between the empty prefix (taken as correct) and the
whole solution (known wrong), costing ``k * ceil(log2 T)`` rollouts for ``T`` steps instead of
per-step MC's ``k * (T - 1)``. The selection rule plays no part here (there is nothing to choose
between); ``budget`` is not used.

Output per record: ``StepLabels(labels, first_error, source="omegaprm", rollouts)`` with hard labels
1.0 before the located first error, 0.0 at it and ``None`` after (steps after the first error are
not judged), ``rollouts`` = the rollouts this record's binary search spent, and every MC value that
was measured along the solution in ``solution.meta["mc"]`` (``None`` where not measured). A search
cut short by the budget yields 1.0 up to the last prefix known correct, ``None`` after, and
``first_error=None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prmkit.annotate._base import AnnotationUnit, Annotator, RolloutConfig, hard_labels
from prmkit.annotate._rollouts import Rollout, RolloutRequest, UnitCoroutine
from prmkit.types import LabelledSolution, Problem, StepLabels

__all__ = ["OmegaPRMAnnotator", "OmegaPRMConfig", "SearchTree", "TreeState", "q_value", "u_value"]

_MODES = ("tree", "solution")


@dataclass
class OmegaPRMConfig(RolloutConfig):
    """Settings of :class:`OmegaPRMAnnotator` (``n`` is the paper's k, rollouts per MC estimate)."""

    mode: str = field(default="tree", metadata={"help": "'tree' (paper's search over rollouts) or 'solution'"})
    alpha: float = field(default=0.5, metadata={"help": "Q: alpha ** (1 - MC(s)) favours states that are usually right"})
    beta: float = field(default=0.9, metadata={"help": "Q: beta ** (len(r) / L) penalises long rollouts"})
    length_scale: float = field(default=500.0, metadata={"help": "L in Q, in tokens"})
    c_puct: float = field(default=0.125, metadata={"help": "exploration weight of U(s)"})
    budget: int = field(default=100, metadata={"help": "rollouts per question in tree mode, root estimate included"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in _MODES:
            raise ValueError(f"OmegaPRMConfig.mode must be one of {_MODES}, got {self.mode!r}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"OmegaPRMConfig.{name} must be in (0, 1] (paper: alpha, beta in (0, 1]), got {value!r}")
        if self.length_scale <= 0 or self.c_puct < 0:
            raise ValueError(
                f"OmegaPRMConfig: need length_scale > 0 and c_puct >= 0, got {self.length_scale!r}, {self.c_puct!r}"
            )
        if self.budget < self.n:
            raise ValueError(
                f"OmegaPRMConfig.budget = {self.budget} cannot pay for one MC estimate of n = {self.n} rollouts; "
                "raise budget or lower n"
            )


def q_value(mc: float, length: float, *, alpha: float, beta: float, length_scale: float) -> float:
    """``Q(s, r) = alpha ** (1 - MC(s)) * beta ** (len(r) / L)`` (Luo et al. 2024, §3.3)."""
    return alpha ** (1.0 - mc) * beta ** (length / length_scale)


def u_value(visits: int, total_visits: int, *, c_puct: float) -> float:
    """``U(s) = c_puct * sqrt(sum_i N(s_i)) / (1 + N(s))`` (Luo et al. 2024, §3.3)."""
    return c_puct * math.sqrt(total_visits) / (1 + visits)


@dataclass
class TreeState:
    """A searched prefix: its MC estimate, the rollouts behind it and how often it was selected."""

    prefix: tuple[str, ...]
    mc: float
    rollouts: list[Rollout]
    visits: int = 0


class SearchTree:
    """The states of one question's search and the pool of (state, incorrect rollout) candidates.

    States are keyed by their step prefix, so an MC estimate is never made twice for one prefix.
    """

    def __init__(self, config: OmegaPRMConfig) -> None:
        self.config = config
        self.states: dict[tuple[str, ...], TreeState] = {}
        self.pool: list[tuple[TreeState, Rollout]] = []

    def add(self, prefix: tuple[str, ...], rollouts: list[Rollout]) -> TreeState:
        """Add a state from its ``k`` rollouts; pool its incorrect rollouts if ``0 < MC < 1``.

        Raises:
            ValueError: the prefix already has an estimate (estimating twice wastes rollouts).
        """
        if prefix in self.states:
            raise ValueError(f"SearchTree: prefix of {len(prefix)} steps already estimated; reuse states[prefix]")
        state = TreeState(prefix, sum(r.correct for r in rollouts) / len(rollouts), list(rollouts))
        self.states[prefix] = state
        if 0.0 < state.mc < 1.0:
            # A rollout without steps cannot be searched: there is no step to blame.
            self.pool.extend((state, r) for r in rollouts if not r.correct and r.steps)
        return state

    def total_visits(self) -> int:
        return sum(state.visits for state in self.states.values())

    def score(self, state: TreeState, rollout: Rollout) -> float:
        """``Q(s, r) + U(s)`` of one candidate."""
        c = self.config
        q = q_value(state.mc, rollout.num_tokens, alpha=c.alpha, beta=c.beta, length_scale=c.length_scale)
        return q + u_value(state.visits, self.total_visits(), c_puct=c.c_puct)

    def select(self) -> tuple[TreeState, Rollout]:
        """Pop the candidate with the highest ``Q + U`` (first one on ties) and count the visit.

        Raises:
            IndexError: the pool is empty.
        """
        if not self.pool:
            raise IndexError("SearchTree.select: the candidate pool is empty")
        best = max(range(len(self.pool)), key=lambda i: (self.score(*self.pool[i]), -i))
        state, rollout = self.pool.pop(best)
        state.visits += 1
        return state, rollout


class OmegaPRMAnnotator(Annotator):
    """First-error labels by OmegaPRM binary search (see the module docstring for both modes).

    Args:
        generator: the completer (the policy).
        task: prompts, step separator and answer grading.
        config: an :class:`OmegaPRMConfig`; keyword ``overrides`` replace its fields.
    """

    name = "omegaprm"
    config_class = OmegaPRMConfig
    config: OmegaPRMConfig

    @property
    def needs_solutions(self) -> bool:
        return self.config.mode == "solution"

    def unit(self, unit: AnnotationUnit) -> UnitCoroutine:
        if self.config.mode == "solution":
            return self._solutions(unit)
        return self._tree(unit.problem)

    # -- mode "solution": binary search on each given solution ----------------------------------

    def _solutions(self, unit: AnnotationUnit) -> UnitCoroutine:
        problem, solutions, k = unit.problem, unit.solutions or [], self.config.n
        # Per solution: [lo, hi]: steps[:lo] known correct, steps[:hi] known wrong.
        bounds: list[list[int] | None] = []
        mcs: list[list[float | None]] = []
        spent = [0] * len(solutions)
        for solution in solutions:
            correct = self._final_correct(problem, solution.steps)[1]
            mcs.append([None] * (len(solution.steps) - 1) + [1.0 if correct else 0.0])
            bounds.append(None if correct else [0, len(solution.steps)])
        while True:
            active = [i for i, b in enumerate(bounds) if b is not None and b[1] - b[0] > 1]
            if not active:
                break
            mids = {i: (bounds[i][0] + bounds[i][1]) // 2 for i in active}  # type: ignore[index]
            rollouts = yield [RolloutRequest(problem, tuple(solutions[i].steps[: mids[i]]), k) for i in active]
            for i, found in zip(active, rollouts):
                mc = sum(r.correct for r in found) / k
                mcs[i][mids[i] - 1] = mc
                spent[i] += k
                bounds[i][0 if mc > 0 else 1] = mids[i]  # type: ignore[index]
        records: list[LabelledSolution] = []
        for i, solution in enumerate(solutions):
            first_error = -1 if bounds[i] is None else bounds[i][1] - 1  # type: ignore[index]
            labels = StepLabels(hard_labels(first_error, len(solution.steps)), first_error, "omegaprm", spent[i])
            records.append(self._record(problem, solution.steps, solution, labels, mcs[i]))
        return records

    # -- mode "tree": the paper's Algorithm 1 ---------------------------------------------------

    def _tree(self, problem: Problem) -> UnitCoroutine:
        c, k = self.config, self.config.n
        tree = SearchTree(c)
        (root_rollouts,) = yield [RolloutRequest(problem, (), k)]
        tree.add((), root_rollouts)
        spent = k
        records: list[LabelledSolution] = []
        while tree.pool and spent + k <= c.budget:
            state, rollout = tree.select()
            full = state.prefix + rollout.steps
            lo, hi = len(state.prefix), len(full)  # full[:lo] has MC > 0; full[:hi] is a wrong answer
            search_cost = 0
            while hi - lo > 1 and spent + k <= c.budget:
                mid = (lo + hi) // 2
                prefix = full[:mid]
                if prefix not in tree.states:
                    (found,) = yield [RolloutRequest(problem, prefix, k)]
                    tree.add(prefix, found)
                    spent += k
                    search_cost += k
                if tree.states[prefix].mc > 0:
                    lo = mid
                else:
                    hi = mid
            mc: list[float | None] = [
                tree.states[full[:t]].mc if full[:t] in tree.states else None for t in range(1, len(full) + 1)
            ]
            mc[-1] = 0.0  # the rollout's own answer is wrong
            if hi - lo == 1:
                labels = StepLabels(hard_labels(hi - 1, len(full)), hi - 1, "omegaprm", search_cost)
            else:  # out of budget mid-search: only the prefix known correct is labelled
                labels = StepLabels([1.0] * lo + [None] * (len(full) - lo), None, "omegaprm", search_cost)
            record = self._record(problem, full, None, labels, mc)
            record.solution.meta.update(root_mc=tree.states[()].mc, searched_from=len(state.prefix))
            records.append(record)
        return records
