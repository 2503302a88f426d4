"""Every rollout annotator added for issue 15 resumes an interrupted sharded job with zero repeated rollouts.

Mirrors ``tests/test_annotate_shards.py``: a policy killed during shard 2 leaves shards 0-1 on disk;
the rerun must send none of their prompts again, spend exactly the missing shards' rollouts and
write the same records as an uninterrupted run.
"""

from __future__ import annotations

import pytest

from prmkit.annotate import AnnotationUnit, SolutionSampler, load_annotator, run_sharded
from prmkit.io._jsonl import read_jsonl
from tests.test_annotate_fakes import ChainJudge, ChainPolicy, ChainTask, Interrupted

METHODS = {
    "rpe": dict,
    "pav": lambda: {"labels": "advantage"},
    "consensus": lambda: {"judge": ChainJudge()},  # drops the solutions MC and the exact judge disagree on
}


def _job(name, policy, task, out):
    annotator = load_annotator(name, generator=policy, task=task, n=3, **METHODS[name]())
    sampler = SolutionSampler(policy, task, samples=2)
    units = [AnnotationUnit(p) for p in task.problems()]
    return run_sharded(annotator, units, out, shard_size=3, sampler=sampler, progress=False)


def _records(run):
    return [record for path in run.shards for _, record in read_jsonl(path)]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_interrupted_job_resumes_with_zero_repeated_rollouts(name, tmp_path):
    task = ChainTask(num_problems=10)
    reference_policy = ChainPolicy(p=0.7)
    reference = _job(name, reference_policy, task, tmp_path / "whole")
    assert reference.complete and reference.shards_written == 4
    with pytest.raises(Interrupted):  # 2 calls per shard (sample, label): dies in shard 2
        _job(name, ChainPolicy(p=0.7, fail_after=5), task, tmp_path / "resumed")
    rerun_policy = ChainPolicy(p=0.7)
    resumed = _job(name, rerun_policy, task, tmp_path / "resumed")
    assert resumed.shards_skipped == 2 and resumed.shards_written == 2
    finished_prompts = set(reference_policy.prompts[: sum(reference_policy.call_sizes[:4])])
    assert not finished_prompts & set(rerun_policy.prompts)
    finished_completions = sum(
        size * n for size, n in zip(reference_policy.call_sizes[:4], [2, 3, 2, 3])
    )  # sample n=2, label n=3
    assert rerun_policy.completions == reference_policy.completions - finished_completions
    assert _records(resumed) == _records(reference)
    assert resumed.rollouts == reference.rollouts
    kept = sum(r["labels"]["rollouts"] for r in _records(reference))
    if name == "consensus":  # the dropped solutions' rollouts are spent but behind no record
        assert 0 < kept < reference.rollouts and 0 < reference.records < reference.solutions == resumed.solutions
    else:
        assert kept == reference.rollouts and reference.records == reference.solutions
    assert all(r["labels"]["source"] == name for r in _records(reference))
