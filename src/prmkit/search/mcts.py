"""Monte Carlo tree search over reasoning steps, guided by a PRM (ReST-MCTS* / rStar style).

References: Zhang et al. 2024, "ReST-MCTS*" (PRM value of a partial solution as the node value)
and Qi et al. 2024, "rStar" (UCT over steps with rollouts). One tree per problem; every iteration
selects one leaf per problem by PUCT, expands it with ``beam_width`` sampled next steps (one
generator call for all problems), values each new child by the aggregated PRM score of its path
(optionally mixed with the PRM score of a full rollout), and backs the values up to the root.

Expansion: identical proposals are one child. The policy often proposes the same step several
times (arith's right steps are the same string; 60 % of the children of the old one-child-per-sample
tree were duplicates), so each distinct step becomes one child whose PUCT prior is the share of
the ``beam_width`` samples that proposed it (AlphaZero's ``P(s, a)``, estimated by sampling):

    select  argmax_a  Q(s, a) + c_puct * P(s, a) * sqrt(N(s)) / (1 + N(s, a))

With a uniform prior over duplicate children instead, PUCT spread the budget over copies of the
same step and over siblings of equal value, so the tree stayed 2-3 steps deep and no solution was
finished at N <= 16.

Broken steps and widening (``config.widen_below``, default 0.5): a child whose PRM path score is
below ``widen_below`` x its parent's is *broken* (with the exact oracle: a wrong step). A broken
leaf is not continued (none of its descendants can score above it under ``min``); when PUCT selects
one, the search instead samples ``beam_width`` more steps at the deepest ancestor all of whose
children are dead (broken, or expanded :data:`WIDEN_LIMIT` times with only dead children) —
the node where the path broke — so a fixed first draw of four wrong proposals is not the end of
that prefix. Without it, the rest of the budget went into continuing wrong prefixes and re-visiting
wrong terminals (a tree with every child of a right prefix wrong never recovered).

Measured with the exact oracle on 64 held-out arith problems (``benchmarks/search_compute.py
--variants dvts mcts``): MCTS was 54.7 % at 142 policy tokens/problem (N = 16) and 65.6 % at 251
(N = 32); with distinct children, widening and terminal voting 70.3 % at 124 and 96.9 % at 156,
against DVTS's 82.8 % at 145 and 92.2 % at 288.

The answer: the tree's finished solutions (terminal nodes) are the candidates and
``config.selection`` picks one, as in every other method (ReST-MCTS* takes the best-valued
terminal, i.e. ``selection="best"``); only when the tree has no finished solution is the
most-visited path completed by one policy sample (at the policy temperature) and answered.

Visit counts: a node gets N = 1 and W = value when it is created and evaluated, and every
ancestor's N and W grow by the same amounts, so for every node ``N == self_visits + sum(children
N)`` (the root has no self visit) — checked by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.models.aggregate import aggregate
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, expand, finalize, prefix_text, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["WIDEN_LIMIT", "Node", "build_trees", "mcts", "walk"]

#: Expansions one node may get (its first and its widenings): past that, a broken path below it
#: widens a node further up instead.
WIDEN_LIMIT = 4


@dataclass
class Node:
    """One step prefix in the tree.

    Attributes:
        prior_value: the node's own value (its path's aggregated PRM score, mixed with a rollout's
            when ``rollout_weight > 0``).
        path_score: its path's aggregated PRM score alone (what ``broken`` compares; the root's is 1).
        count: expansion samples of the parent that proposed this step; samples: expansion
            samples drawn from this node, so a child's prior is ``child.count / node.samples``.
    """

    partial: Partial
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0
    self_visits: int = 0
    prior_value: float = 0.0
    path_score: float = 1.0
    count: int = 1
    samples: int = 0
    exhausted: bool = False  # drew its WIDEN_LIMIT expansions: no more widening

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else self.prior_value

    @property
    def prior(self) -> float:
        """P(s, a): the share of the parent's samples that proposed this step (1 for the root)."""
        return self.count / self.parent.samples if self.parent is not None and self.parent.samples else 1.0

    def broken(self, widen_below: float) -> bool:
        """Whether this step lost most of its parent's PRM path score (< widen_below x the parent's).

        The path score, not the rollout-mixed value: a rollout is one noisy sample of the future,
        the path score is the PRM's verdict on the steps themselves."""
        return self.parent is not None and self.path_score < widen_below * self.parent.path_score

    def backup(self, value: float, count: int = 1) -> None:
        node: Node | None = self
        while node is not None:
            node.visits += count
            node.value_sum += value
            node = node.parent

    def select_leaf(self, c_puct: float) -> Node:
        """Descend by PUCT (each child's sampled prior) to a node without children."""
        node = self
        while node.children:
            total = sum(child.visits for child in node.children)
            node = max(node.children, key=lambda ch: ch.q + c_puct * ch.prior * math.sqrt(total) / (1 + ch.visits))
        return node

    def dead(self, widen_below: float) -> bool:
        """Broken, or exhausted with every child dead: nothing below it can still be improved."""
        if self.broken(widen_below):
            return True
        return self.exhausted and bool(self.children) and all(child.dead(widen_below) for child in self.children)

    def widening_target(self, widen_below: float) -> Node | None:
        """For a broken leaf: the node to sample more steps at, or None (just re-visit the leaf).

        Climbing from the leaf's parent: the first node whose children are all dead is the target
        unless it is exhausted (then it is dead too and the climb goes on); a node with a live
        child stops the climb (PUCT will turn to that child).
        """
        if widen_below <= 0 or not self.broken(widen_below):
            return None
        node = self.parent
        while node is not None:
            if not all(child.dead(widen_below) for child in node.children):
                return None
            if not node.exhausted:
                return node
            node = node.parent
        return None


