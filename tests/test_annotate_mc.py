"""Math-Shepherd Monte Carlo labels (Wang et al. 2024, §3.3) on the fake chain task."""

from __future__ import annotations

import pytest

from prmkit.annotate import AnnotationUnit, MCAnnotator, MCConfig, load_annotator
from prmkit.types import Solution
from tests.test_annotate_fakes import ChainPolicy, ChainTask


def _unit(task, problem, *error_positions):
    solutions = [
        Solution(problem.id, task.reference_steps(problem) if e is None else task.wrong_steps(problem, e))
        for e in error_positions
    ]
    return AnnotationUnit(problem, solutions)


def test_hard_labels_with_a_perfect_completer_are_the_exact_labels():
    # Golden case of the paper's definition: y_i = 1 iff some completion from step i reaches the gold
    # answer. A perfect completer reaches it from every correct prefix and never from a wrong one.
    task, policy = ChainTask(num_problems=1, min_ops=4, max_ops=4), ChainPolicy(p=1.0)
    problem = task.problems()[0]
    (record,) = MCAnnotator(policy, task, n=3).annotate([_unit(task, problem, 2)])
    # steps: 4 additions + "ans"; error at step 2 makes every later prefix wrong.
    assert record.labels.labels == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert record.labels.first_error == 2 == task.first_error(problem, record.solution.steps)
    assert record.labels.source == "mc"
    assert record.labels.rollouts == 3 * 4  # n per step except the last (graded by its own answer)
    assert record.solution.correct is False


def test_soft_labels_estimate_p_to_the_remaining_steps():
    # Soft estimation y_i = j / N; from a correct prefix with r additions left the fake policy
    # succeeds with probability p ** r.
    task, policy = ChainTask(num_problems=1, min_ops=4, max_ops=4), ChainPolicy(p=0.7)
    problem = task.problems()[0]
    (record,) = MCAnnotator(policy, task, n=300, labels="soft").annotate([_unit(task, problem, None)])
    expected = [0.7**3, 0.7**2, 0.7, 1.0]  # after step t (1..4) there are 4 - t additions left
    for got, want in zip(record.labels.labels, expected):
        assert abs(got - want) < 0.08
    assert record.labels.labels[-1] == 1.0  # the whole correct solution
    assert record.solution.meta["mc"] == record.labels.labels
    assert record.labels.first_error == -1


def test_all_prefixes_of_all_problems_share_one_call():
    task, policy = ChainTask(num_problems=5), ChainPolicy(p=0.8)
    units = [_unit(task, p, None, 0, 1) for p in task.problems()]
    records = MCAnnotator(policy, task, n=4, batch_size=1000).annotate(units)
    prefixes = sum(len(s.steps) - 1 for u in units for s in u.solutions)
    assert policy.calls == 1 and policy.call_sizes == [prefixes]
    assert policy.completions == 4 * prefixes == sum(r.labels.rollouts for r in records)
    assert [r.solution.steps for r in records] == [s.steps for u in units for s in u.solutions]

    chunked = ChainPolicy(p=0.8)
    MCAnnotator(chunked, task, n=4, batch_size=7).annotate(units)
    assert chunked.call_sizes == [7] * (prefixes // 7) + ([prefixes % 7] if prefixes % 7 else [])


def test_answer_comes_from_the_solution_text_not_the_prompt():
    # The decoy prompt shows "ans <gold>"; a silent completer writes nothing, so no rollout is right.
    task, policy = ChainTask(num_problems=1, decoy=True), ChainPolicy(silent=True)
    problem = task.problems()[0]
    (record,) = MCAnnotator(policy, task, n=2).annotate([_unit(task, problem, None)])
    assert record.labels.labels[:-1] == [0.0] * (len(record.solution.steps) - 1)
    assert record.labels.labels[-1] == 1.0  # the given solution's own final answer is right


def test_same_seed_same_labels_and_registry_builds_it():
    task = ChainTask(num_problems=3)
    units = [_unit(task, p, None, 1) for p in task.problems()]
    first = MCAnnotator(ChainPolicy(p=0.6), task, n=4, seed=3).annotate(units)
    again = load_annotator("mc", generator=ChainPolicy(p=0.6), task=task, n=4, seed=3).annotate(units)
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]


def test_bad_input_names_the_problem_and_field():
    task = ChainTask(num_problems=1)
    problem = task.problems()[0]
    mc = MCAnnotator(ChainPolicy(), task)
    with pytest.raises(ValueError, match="chain-0.*solution 0.*empty step"):
        mc.annotate([AnnotationUnit(problem, [Solution(problem.id, ["1+1=2", "  "])])])
    with pytest.raises(ValueError, match="chain-0.*no solutions"):
        mc.annotate([AnnotationUnit(problem)])
    with pytest.raises(ValueError, match="MCConfig.labels"):
        MCConfig(labels="fuzzy")
    with pytest.raises(ValueError, match="MCConfig.n must be a positive integer"):
        MCConfig(n=0)
