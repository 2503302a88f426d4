"""The tree annotators: ReST-MCTS* value targets (``rest-mcts``) and rStar-Math step pairs (``ppm-pairs``).

Golden tests on a tree small enough to work by hand; end-to-end runs on the count world (a policy
that writes one step per call and slips with probability p); an interrupted sharded job resumes
with zero repeated rollouts.
"""

from __future__ import annotations

import pytest

from prmkit.annotate import AnnotationUnit, load_annotator, run_sharded
from prmkit.annotate._tree import OutcomeGuide, terminal_paths, tree_cost, tree_stats
from prmkit.annotate.ppm import preference_pairs
from prmkit.annotate.rest_mcts import RestMCTSConfig, quality_values
from prmkit.io._jsonl import read_jsonl
from prmkit.search._stepwise import Partial
from prmkit.search.mcts import Node
from prmkit.types import LabelledSolution, Problem, StepPair
from tests._fake_world import CountTask, ExactScorer, SlipGenerator
from tests.test_annotate_fakes import ChainTask

PROBLEM = Problem("chain-t", "C 1 2 3", "6")  # 1+2=3, 3+3=6, ans 6


def _tree() -> Node:
    """root -> A 1+2=3 -> A1 3+3=6 -> {ans 6 (right), ans 7 (wrong)}
               -> A2 3+3=7 -> ans 7 (wrong)
    -> B 1+2=4 -> B1 4+3=7 -> ans 7 (wrong)"""
    root = Node(Partial(), prior_value=1.0, samples=4)

    def child(parent: Node, step: str, finished: bool = False) -> Node:
        node = Node(Partial(steps=[*parent.partial.steps, step], finished=finished), parent=parent)
        parent.children.append(node)
        node.samples = 0 if finished else 2
        return node

    a, b = child(root, "1+2=3"), child(root, "1+2=4")
    a1, a2 = child(a, "3+3=6"), child(a, "3+3=7")
    child(a1, "ans 6", True), child(a1, "ans 7", True), child(a2, "ans 7", True)
    child(child(b, "4+3=7"), "ans 7", True)
    return root


def test_tree_statistics_by_hand():
    root = _tree()
    stats = tree_stats(ChainTask(), PROBLEM, root)
    a, b = root.children
    a1, a2 = a.children
    # (finished, correct, distance, Q) below each node
    got = {name: (stats[id(n)].finished, stats[id(n)].correct, stats[id(n)].distance, stats[id(n)].q)
           for name, n in (("root", root), ("A", a), ("B", b), ("A1", a1), ("A2", a2))}  # fmt: skip
    assert got == {"root": (4, 1, 3, 0.25), "A": (3, 1, 2, 1 / 3), "B": (1, 0, None, 0.0), "A1": (2, 1, 1, 0.5),
                   "A2": (1, 0, None, 0.0)}  # fmt: skip
    assert [t.partial.steps[-1] for t, _ in terminal_paths(root)] == ["ans 6", "ans 7", "ans 7", "ans 7"]
    # samples drawn at the root and the 5 open nodes, plus (rollouts on) one rollout per open node
    assert tree_cost(root, RestMCTSConfig(rollout_weight=0.0)) == 4 + 5 * 2
    assert tree_cost(root, RestMCTSConfig()) == 4 + 5 * 2 + 5