def mcts(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """Search every problem's tree (:func:`build_trees`), then answer from its finished solutions."""
    roots = build_trees(task, generator, scorer, problems, config)
    terminals = [[n.partial for n in walk(root) if n.partial.finished] for root in roots]
    bare = [i for i, found in enumerate(terminals) if not found]
    for i, completed in zip(bare, _complete_most_visited(task, generator, scorer, problems, roots, bare, config)):
        terminals[i] = [completed]
    budget.stop()
    return [
        finalize(
            task, problem, "mcts", terminals[i], budget, selection=config.selection, aggregation=config.aggregation,
            meta={"root_visits": roots[i].visits, "tree_size": sum(1 for _ in walk(roots[i])) - 1,
                  "terminals": 0 if i in bare else len(terminals[i]), "completed": i in bare},
        )  # fmt: skip
        for i, problem in enumerate(problems)
    ]


def build_trees(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig
) -> list[Node]:
    """Grow one tree per problem: ``n / beam_width`` expansions of ``beam_width`` samples each; returns the roots.

    Selecting a finished leaf, one at ``max_steps`` or a broken one (see the module docstring) backs
    its value up again without generating (a visit, not an expansion); at most ``4 x`` the
    expansion count of iterations are run. Also what the tree annotators (``rest-mcts``,
    ``ppm-pairs``) label from.
    """
    config.check_width("mcts")
    roots = [Node(Partial(), prior_value=1.0, path_score=1.0) for _ in problems]
    expansions = config.n // config.beam_width
    remaining = [expansions] * len(problems)
    for iteration in range(4 * expansions):  # terminal re-visits cost no generation but are capped
        leaves: list[tuple[int, Node]] = []
        for i, root in enumerate(roots):
            if remaining[i] == 0:
                continue
            leaf = root.select_leaf(config.c_puct)
            if not leaf.partial.finished and len(leaf.partial.steps) < config.max_steps and not leaf.broken(config.widen_below):
                leaves.append((i, leaf))
                remaining[i] -= 1
            elif (target := leaf.widening_target(config.widen_below)) is not None:
                leaves.append((i, target))  # a broken end: more proposals where the path broke, not deeper
                remaining[i] -= 1
            else:
                leaf.self_visits += 1  # terminal: back its value up again instead of expanding
                leaf.backup(leaf.prior_value)
        if not any(remaining) and not leaves:
            break
        if not leaves:
            continue
        children = expand(
            task, generator, [(problems[i], leaf.partial, config.beam_width) for i, leaf in leaves],
            temperature=config.temperature, max_step_tokens=config.max_step_tokens, seed=config.seed + 1000 * iteration,
        )
        new_nodes = [(i, node) for (i, leaf), kids in zip(leaves, children) for node in _add_samples(leaf, kids)]
        score_partials(scorer, [(problems[i], node.partial) for i, node in new_nodes])
        values = [aggregate(node.partial.scores, config.aggregation) for _, node in new_nodes]
        for (_, node), score in zip(new_nodes, values):
            node.path_score = score
        if config.rollout_weight > 0:
            rollout_values = _rollout_values(task, generator, scorer, problems, new_nodes, config, iteration)
            values = [(1 - config.rollout_weight) * v + config.rollout_weight * r for v, r in zip(values, rollout_values)]
        for (_, node), value in zip(new_nodes, values):
            node.prior_value = value
            node.self_visits = 1
            node.parent.children.append(node)  # type: ignore[union-attr]
            node.backup(value)
    return roots


def _add_samples(node: Node, kids: list[Partial]) -> list[Node]:
    """Count an expansion's samples at ``node``; returns the new distinct children (not yet attached).

    A proposal equal to an existing child (same steps, same finished flag) or to an earlier
    proposal of this expansion only raises that child's ``count``. A node expanded
    :data:`WIDEN_LIMIT` times is exhausted (no more widening there).
    """
    node.samples += len(kids)
    known = {(tuple(child.partial.steps), child.partial.finished): child for child in node.children}
    fresh: list[Node] = []
    for kid in kids:
        key = (tuple(kid.steps), kid.finished)
        if key in known:
            known[key].count += 1
        else:
            known[key] = Node(kid, parent=node, count=1)
            fresh.append(known[key])
    node.exhausted = node.samples >= WIDEN_LIMIT * len(kids)
    return fresh


def walk(node: Node) -> Iterator[Node]:
    """``node`` and all its descendants, depth first, children in insertion order."""
    yield node
    for child in node.children:
        yield from walk(child)


def _rollout_values(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem],
    nodes: list[tuple[int, Node]], config: SearchConfig, iteration: int,
) -> list[float]:
    """Complete each unfinished new node once at the policy temperature and score the full rollout
    (a finished node is its own rollout: its path score is returned without generating)."""
    open_nodes = [(i, node) for i, node in nodes if not node.partial.finished]
    rows = generator.complete(
        [prefix_text(task, problems[i], node.partial.steps) for i, node in open_nodes], n=1, stop=None,
        max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed + 7919 * (iteration + 1),
    )
    rollouts = [
        (problems[i], Partial(steps=node.partial.steps + task.split_steps(row[0].text)))
        for (i, node), row in zip(open_nodes, rows)
    ]
    score_partials(scorer, rollouts)
    rolled = {id(node): aggregate(p.scores, config.aggregation) for (_, node), (_, p) in zip(open_nodes, rollouts)}
    return [rolled.get(id(node), aggregate(node.partial.scores, config.aggregation)) for _, node in nodes]


def _complete_most_visited(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem],
    roots: list[Node], which: list[int], config: SearchConfig,
) -> list[Partial]:
    """For the trees ``which`` (none finished a solution): follow max-visit children and complete the end
    by one policy sample (one call for all), scored.

    The completion uses the policy temperature, not greedy decoding, so a small tree's answer is
    not simply the greedy answer in disguise.
    """
    ends = []
    for i in which:
        node = roots[i]
        while node.children:
            node = max(node.children, key=lambda ch: (ch.visits, ch.q))
        ends.append(node.partial)
    if not ends:
        return []
    rows = generator.complete(
        [prefix_text(task, problems[i], end.steps) for i, end in zip(which, ends)], n=1, stop=None,
        max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed,
    )
    completed = [
        Partial(steps=end.steps + task.split_steps(row[0].text), num_tokens=end.num_tokens + row[0].num_tokens, finished=True)
        for end, row in zip(ends, rows)
    ]
    score_partials(scorer, [(problems[i], part) for i, part in zip(which, completed)])
    return completed
