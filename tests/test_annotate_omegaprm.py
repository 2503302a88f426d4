"""OmegaPRM (Luo et al. 2024, §3.3 and Alg. 1): selection rule, visit counts, binary search, budget."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from prmkit.annotate import AnnotationUnit, OmegaPRMAnnotator, OmegaPRMConfig
from prmkit.annotate._rollouts import Rollout
from prmkit.annotate.omegaprm import SearchTree, q_value, u_value
from prmkit.types import Solution
from tests.test_annotate_fakes import ChainPolicy, ChainTask


def _wrong(num_tokens: int = 10) -> Rollout:
    return Rollout(text="x", steps=("1+1=3",), answer="3", correct=False, num_tokens=num_tokens)


def _right() -> Rollout:
    return Rollout(text="y", steps=("1+1=2",), answer="2", correct=True, num_tokens=10)


def test_q_and_u_follow_the_paper_formulas_with_its_defaults():
    # Q(s, r) = alpha^(1 - MC(s)) * beta^(len(r) / L); U(s) = c_puct * sqrt(sum N) / (1 + N(s)).
    # alpha=0.5, beta=0.9, L=500, c_puct=0.125; MC=0.75, len=250: 0.5**0.25 * 0.9**0.5.
    assert q_value(0.75, 250, alpha=0.5, beta=0.9, length_scale=500) == pytest.approx(0.840896 * 0.948683, rel=1e-5)
    assert q_value(1.0, 0, alpha=0.5, beta=0.9, length_scale=500) == 1.0
    assert u_value(1, 4, c_puct=0.125) == pytest.approx(0.125)  # 0.125 * 2 / 2
    assert u_value(0, 0, c_puct=0.125) == 0.0
    config = OmegaPRMConfig()
    assert (config.alpha, config.beta, config.length_scale, config.c_puct) == (0.5, 0.9, 500.0, 0.125)


def test_selection_prefers_high_mc_short_rollouts():
    tree = SearchTree(OmegaPRMConfig())
    low = tree.add(("a",), [_wrong(), _right(), _right(), _right()][:2] + [_wrong(), _wrong()])  # MC 0.25
    high = tree.add(("b",), [_wrong(), _right(), _right(), _right()])  # MC 0.75
    state, _ = tree.select()
    assert state is high and low.mc == 0.25
    tree2 = SearchTree(OmegaPRMConfig())
    tree2.add(("c",), [_wrong(num_tokens=2000), _right()])
    tree2.add(("d",), [_wrong(num_tokens=20), _right()])
    assert tree2.select()[1].num_tokens == 20


def test_visits_are_counted_so_u_moves_selection_to_unvisited_states():
    # Two states with equal MC; A has two equal wrong rollouts, B one. First pick: A (tie -> first).
    # Second pick: A's U is c*sqrt(1)/2, B's is c*sqrt(1)/1, so B must win. (If N(s) were never
    # incremented, U would stay 0 and A would be picked again.)
    tree = SearchTree(OmegaPRMConfig())
    a = tree.add(("a",), [_wrong(), _wrong(), _right(), _right()])
    b = tree.add(("b",), [_wrong(), _right(), _right(), _right()][:1] + [_right()])
    a.mc = b.mc = 0.5
    first, _ = tree.select()
    second, _ = tree.select()
    assert (first, second) == (a, b)
    assert (a.visits, b.visits, tree.total_visits()) == (1, 1, 2)


def test_pool_holds_only_wrong_rollouts_of_states_with_mc_strictly_between_0_and_1():
    tree = SearchTree(OmegaPRMConfig())
    tree.add(("all-right",), [_right(), _right()])
    tree.add(("all-wrong",), [_wrong(), _wrong()])
    empty = Rollout(text="", steps=(), answer=None, correct=False, num_tokens=0)
    mixed = tree.add(("mixed",), [_wrong(), _right(), empty])
    assert [(s.prefix, r.correct) for s, r in tree.pool] == [(mixed.prefix, False)]
    with pytest.raises(ValueError, match="already estimated"):
        tree.add(("mixed",), [_right()])


@pytest.mark.parametrize("error_at", [None, 0, 1, 2, 3, 4])
def test_solution_mode_finds_the_exact_first_error_in_log_rollouts(error_at):
    # A perfect completer makes MC > 0 exactly on correct prefixes, so the binary search must land
    # on the exact first error, spending k rollouts per halving and nothing on correct solutions.
    task, policy = ChainTask(num_problems=1, min_ops=5, max_ops=5), ChainPolicy(p=1.0)
    problem = task.problems()[0]
    steps = task.reference_steps(problem) if error_at is None else task.wrong_steps(problem, error_at)
    annotator = OmegaPRMAnnotator(policy, task, n=3, mode="solution")
    (record,) = annotator.annotate([AnnotationUnit(problem, [Solution(problem.id, steps)])])
    exact = task.first_error(problem, steps)
    assert record.labels.first_error == exact
    assert record.labels.source == "omegaprm"
    if exact == -1:
        assert record.labels.labels == [1.0] * 6 and record.labels.rollouts == 0 and policy.calls == 0
    else:
        assert record.labels.labels[exact] == 0.0 and record.labels.labels[:exact] == [1.0] * exact
        assert all(v is None for v in record.labels.labels[exact + 1 :])
        assert 0 < record.labels.rollouts <= 3 * math.ceil(math.log2(6))
        assert record.labels.rollouts == policy.completions
        assert len(set(policy.prompts)) == len(policy.prompts)  # no prefix estimated twice
        measured = [v for v in record.solution.meta["mc"][:-1] if v is not None]
        assert len(measured) * 3 == record.labels.rollouts


def test_solution_mode_batches_every_solution_per_halving_round():
    task, policy = ChainTask(num_problems=4, min_ops=6, max_ops=6), ChainPolicy(p=1.0)
    units = [
        AnnotationUnit(p, [Solution(p.id, task.wrong_steps(p, e)) for e in (0, 3, 5)]) for p in task.problems()
    ]
    records = OmegaPRMAnnotator(policy, task, n=2, mode="solution").annotate(units)
    assert [r.labels.first_error for r in records] == [0, 3, 5] * 4
    assert policy.calls == math.ceil(math.log2(7))  # 7 steps: one call per halving round for all 12
    assert policy.completions == sum(r.labels.rollouts for r in records)


def test_tree_mode_spends_within_budget_estimates_each_prefix_once_and_counts_visits():
    task = ChainTask(num_problems=6, min_ops=4, max_ops=6, seed=3)
    policy = ChainPolicy(p=0.85)
    annotator = OmegaPRMAnnotator(policy, task, n=8, budget=64, mode="tree")
    records = annotator.annotate([AnnotationUnit(p) for p in task.problems()])
    assert records, "with p=0.85 some questions must have 0 < MC(root) < 1"
    per_question = Counter()
    for prompt in policy.prompts:
        question = next(line for line in prompt.split("\n") if line.startswith("C "))
        per_question[question] += 1
    assert len(set(policy.prompts)) == len(policy.prompts)  # no prefix ever estimated twice
    assert all(count * 8 <= 64 for count in per_question.values())  # budget includes the root estimate
    assert policy.completions == annotator.roller.rollouts
    for record in records:
        exact = task.first_error(record.problem, record.solution.steps)
        # MC false negatives from a correct prefix have probability <= (1 - 0.85**5)**8 < 1e-3.
        if record.labels.first_error is not None:
            assert record.labels.first_error == exact
        assert record.solution.meta["mc"][-1] == 0.0 and record.solution.correct is False


def test_tree_visits_equal_selections():
    task = ChainTask(num_problems=1, min_ops=6, max_ops=6, seed=5)
    # p ** 6 = 0.53: the root MC of 8 rollouts is strictly between 0 and 1 with probability > 0.99.
    annotator = OmegaPRMAnnotator(ChainPolicy(p=0.9), task, n=8, budget=200, mode="tree")
    trees = []
    import prmkit.annotate.omegaprm as omega

    class Recording(omega.SearchTree):
        def __init__(self, config):
            super().__init__(config)
            trees.append(self)

    original, omega.SearchTree = omega.SearchTree, Recording
    try:
        records = annotator.annotate([AnnotationUnit(task.problems()[0])])
    finally:
        omega.SearchTree = original
    (tree,) = trees
    assert tree.states[()].mc not in (0.0, 1.0)
    assert tree.total_visits() == len(records) > 1  # N(s) += 1 for every selected (s, r)


def test_tree_mode_stops_at_budget_with_partial_labels():
    task = ChainTask(num_problems=1, min_ops=6, max_ops=6, seed=5)
    policy = ChainPolicy(p=0.9)
    records = OmegaPRMAnnotator(policy, task, n=8, budget=16, mode="tree").annotate([AnnotationUnit(task.problems()[0])])
    assert policy.completions == 16 and len(records) == 1  # root estimate + one binary-search step
    for record in records:  # one estimate after the root cannot finish a 7-step search
        assert record.labels.first_error is None
        assert record.labels.labels[-1] is None


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="OmegaPRMConfig.mode"):
        OmegaPRMConfig(mode="forest")
    with pytest.raises(ValueError, match="OmegaPRMConfig.alpha"):
        OmegaPRMConfig(alpha=0.0)
    with pytest.raises(ValueError, match="budget = 4 cannot pay"):
        OmegaPRMConfig(n=8, budget=4)