def test_rest_mcts_values_by_hand():
    # v_k = max(v_{k-1} + (1 - v_{k-1}) / (m_k + 1) * (1 - 2 e_k), 0), v_0 = 0
    assert quality_values([False, False, False], [2, 1, 0]) == pytest.approx([1 / 3, 2 / 3, 1.0])
    annotator = load_annotator("rest-mcts", generator=None, task=ChainTask())
    root = _tree()
    records = annotator.label(PROBLEM, root, tree_stats(ChainTask(), PROBLEM, root), cost=16)
    by_path = {tuple(r.solution.steps): r for r in records}
    right = by_path[("1+2=3", "3+3=6", "ans 6")]  # e = 0 0 0, m = 2 1 0: 1/3, 2/3, 1
    assert right.labels.labels == pytest.approx([1 / 3, 2 / 3, 1.0]) and right.labels.first_error == -1
    late = by_path[("1+2=3", "3+3=6", "ans 7")]  # e = 0 0 1, m = 2 1 0: 1/3, 2/3, 2/3 - 1/3
    assert late.labels.labels == pytest.approx([1 / 3, 2 / 3, 1 / 3]) and late.labels.first_error == 2
    middle = by_path[("1+2=3", "3+3=7", "ans 7")]  # e = 0 1 1, m = 2 1 0: 1/3, 1/3 - (2/3)/2 = 0, 0
    assert middle.labels.labels == pytest.approx([1 / 3, 0.0, 0.0]) and middle.labels.first_error == 1
    early = by_path[("1+2=4", "4+3=7", "ans 7")]  # e = 1 1 1: 0, 0, 0
    assert early.labels.labels == [0.0, 0.0, 0.0] and early.labels.first_error == 0
    assert middle.solution.meta["distance"] == [2, 1, 0] and middle.solution.meta["q"] == pytest.approx(
        [1 / 3, 0.0, 0.0]
    )
    assert [r.labels.rollouts for r in records] == [16, 0, 0, 0] and all(
        r.labels.source == "rest-mcts" for r in records
    )
    assert right.solution.correct and not late.solution.correct


def test_ppm_pairs_by_hand():
    root = _tree()
    pairs = preference_pairs(PROBLEM, root, tree_stats(ChainTask(), PROBLEM, root))
    got = [
        (p.meta["kind"], p.prefix, p.chosen, p.rejected, round(p.q_chosen, 4), round(p.q_rejected, 4)) for p in pairs
    ]
    assert got == [
        # at the root: A (Q 1/3, leads to the answer) over B (Q 0, only wrong); A is no negative of itself
        ("step", [], ["1+2=3"], ["1+2=4"], 0.3333, 0.0),
        # after 1+2=3: A1 (Q 1/2) over A2 (Q 0); A1's children are final answers (paired as trajectories)
        ("step", ["1+2=3"], ["3+3=6"], ["3+3=7"], 0.5, 0.0),
        # final answers: the right solution (mean Q (1/3 + 1/2 + 1)/3 = 11/18) against the two wrong ones of
        # lowest mean Q: B's (0) and A2's ((1/3 + 0 + 0)/3 = 1/9), not A1's wrong one (5/18)
        ("final", [], ["1+2=3", "3+3=6", "ans 6"], ["1+2=4", "4+3=7", "ans 7"], 0.6111, 0.0),
        ("final", [], ["1+2=3", "3+3=6", "ans 6"], ["1+2=3", "3+3=7", "ans 7"], 0.6111, 0.1111),
    ]
    annotator = load_annotator("ppm-pairs", generator=None, task=ChainTask())
    records = annotator.label(PROBLEM, root, tree_stats(ChainTask(), PROBLEM, root), cost=16)
    assert [r.rollouts for r in records] == [16, 0, 0, 0] and records[0].source == "ppm-pairs"
    assert StepPair.from_dict(records[0].to_dict()) == records[0]
    with pytest.raises(ValueError, match="at least one step"):
        StepPair(PROBLEM, [], [], ["x"], 1.0, 0.0)


def test_outcome_guide_scores_only_stated_answers():
    guide = OutcomeGuide(ChainTask(), [PROBLEM])
    assert guide.score([("C 1 2 3\n", ["1+2=4", "ans 6"]), ("C 1 2 3", ["1+2=3", "ans 7"])]) == [[1.0, 1.0], [1.0, 0.0]]


