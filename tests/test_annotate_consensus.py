"""Consensus filtering (Zhang et al. 2025, "The Lessons of Developing PRMs", §3.3) on a hand-worked tree.

Rule under test: keep a solution iff the first step with hard MC estimate 0 (no right rollout of n)
equals the first step the judge scores below the threshold (-1 = none on both sides); kept labels
are 1 before that step, 0 at it, None after.
"""

from __future__ import annotations

import pytest

from prmkit.annotate import AnnotationUnit, ConsensusAnnotator, ConsensusConfig, load_annotator
from prmkit.types import Problem, Solution
from tests.test_annotate_fakes import ChainTask, ScriptedPolicy

PROBLEM = Problem(id="chain-c", question="C 1 2 3 4", answer="10")
GOOD = ["1+2=3", "3+3=6", "6+4=10", "ans 10"]  # exact first error -1
BAD = ["1+2=4", "4+3=7", "7+4=11", "ans 11"]  # exact first error 0
LATE = ["1+2=3", "3+3=7", "7+4=11", "ans 11"]  # exact first error 1; MC misses it (a rollout recovers)
N = 4
SCRIPT = {  # right rollouts out of N from each prefix
    ("1+2=3",): 2,  # shared by GOOD and LATE
    ("1+2=3", "3+3=6"): 1,
    ("1+2=3", "3+3=6", "6+4=10"): 3,
    ("1+2=4",): 0,
    ("1+2=4", "4+3=7"): 1,
    ("1+2=4", "4+3=7", "7+4=11"): 0,
    ("1+2=3", "3+3=7"): 1,
    ("1+2=3", "3+3=7", "7+4=11"): 0,
}
JUDGE = {  # the second judge's step scores
    tuple(GOOD): [0.9, 0.8, 0.7, 0.9],  # first below 0.5: none
    tuple(BAD): [0.2, 0.6, 0.1, 0.1],  # step 0
    tuple(LATE): [0.9, 0.3, 0.2, 0.1],  # step 1 (0.5) / step 2 (threshold 0.25)
}


class ScriptedJudge:
    """A Scorer that returns JUDGE's scores and counts its calls."""

    def __init__(self, table: dict[tuple[str, ...], list[float | None]] | None = None) -> None:
        self.table, self.calls = table or JUDGE, 0

    def score(self, items):
        self.calls += 1
        return [list(self.table[tuple(steps)]) for _, steps in items]


def _label(judge=None, **options):
    policy = ScriptedPolicy(SCRIPT, PROBLEM.answer)
    annotator = ConsensusAnnotator(policy, ChainTask(), judge=judge or ScriptedJudge(), n=N, **options)
    unit = AnnotationUnit(PROBLEM, [Solution(PROBLEM.id, s) for s in (GOOD, BAD, LATE)])
    return annotator.annotate([unit]), annotator, policy


def test_consensus_golden_tree():
    judge = ScriptedJudge()
    records, annotator, policy = _label(judge)
    # MC: GOOD [2/4, 1/4, 3/4, 1] -> e_MC = -1; BAD [0, 1/4, 0, 0] -> 0; LATE [2/4, 1/4, 0, 0] -> 2
    # judge: GOOD -1 (agree), BAD 0 (agree), LATE 1 (disagree: dropped)
    assert [r.solution.steps for r in records] == [GOOD, BAD]
    good, bad = records
    assert good.labels.labels == [1.0, 1.0, 1.0, 1.0] and good.labels.first_error == -1
    assert bad.labels.labels == [0.0, None, None, None] and bad.labels.first_error == 0
    assert good.solution.meta["mc"] == [0.5, 0.25, 0.75, 1.0] and bad.solution.meta["mc"] == [0.0, 0.25, 0.0, 0.0]
    assert bad.solution.meta["judge"] == JUDGE[tuple(BAD)] and good.labels.source == "consensus"
    assert (annotator.kept, annotator.seen) == (2, 3)
    # 3 inner prefixes x N per solution (the dropped one's rollouts are spent too); one judge call in all
    assert (good.labels.rollouts, bad.labels.rollouts) == (12, 12)
    assert policy.completions == annotator.roller.rollouts == 36 and judge.calls == 1


def test_consensus_threshold_moves_the_judges_first_error():
    records, annotator, _ = _label(judge_threshold=0.25)  # LATE: first score < 0.25 is step 2 = e_MC
    assert [r.solution.steps for r in records] == [GOOD, BAD, LATE]
    assert records[2].labels.labels == [1.0, 1.0, 0.0, None] and annotator.kept == 3
    with pytest.raises(ValueError, match="judge_threshold"):
        ConsensusConfig(judge_threshold=0.0)


def test_a_judge_without_a_verdict_drops_the_solution_and_bad_judges_are_named():
    no_verdict = {**JUDGE, tuple(GOOD): [None, 0.9, 0.9, 0.9]}
    records, annotator, _ = _label(ScriptedJudge(no_verdict))
    assert [r.solution.steps for r in records] == [BAD] and annotator.seen == 3
    short = {**JUDGE, tuple(BAD): [0.1]}
    with pytest.raises(RuntimeError, match="1 scores for the 4 steps"):
        _label(ScriptedJudge(short))
    with pytest.raises(ValueError, match="judge must be a prmkit Scorer"):
        load_annotator("consensus", generator=ScriptedPolicy(SCRIPT, "10"), task=ChainTask(), judge=None)
