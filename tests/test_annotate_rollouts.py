"""The batched rollout driver: requests from many coroutines share calls and get their own results."""

from __future__ import annotations

import pytest

from prmkit.annotate._rollouts import Roller, RolloutRequest, derive_seed, drive
from prmkit.types import Completion, LabelledSolution, Solution
from tests.test_annotate_fakes import ChainPolicy, ChainTask


def _asker(problem, prefixes, n, seen):
    """A coroutine that asks twice (once with an empty round in between) and records what it got."""
    got = yield [RolloutRequest(problem, p, n) for p in prefixes]
    seen.append(got)
    nothing = yield []
    assert nothing == []
    got = yield [RolloutRequest(problem, prefixes[0], 1)]
    seen.append(got)
    return [LabelledSolution(problem, Solution(problem.id, ["x"]))]


def test_drive_merges_rounds_and_routes_results_back():
    task, policy = ChainTask(num_problems=2, min_ops=3, max_ops=3), ChainPolicy(p=1.0)
    a, b = task.problems()
    seen_a, seen_b = [], []
    roller = Roller(policy, task)
    done = []
    results = drive(
        [_asker(a, [(), tuple(task.reference_steps(a)[:1])], 2, seen_a), _asker(b, [()], 3, seen_b)],
        roller,
        seed=0,
        on_done=done.append,
    )
    assert [len(r) for r in results] == [1, 1] and sorted(done) == [0, 1]
    # Round 1: requests with n=2 and n=3 -> one call per n; round 2: both n=1 requests in one call.
    assert policy.call_sizes == [2, 1, 2] and roller.calls == 3 and roller.rollouts == 2 * 2 + 3 + 2
    assert [len(x) for x in seen_a[0]] == [2, 2] and [len(x) for x in seen_b[0]] == [3]
    assert all(r.correct for group in seen_a[0] + seen_b[0] for r in group)  # p=1: every rollout is right
    # A rollout from a 1-step prefix writes the remaining 2 additions and the answer.
    assert len(seen_a[0][1][0].steps) == 3 and len(seen_a[0][0][0].steps) == 4
    assert drive([], roller, seed=0) == []


def test_roller_rejects_a_generator_that_drops_completions():
    class Short(ChainPolicy):
        def complete(self, prompts, **kwargs):
            return [[Completion("ans 1", 1)] for _ in prompts[:-1]]

    task = ChainTask(num_problems=2)
    with pytest.raises(RuntimeError, match="Short.complete returned 1 lists .* for 2 prompts with n=4"):
        Roller(Short(), task).run([RolloutRequest(p, (), 4) for p in task.problems()], seed=0)


def test_derive_seed_is_stable_and_spreads():
    assert derive_seed(0, "solutions", 3) == derive_seed(0, "solutions", 3)
    assert len({derive_seed(0, k) for k in range(100)}) == 100
    assert 0 <= derive_seed("x") < 2**31