@pytest.mark.parametrize("name", ["rest-mcts", "ppm-pairs"])
def test_trees_on_the_count_world_are_grown_batched_counted_and_labelled(name):
    task, policy = CountTask(), SlipGenerator(p=0.4)
    problems = task.problems(count=6)
    annotator = load_annotator(name, generator=policy, task=task, n=32, width=2)
    records = annotator.annotate([AnnotationUnit(p) for p in problems])
    if name == "rest-mcts":  # every tree finished solutions: every tree's cost is on a record
        assert {r.problem.id for r in records} == {p.id for p in problems}
        assert sum(r.labels.rollouts for r in records) == annotator.roller.rollouts > 0
    else:  # only trees with a right and a wrong solution give pairs
        assert records and 0 < sum(r.rollouts for r in records) < annotator.roller.rollouts
    assert annotator.roller.calls == len(policy.calls)
    # a search round is one expansion call (n = width) for all 6 trees, then one rollout call (n = 1)
    expansions = [prompts for prompts, n in policy.calls if n == 2]
    assert len(expansions) <= 4 * 16 and max(expansions) <= 6 and len(policy.calls) <= 2 * len(expansions)
    if name == "rest-mcts":
        assert all(isinstance(r, LabelledSolution) for r in records)
        for r in records:  # with the gold answer found below a step, e = 0 exactly on the exact-right prefix here
            assert (r.labels.first_error == -1) == bool(r.solution.correct)
    else:
        assert all(p.q_chosen > p.q_rejected for p in records)


def test_a_guide_scorer_steers_the_tree_and_is_recorded():
    task = CountTask()
    annotator = load_annotator("rest-mcts", generator=SlipGenerator(p=0.3), task=task, guide=ExactScorer(), n=32, width=2,
                               rollout_weight=0.0)  # fmt: skip
    assert annotator.config_dict()["guide"] == "ExactScorer"
    records = annotator.annotate([AnnotationUnit(p) for p in task.problems(count=4)])
    assert {r.problem.id for r in records if r.solution.correct} == {p.id for p in task.problems(count=4)}
    with pytest.raises(ValueError, match="guide must be a prmkit Scorer"):
        load_annotator("ppm-pairs", generator=None, task=task, guide="oracle")
    with pytest.raises(ValueError, match="multiple of width"):
        RestMCTSConfig(n=10, width=4)


class Dying(SlipGenerator):
    def __init__(self, p: float, fail_after: int | None = None) -> None:
        super().__init__(p)
        self.fail_after, self.prompts = fail_after, []

    def complete(self, prompts, **options):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("killed")
        self.prompts.extend(prompts)
        return super().complete(prompts, **options)


@pytest.mark.parametrize("name", ["rest-mcts", "ppm-pairs"])
def test_interrupted_job_resumes_with_zero_repeated_rollouts(name, tmp_path):
    task = CountTask()
    units = [AnnotationUnit(p) for p in task.problems(count=8)]

    def job(policy, out):
        annotator = load_annotator(name, generator=policy, task=task, n=24, width=2)
        return run_sharded(annotator, units, out, shard_size=3, progress=False), annotator

    whole_policy = Dying(0.4)
    whole, _ = job(whole_policy, tmp_path / "whole")
    assert whole.complete and whole.shards_written == 3
    probe = Dying(0.4)  # what shard 0 alone costs (same shard number, same seeds)
    run_sharded(load_annotator(name, generator=probe, task=task, n=24, width=2), units[:3], tmp_path / "probe",
                shard_size=3, progress=False)  # fmt: skip
    first_shard_calls = len(probe.calls)
    with pytest.raises(RuntimeError, match="killed"):  # dies in shard 1
        job(Dying(0.4, fail_after=first_shard_calls + 1), tmp_path / "resumed")
    rerun = Dying(0.4)
    resumed, annotator = job(rerun, tmp_path / "resumed")
    assert resumed.shards_skipped == 1 and resumed.shards_written == 2
    assert not set(probe.prompts) & set(rerun.prompts)  # nothing of shard 0 is sampled again
    assert annotator.roller.rollouts == whole.rollouts - sum(n * k for k, n in probe.calls)
    rows = [[r for p in run.shards for _, r in read_jsonl(p)] for run in (whole, resumed)]
    assert rows[0] == rows[1] and rows[0] and resumed.rollouts == whole.rollouts
