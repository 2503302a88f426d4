"""rStar-Math step preference pairs: steps of one MCTS tree ranked by their Q-values.

Reference: Guan et al. 2025, "rStar-Math: Small LLMs Can Master Math Reasoning with Self-Evolved
Deep Thinking" (arXiv 2501.04519), §3.3. The process preference model (PPM) is not trained on
per-step value targets (Q-values are too noisy to regress on) but on pairs: for every step, the two
candidates with the highest Q-values that lead to a correct final answer are positives, the two with
the lowest Q-values that lead to a wrong one are negatives, and the positive and negative steps of a
pair share the same preceding steps. For the final answer step, where the same prefix rarely ends
in different answers, whole trajectories are paired instead: the two correct trajectories with the
highest average Q against the two wrong ones with the lowest. Trained with the Bradley-Terry loss
``-log sigmoid(r(x, y_pos) - r(x, y_neg))`` (``prmkit train pairwise``).

prmkit's rule on a question's MCTS tree (:mod:`prmkit.annotate._tree`; ``Q(n)`` = share of the
finished solutions below ``n`` with the gold answer):

    at every node s, over its children c that are not finished solutions and have Q(c) defined:
        positives  the <= 2 with correct(c) > 0 of highest Q      (ties: first expanded first)
        negatives  the <= 2 with a wrong solution below, lowest Q
        pairs      every (positive, negative) with Q(positive) > Q(negative):
                   StepPair(prefix = s's steps, chosen = [c+'s step], rejected = [c-'s step])
    final answers: the <= 2 right finished solutions of highest mean Q along their path against the
        <= 2 wrong ones of lowest mean Q: StepPair(prefix = [], chosen / rejected = whole solutions)

so a tree yields at most 4 pairs per node plus 4 final-answer pairs. Output: :class:`~prmkit.types.StepPair`
records (``source="ppm-pairs"``, ``meta["kind"]`` ``"step"`` or ``"final"``, ``meta["depth"]`` the
prefix length); the tree's policy samples are charged to the question's first pair. A tree without
a right and a wrong solution yields none.
"""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.annotate._tree import NodeStats, TreeAnnotator, TreeConfig, terminal_paths
from prmkit.search.mcts import Node, walk
from prmkit.types import Problem, StepPair

__all__ = ["PPMPairsAnnotator", "PPMPairsConfig", "preference_pairs"]

_TOP = 2  # rStar-Math: two positives and two negatives


@dataclass
class PPMPairsConfig(TreeConfig):
    """Settings of :class:`PPMPairsAnnotator` (the tree's MCTS; see :class:`~prmkit.annotate._tree.TreeConfig`)."""


def preference_pairs(
    problem: Problem, root: Node, stats: dict[int, NodeStats], source: str = "ppm-pairs"
) -> list[StepPair]:
    """The step pairs and final-answer pairs of one tree (the rule of the module docstring), rollouts 0."""
    pairs: list[StepPair] = []
    for node in walk(root):
        open_kids = [c for c in node.children if not c.partial.finished and stats[id(c)].q is not None]
        ranked = sorted(open_kids, key=lambda c: -stats[id(c)].q)  # type: ignore[operator]  # stable: ties keep order
        positives = [c for c in ranked if stats[id(c)].correct > 0][:_TOP]
        negatives = [c for c in reversed(ranked) if stats[id(c)].finished > stats[id(c)].correct][:_TOP]
        for good in positives:
            for bad in negatives:
                q_good, q_bad = stats[id(good)].q, stats[id(bad)].q
                if good is not bad and q_good > q_bad:  # type: ignore[operator]
                    pairs.append(StepPair(
                        problem, list(node.partial.steps), [good.partial.steps[-1]], [bad.partial.steps[-1]],
                        q_good, q_bad, source, meta={"kind": "step", "depth": len(node.partial.steps)},  # type: ignore[arg-type]
                    ))  # fmt: skip
    found = terminal_paths(root)
    mean_q = [sum(stats[id(n)].q for n in path) / len(path) for _, path in found]  # type: ignore[misc]
    right = [i for i, (terminal, _) in enumerate(found) if stats[id(terminal)].correct]
    wrong = [i for i, (terminal, _) in enumerate(found) if not stats[id(terminal)].correct]
    best = sorted(right, key=lambda i: -mean_q[i])[:_TOP]
    worst = sorted(wrong, key=lambda i: mean_q[i])[:_TOP]
    for i in best:
        for j in worst:
            pairs.append(StepPair(
                problem, [], list(found[i][0].partial.steps), list(found[j][0].partial.steps), mean_q[i], mean_q[j],
                source, meta={"kind": "final", "depth": 0},
            ))  # fmt: skip
    return pairs


class PPMPairsAnnotator(TreeAnnotator):
    """rStar-Math preference pairs from each question's MCTS tree (see the module docstring).

    Args:
        generator: the policy that grows the trees.
        task: prompts, steps and answer grading.
        config: a :class:`PPMPairsConfig`; keyword ``overrides`` replace its fields.
        guide: the Scorer valuing nodes during the search (default: the gold final answer only).
    """

    name = "ppm-pairs"
    config_class = PPMPairsConfig
    config: PPMPairsConfig
    record_noun = "step preference pairs"

    def label(self, problem: Problem, root: Node, stats: dict[int, NodeStats], cost: int) -> list[StepPair]:
        pairs = preference_pairs(problem, root, stats, self.name)
        if pairs:
            pairs[0].rollouts = cost
        return pairs
