"""Monte Carlo tree search over reasoning steps, guided by a PRM (ReST-MCTS* / rStar style).

References: Zhang et al. 2024, "ReST-MCTS*" (PRM value of a partial solution as the node value)
and Qi et al. 2024, "rStar" (UCT over steps with rollouts). One tree per problem; every iteration
selects one leaf per problem by PUCT, expands it with ``beam_width`` proposed steps (one generator
call for all problems), values each child by the aggregated PRM score of its path (optionally mixed
with the PRM score of a full rollout), and backs the values up to the root. The answer follows the
most-visited child from the root (completing it with one policy sample if that path is unfinished).

Visit counts: a node gets N = 1 and W = value when it is created and evaluated, and every
ancestor's N and W grow by the same amounts, so for every node ``N == self_visits + sum(children
N)`` (the root has no self visit) — checked by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.models.aggregate import aggregate
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, expand, finalize, prefix_text, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["Node", "mcts"]


@dataclass
class Node:
    partial: Partial
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0
    self_visits: int = 0
    prior_value: float = 0.0

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else self.prior_value

    def backup(self, value: float, count: int = 1) -> None:
        node: Node | None = self
        while node is not None:
            node.visits += count
            node.value_sum += value
            node = node.parent

    def select_leaf(self, c_puct: float) -> Node:
        """Descend by PUCT (uniform prior over children) to a node without children."""
        node = self
        while node.children:
            total = sum(child.visits for child in node.children)
            prior = 1.0 / len(node.children)
            node = max(
                node.children,
                key=lambda ch: ch.q + c_puct * prior * math.sqrt(total) / (1 + ch.visits),
            )
        return node


def mcts(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """``n / beam_width`` expansions per problem of ``beam_width`` children each.

    Selecting a finished leaf backs its value up again without generating (it counts as a visit,
    not as an expansion); at most ``4 x`` the expansion count of iterations are run.
    """
    config.check_width("mcts")
    roots = [Node(Partial()) for _ in problems]
    expansions = config.n // config.beam_width
    remaining = [expansions] * len(problems)
    for iteration in range(4 * expansions):  # terminal re-visits cost no generation but are capped
        leaves: list[tuple[int, Node]] = []
        for i, root in enumerate(roots):
            if remaining[i] == 0:
                continue
            leaf = root.select_leaf(config.c_puct)
            if leaf.partial.finished or len(leaf.partial.steps) >= config.max_steps:
                leaf.self_visits += 1  # terminal: back its value up again instead of expanding
                leaf.backup(leaf.prior_value)
            else:
                leaves.append((i, leaf))
                remaining[i] -= 1
        if not any(remaining) and not leaves:
            break
        if not leaves:
            continue
        children = expand(
            task, generator, [(problems[i], leaf.partial, config.beam_width) for i, leaf in leaves],
            temperature=config.temperature, max_step_tokens=config.max_step_tokens, seed=config.seed + 1000 * iteration,
        )
        new_nodes = [(i, Node(kid, parent=leaf)) for (i, leaf), kids in zip(leaves, children) for kid in kids]
        score_partials(scorer, [(problems[i], node.partial) for i, node in new_nodes])
        values = [aggregate(node.partial.scores, config.aggregation) for _, node in new_nodes]
        if config.rollout_weight > 0:
            rollout_values = _rollout_values(task, generator, scorer, problems, new_nodes, config, iteration)
            values = [(1 - config.rollout_weight) * v + config.rollout_weight * r for v, r in zip(values, rollout_values)]
        for (_, node), value in zip(new_nodes, values):
            node.prior_value = value
            node.self_visits = 1
            node.parent.children.append(node)  # type: ignore[union-attr]
            node.backup(value)
    chosen_paths = _most_visited_paths(task, generator, scorer, problems, roots, config)
    budget.stop()
    results = []
    for i, problem in enumerate(problems):
        terminals = [n.partial for n in _walk(roots[i]) if n.partial.finished]
        final = chosen_paths[i]
        chosen = next((k for k, t in enumerate(terminals) if t is final), None)
        if chosen is None:
            terminals.append(final)
            chosen = len(terminals) - 1
        result = finalize(
            task, problem, "mcts", terminals, budget, selection=config.selection,
            aggregation=config.aggregation, chosen=chosen,
            meta={"root_visits": roots[i].visits, "tree_size": sum(1 for _ in _walk(roots[i])) - 1},
        )
        results.append(result)
    return results


def _walk(node: Node):  # noqa: ANN202 - a small private generator
    yield node
    for child in node.children:
        yield from _walk(child)


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


def _most_visited_paths(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem],
    roots: list[Node], config: SearchConfig,
) -> list[Partial]:
    """Follow max-visit children; unfinished ends are completed by one policy sample (one call) and scored.

    The completion uses the policy temperature, not greedy decoding, so a small tree's answer is
    not simply the greedy answer in disguise.
    """
    ends = []
    for root in roots:
        node = root
        while node.children:
            node = max(node.children, key=lambda ch: (ch.visits, ch.q))
        ends.append(node.partial)
    open_ends = [i for i, end in enumerate(ends) if not end.finished]
    if open_ends:
        rows = generator.complete(
            [prefix_text(task, problems[i], ends[i].steps) for i in open_ends], n=1, stop=None,
            max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed,
        )
        completed = []
        for i, row in zip(open_ends, rows):
            steps = ends[i].steps + task.split_steps(row[0].text)
            ends[i] = Partial(steps=steps, num_tokens=ends[i].num_tokens + row[0].num_tokens, finished=True)
            completed.append((problems[i], ends[i]))
        score_partials(scorer, completed)
    return ends
