"""ReST-MCTS* value targets: every step of every solution an MCTS tree finished gets a quality value.

Reference: Zhang et al. 2024, "ReST-MCTS*: LLM Self-Training via Process Reward Guided Tree Search"
(NeurIPS 2024, arXiv 2406.03816), §3.1-3.2. Given the gold final answer, the per-step process
reward is inferred from the tree search: a partial solution ``p_k`` (the first ``k`` steps of a
trace ``s_1..s_K``) has the quality value

    w_k = (1 - v_{k-1}) / (m_k + 1) * (1 - 2 e_k)
    v_k = max(v_{k-1} + w_k, 0)                     v_0 = 0

with ``m_k`` the *reasoning distance* (fewest steps from ``p_k`` to a correct final answer) and
``e_k`` the step's inferred incorrectness (the paper's ``r_{s_k}``, read here as 1 for a wrong step,
0 for a right one, so that a right step closes ``1 / (m_k + 1)`` of the gap to 1 and a trace's
right final step reaches ``v = 1``). prmkit reads both from the question's MCTS tree
(:mod:`prmkit.annotate._tree`): ``e_k = 0`` iff some finished solution below the node of ``p_k``
has the gold answer, and then ``m_k = dist(node)``; otherwise ``e_k = 1`` and ``m_k = K - k``, the
steps this trace still has. Along a right trace whose own answer is the nearest, ``v_k = k / K``.

Output: one record per finished solution in the tree (its root-to-terminal path),
``StepLabels(labels=[v_1..v_K], first_error, source="rest-mcts", rollouts)`` with ``first_error`` the
first step with ``e_k = 1`` (-1 if none); ``solution.meta`` holds ``value`` (v), ``distance`` (m),
``q`` (the terminal-guided Q of each node), ``search_q`` (the search's PUCT value) and ``visits``.
The values are regression targets (``prmkit train prm --label-mode soft``), not probabilities that
a step is right: ``first_error`` is the hard reading. A question whose tree finished nothing
yields no records (its samples are still counted in the shard stats).

Example:
    >>> from prmkit.annotate import load_annotator                                    # doctest: +SKIP
    >>> annotator = load_annotator("rest-mcts", generator=policy, task=task, n=32)   # doctest: +SKIP
    >>> records = annotator.annotate([AnnotationUnit(problem)])                      # doctest: +SKIP
    >>> records[0].labels.labels                                                      # doctest: +SKIP
    [0.25, 0.5, 0.75, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.annotate._rollouts import grade, prefix_text
from prmkit.annotate._tree import NodeStats, TreeAnnotator, TreeConfig, terminal_paths
from prmkit.search.mcts import Node
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

__all__ = ["RestMCTSAnnotator", "RestMCTSConfig", "quality_values"]


@dataclass
class RestMCTSConfig(TreeConfig):
    """Settings of :class:`RestMCTSAnnotator` (the tree's MCTS; see :class:`~prmkit.annotate._tree.TreeConfig`)."""


def quality_values(wrong: list[bool], distance: list[int]) -> list[float]:
    """ReST-MCTS* ``v_1..v_K`` from each step's ``e_k`` (``wrong``) and reasoning distance ``m_k``.

    Example:
        >>> quality_values([False, False, False], [2, 1, 0])
        [0.3333333333333333, 0.6666666666666666, 1.0]
        >>> quality_values([False, True, True], [3, 1, 0])
        [0.25, 0.0, 0.0]
    """
    values, v = [], 0.0
    for e, m in zip(wrong, distance):
        v = max(v + (1.0 - v) / (m + 1) * (1 - 2 * int(e)), 0.0)
        values.append(v)
    return values


class RestMCTSAnnotator(TreeAnnotator):
    """ReST-MCTS* quality values of every finished solution in each question's MCTS tree (module docstring).

    Args:
        generator: the policy that grows the trees.
        task: prompts, steps and answer grading.
        config: a :class:`RestMCTSConfig`; keyword ``overrides`` replace its fields.
        guide: the Scorer valuing nodes during the search (default: the gold final answer only).
    """

    name = "rest-mcts"
    config_class = RestMCTSConfig
    config: RestMCTSConfig

    def label(self, problem: Problem, root: Node, stats: dict[int, NodeStats], cost: int) -> list[LabelledSolution]:
        records = []
        for terminal, path in terminal_paths(root):
            below = [stats[id(node)] for node in path]
            wrong = [s.correct == 0 for s in below]
            distance = [s.distance if s.distance is not None else len(path) - k - 1 for k, s in enumerate(below)]
            values = quality_values(wrong, distance)
            steps = list(terminal.partial.steps)
            answer, correct = grade(self.task, problem, prefix_text(self.task, steps))
            meta = {
                "value": values, "distance": distance, "q": [s.q for s in below],
                "search_q": [node.q for node in path], "visits": [node.visits for node in path],
            }  # fmt: skip
            first_error = wrong.index(True) if any(wrong) else -1
            labels = StepLabels(list(values), first_error, self.name, cost if not records else 0)
            solution = Solution(problem.id, steps, answer, correct, meta)
            records.append(LabelledSolution(problem=problem, solution=solution, labels=labels))
        return records
