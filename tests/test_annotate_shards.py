"""Resumable shards: interrupt a labelling job, rerun it, and check no work is done twice."""

from __future__ import annotations

import json

import pytest

from prmkit.annotate import (
    AnnotationUnit,
    MCAnnotator,
    OmegaPRMAnnotator,
    SolutionSampler,
    agreement,
    run_sharded,
)
from prmkit.annotate._shards import ShardStore
from prmkit.io._jsonl import read_jsonl
from prmkit.types import LabelledSolution, Solution, StepLabels
from tests.test_annotate_fakes import ChainPolicy, ChainTask, Interrupted


def _job(policy, task, out, **kwargs):
    annotator = MCAnnotator(policy, task, n=3)
    sampler = SolutionSampler(policy, task, samples=2)
    units = [AnnotationUnit(p) for p in task.problems()]
    return run_sharded(annotator, units, out, shard_size=3, sampler=sampler, progress=False, **kwargs)


def _records(run):
    return [record for path in run.shards for _, record in read_jsonl(path)]


def test_interrupted_job_resumes_without_redoing_finished_shards(tmp_path):
    task = ChainTask(num_problems=10)
    reference_policy = ChainPolicy(p=0.7)
    reference = _job(reference_policy, task, tmp_path / "whole")
    assert reference.complete and len(reference.shards) == 4 and reference.shards_written == 4
    # Each shard costs 2 calls (sample solutions, then all MC prefixes): kill during shard 2's labelling.
    killed = ChainPolicy(p=0.7, fail_after=5)
    with pytest.raises(Interrupted):
        _job(killed, task, tmp_path / "resumed")
    done = sorted(p.name for p in (tmp_path / "resumed").glob("shard-*.jsonl"))
    assert done == ["shard-00000.jsonl", "shard-00001.jsonl"]
    assert not list((tmp_path / "resumed").glob("*.partial"))

    rerun_policy = ChainPolicy(p=0.7)
    resumed = _job(rerun_policy, task, tmp_path / "resumed")
    assert resumed.complete and resumed.shards_skipped == 2 and resumed.shards_written == 2
    assert rerun_policy.calls == 4 == reference_policy.calls - 4  # only the two missing shards
    # The finished shards' prompts were never sent again.
    first_two = {p for p in reference_policy.prompts[: sum(reference_policy.call_sizes[:4])]}
    assert not first_two & set(rerun_policy.prompts)
    assert _records(resumed) == _records(reference)  # same seeds per shard: same labels
    assert resumed.rollouts == reference.rollouts == sum(r["labels"]["rollouts"] for r in _records(reference))
    assert resumed.samples == reference.samples == 20

    again = ChainPolicy(p=0.7)
    finished = _job(again, task, tmp_path / "resumed")
    assert again.calls == 0 and finished.shards_skipped == 4 and finished.records == reference.records


def test_max_shards_stops_early_and_records_round_trip(tmp_path):
    task = ChainTask(num_problems=7)
    first = _job(ChainPolicy(p=0.7), task, tmp_path, max_shards=1)
    assert not first.complete and len(first.shards) == 1
    records = [LabelledSolution.from_dict(r) for r in _records(first)]
    assert {r.problem.id for r in records} == {"chain-0", "chain-1", "chain-2"}
    assert all(r.labels.source == "mc" and r.labels.rollouts == 3 * (len(r.solution.steps) - 1) for r in records)
    stats = json.loads((tmp_path / "shard-00000.stats.json").read_text())
    assert stats["units"] == ["chain-0", "chain-1", "chain-2"] and stats["rollouts"] == first.rollouts


def test_tree_mode_shards_count_rollouts_not_in_any_record(tmp_path):
    task = ChainTask(num_problems=4, seed=1)
    policy = ChainPolicy(p=0.85)
    annotator = OmegaPRMAnnotator(policy, task, n=4, budget=40)
    run = run_sharded(annotator, [AnnotationUnit(p) for p in task.problems()], tmp_path, shard_size=2, progress=False)
    assert run.complete and run.rollouts == policy.completions  # root estimates included
    assert run.rollouts >= sum(r["labels"]["rollouts"] for r in _records(run))


def test_rerun_with_other_settings_or_problems_is_refused(tmp_path):
    task = ChainTask(num_problems=4)
    _job(ChainPolicy(), task, tmp_path, max_shards=1)
    with pytest.raises(ValueError, match=r"config.n: 3 -> 5"):
        run_sharded(
            MCAnnotator(ChainPolicy(), task, n=5),
            [AnnotationUnit(p) for p in task.problems()],
            tmp_path,
            shard_size=3,
            sampler=SolutionSampler(ChainPolicy(), task, samples=2),
            progress=False,
        )
    with pytest.raises(ValueError, match="unit_ids_sha256|num_units"):
        _job(ChainPolicy(), ChainTask(num_problems=5), tmp_path)
    with pytest.raises(ValueError, match="'chain-0' appears twice"):
        ShardStore(tmp_path / "dup", config={}, unit_ids=["chain-0", "chain-0"], shard_size=1)
    with pytest.raises(ValueError, match="no solutions.*sampler="):
        run_sharded(MCAnnotator(ChainPolicy(), task), [AnnotationUnit(p) for p in task.problems()], tmp_path / "x")


def test_agreement_compares_prefix_correctness_with_the_exact_checker():
    task = ChainTask(num_problems=1, min_ops=3, max_ops=3)
    problem = task.problems()[0]
    steps = task.wrong_steps(problem, 1)  # exact first error: step 1 of 4
    sol = Solution(problem.id, steps)
    exact = LabelledSolution(problem, sol, StepLabels([1.0, 0.0, None, None], 1, "omegaprm", 6))
    early = LabelledSolution(problem, sol, StepLabels([0.0, None, None, None], 0, "omegaprm", 6))
    mc = LabelledSolution(problem, sol, StepLabels([1.0, 0.0, 1.0, 0.0], 1, "mc", 9))
    result = agreement(task, [exact, early, mc])
    # exact: 4/4 steps (None after own error = wrong prefix); early: step 0 wrong, 1..3 right -> 3/4;
    # mc: step 2 says "correct" after the error -> 3/4.
    assert result.steps == 12 and result.step_accuracy == pytest.approx(10 / 12)
    assert result.first_error_accuracy == pytest.approx(2 / 3)
    assert result.rollouts == 21 and result.rollouts_per_solution == 7
    with pytest.raises(ValueError, match="chain-0.*do not cover its 4 steps"):
        agreement(task, [LabelledSolution(problem, sol, StepLabels([1.0], -1))])
