"""RPE (GenPRM, Zhao et al. 2025, §3.2) and PAV (Setlur et al. 2024, §3) on a hand-worked tree.

A scripted policy decides exactly how many of the ``n`` rollouts from each prefix reach the gold
answer, so every MC value, ratio and advantage below is computed by hand from the papers' formulas:

    RPE: P_t = MC(s_t, a_t) / MC(s_t) (0 when MC(s_t) = 0), y_t = 1 iff P_t >= 0.8
    PAV: A_t = Q(s_t, a_t) - V(s_t), V(s_1) = MC(question), hard y_t = 1 iff A_t >= 0
"""

from __future__ import annotations

import pytest

from prmkit.annotate import AnnotationUnit, MCAnnotator, PAVAnnotator, PAVConfig, RPEAnnotator, RPEConfig
from prmkit.types import Problem, Solution
from tests.test_annotate_fakes import ChainTask, ScriptedPolicy

PROBLEM = Problem(id="chain-h", question="C 1 2 3 4", answer="10")
GOOD = ["1+2=3", "3+3=6", "6+4=10", "ans 10"]  # the solution's own answer is right
BAD = ["1+2=4", "4+3=7", "ans 11"]  # own answer wrong
N = 4
# right rollouts out of N from each prefix (keyed by the steps written so far)
SCRIPT = {
    (): 2,  # MC(question) = 0.5, shared by both solutions
    ("1+2=3",): 2,
    ("1+2=3", "3+3=6"): 1,
    ("1+2=3", "3+3=6", "6+4=10"): 1,
    ("1+2=4",): 0,
    ("1+2=4", "4+3=7"): 2,
}


def _label(annotator_class, **options):
    policy = ScriptedPolicy(SCRIPT, PROBLEM.answer)
    unit = AnnotationUnit(PROBLEM, [Solution(PROBLEM.id, GOOD), Solution(PROBLEM.id, BAD)])
    records = annotator_class(policy, ChainTask(), n=N, **options).annotate([unit])
    return records, policy


def test_rpe_golden_tree():
    (good, bad), policy = _label(RPEAnnotator)
    # GOOD: MC = [2/4, 1/4, 1/4, 1(own answer)], before = [0.5 (root), 0.5, 0.25, 0.25]
    assert good.solution.meta["mc"] == [0.5, 0.25, 0.25, 1.0]
    assert good.solution.meta["progress"] == [1.0, 0.5, 1.0, 4.0]
    assert good.labels.labels == [1.0, 0.0, 1.0, 1.0] and good.labels.first_error == 1
    # BAD: MC = [0, 2/4, 0 (own answer)]; P_1 = 0/0.5, P_2 = 0 (MC(s_2) = 0), P_3 = 0/0.5
    assert bad.solution.meta["progress"] == [0.0, 0.0, 0.0]
    assert bad.labels.labels == [0.0, 0.0, 0.0] and bad.labels.first_error == 0
    assert good.solution.meta["root_mc"] == 0.5 and good.labels.source == "rpe"
    # 3 inner prefixes + the root for GOOD (charged to the first record), 2 for BAD
    assert (good.labels.rollouts, bad.labels.rollouts) == (4 * 4, 2 * 4) and policy.completions == 24
    # Math-Shepherd hard MC on the same tree calls every GOOD step right (MC > 0 everywhere)
    (mc_good,) = MCAnnotator(ScriptedPolicy(SCRIPT, PROBLEM.answer), ChainTask(), n=N).annotate([AnnotationUnit(PROBLEM, [Solution(PROBLEM.id, GOOD)])])
    assert mc_good.labels.labels == [1.0, 1.0, 1.0, 1.0]


def test_rpe_threshold_is_the_papers_and_is_inclusive():
    assert RPEConfig().epsilon == 0.8
    (good, _), _ = _label(RPEAnnotator, epsilon=0.5)  # P_2 = 0.5 >= 0.5 now passes
    assert good.labels.labels == [1.0, 1.0, 1.0, 1.0] and good.labels.first_error == -1
    with pytest.raises(ValueError, match="RPEConfig.epsilon"):
        RPEConfig(epsilon=0.0)


def test_pav_golden_tree_hard_and_advantage():
    (good, bad), _ = _label(PAVAnnotator)
    # GOOD: A = [0.5-0.5, 0.25-0.5, 0.25-0.25, 1-0.25]
    assert good.solution.meta["advantage"] == [0.0, -0.25, 0.0, 0.75]
    assert good.labels.labels == [1.0, 0.0, 1.0, 1.0] and good.labels.first_error == 1
    # BAD: A = [0-0.5, 0.5-0, 0-0.5]
    assert bad.solution.meta["advantage"] == [-0.5, 0.5, -0.5]
    assert bad.labels.labels == [0.0, 1.0, 0.0] and bad.labels.first_error == 0
    (soft, _), _ = _label(PAVAnnotator, labels="advantage")
    assert soft.labels.labels == [0.5, 0.375, 0.5, 0.875] and soft.labels.first_error == 1
    (lenient, _), _ = _label(PAVAnnotator, threshold=-0.25)
    assert lenient.labels.first_error == -1
    with pytest.raises(ValueError, match="PAVConfig.labels"):
        PAVConfig(labels="fuzzy")
