"""The ray engine writes byte for byte what the local engine writes (shipped arith policy, tiny settings)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def local_ray():
    """One local 2-CPU Ray for the whole session (start-up costs seconds; CI has 2 cores)."""
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def _annotate(kind: str, out, *extra: str) -> str:
    args = ["annotate", kind, "--task", "arith", "--policy", "demo", "--problems", "4", "--samples", "2", "--n", "2",
            "--shard-size", "1", "--max-new-tokens", "48", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _shards(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.jsonl"))}


@pytest.mark.parametrize("kind,extra", [("mc", ()), pytest.param("omegaprm", ("--budget", "6"), marks=pytest.mark.slow)])
def test_ray_annotate_equals_local_byte_for_byte(local_ray, tmp_path, kind, extra):
    _annotate(kind, tmp_path / "local", *extra)
    output = _annotate(kind, tmp_path / "ray", *extra, "--engine", "ray", "--workers", "2")
    local, remote = _shards(tmp_path / "local"), _shards(tmp_path / "ray")
    assert len(local) == 4 and local == remote
    assert "per worker (ray engine)" in output
    again = _annotate(kind, tmp_path / "ray", *extra, "--engine", "ray")
    assert "4 finished shard(s) skipped" in again


class KillOnce:
    """A Generator that kills its own process on its first call (marker file), then delegates."""

    def __init__(self, inner, marker):
        self.inner, self.marker = inner, marker

    def complete(self, prompts, **kwargs):
        import os

        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # the Ray actor dies mid-shard
        return self.inner.complete(prompts, **kwargs)


@pytest.mark.slow  # ~6.5 min niced on the shared 2-core machine (actor restart + retry)
def test_killed_worker_is_retried_without_lost_or_duplicated_records(local_ray, tmp_path):
    import sys

    import ray.cloudpickle

    from prmkit.annotate import AnnotationUnit, MCAnnotator, SolutionSampler, run_sharded
    from prmkit.distributed import LazyGenerator, load_engine
    from prmkit.io._jsonl import read_jsonl
    from prmkit.tasks import load_task
    from prmkit.tasks.arith import resolve_policy

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    task = load_task("arith")
    units = [AnnotationUnit(p) for p in task.problems("train")[:3]]

    def label(out, generator, engine):
        annotator = MCAnnotator(generator, task, n=2, max_new_tokens=48)
        sampler = SolutionSampler(generator, task, samples=2, max_new_tokens=48)
        return run_sharded(annotator, units, out, shard_size=1, sampler=sampler, progress=False, engine=engine)

    policy = LazyGenerator("transformers", model=resolve_policy("demo"))
    label(tmp_path / "local", policy, load_engine("local"))
    run = label(tmp_path / "ray", KillOnce(policy, str(tmp_path / "killed")), load_engine("ray", workers=2))
    assert (tmp_path / "killed").exists() and run.complete and run.shards_written == 3
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local")
    ids = [r["problem"]["id"] for p in sorted((tmp_path / "ray").glob("shard-*.jsonl")) for _, r in read_jsonl(p)]
    assert sorted(set(ids)) == sorted(u.problem.id for u in units) and len(ids) == run.records


def _arith_steps(path, count=6):
    """Plain {id, question, steps} lines of arith problems: reference steps, every other one with a wrong step."""
    import json

    from prmkit.tasks import load_task

    task = load_task("arith")
    lines = []
    for k, problem in enumerate(task.problems("train")[:count]):
        steps = task.reference_steps(problem)
        if k % 2:
            steps[0] = steps[0].rsplit("=", 1)[0] + "=0"
        lines.append(json.dumps({"id": problem.id, "question": problem.question, "steps": steps}) + "\n")
    path.write_text("".join(lines))
    return path


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_ray_score_equals_local_byte_for_byte(local_ray, tmp_path):
    source = _arith_steps(tmp_path / "steps.jsonl")
    args = ["score", "--model", "arith-oracle", "--input", str(source), "--shard-size", "2", "--batch-size", "1"]
    _cli(*args, "--output", str(tmp_path / "local.jsonl"))
    output = _cli(*args, "--output", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "2")
    local = (tmp_path / "local.jsonl").read_bytes()
    assert local == (tmp_path / "ray.jsonl").read_bytes() and len(local.splitlines()) == 6
    assert b"0.0" in local and b"1.0" in local  # the oracle tells the wrong steps apart
    assert "per worker (ray engine)" in output and not (tmp_path / "ray.jsonl.shards").exists()


def test_a_record_a_ray_worker_cannot_score_is_a_one_line_error(local_ray, tmp_path):
    source = tmp_path / "steps.jsonl"
    source.write_text('{"id": "a", "question": "Q 1 +2", "steps": ["1+2=3"]}\n'
                      '{"id": "b", "question": "not arith", "steps": ["x"]}\n')
    result = CliRunner().invoke(app, ["score", "--model", "arith-oracle", "--input", str(source), "--shard-size", "1",
                                      "--output", str(tmp_path / "s.jsonl"), "--engine", "ray", "--workers", "1"])
    assert result.exit_code == 2, result.output
    error = " ".join(result.output.split()).split("error: ")[-1]  # the message, not Ray's own log lines
    assert error.startswith("record 'b' cannot be scored: arith-oracle: item 0: not an arith question")
    assert error.endswith("a rerun resumes from them)")
    result = CliRunner().invoke(app, ["score", "--model", "arith-oracle", "--option", "nope=1", "--input", str(source),
                                      "--output", str(tmp_path / "t.jsonl"), "--engine", "ray", "--workers", "1"])
    assert result.exit_code == 2, result.output  # loaded on the worker, so no check before it; still one line
    assert "error: scorer 'arith-oracle' does not take the options ['nope']" in " ".join(result.output.split())


def _unclocked(path) -> list[dict]:
    """Search records without their wall-clock reading (the one field no two runs share)."""
    import json

    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["budget"].pop("wall_seconds")
    return records


SEARCH = ["search", "--policy", "demo", "--prm", "arith-oracle", "--method", "best_of_n", "--method", "beam", "--n", "4",
          "--option", "beam_width=2", "--option", "max_steps=4", "--problems", "4", "--shard-size", "1"]


def test_ray_search_equals_local(local_ray, tmp_path):
    _cli(*SEARCH, "--out", str(tmp_path / "local.jsonl"))
    output = _cli(*SEARCH, "--out", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "2")
    local, remote = _unclocked(tmp_path / "local.jsonl"), _unclocked(tmp_path / "ray.jsonl")
    assert len(local) == 8 and local == remote
    assert [r["method"] for r in local] == ["best_of_n"] * 4 + ["beam"] * 4
    assert "per worker (ray engine)" in output and "accuracy vs compute" in output


def test_a_driver_killed_mid_job_resumes_from_its_shards_without_recomputing_them(local_ray, tmp_path):
    """The driver (a `prmkit search` process joined to this Ray) is SIGKILLed once shards are on disk; the rerun
    skips exactly those, computes the rest, and writes what an uninterrupted run writes."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    from prmkit.distributed._jobs import shards_folder

    args = ["search", "--policy", "demo", "--prm", "arith-oracle", "--method", "best_of_n", "--n", "4", "--problems", "8",
            "--shard-size", "1"]
    _cli(*args, "--out", str(tmp_path / "whole.jsonl"))  # the uninterrupted run (local engine)
    out, log = tmp_path / "search.jsonl", tmp_path / "driver.log"
    address = ray.get_runtime_context().gcs_address
    with open(log, "wb") as stderr:
        driver = subprocess.Popen([sys.executable, "-m", "prmkit.cli", *args, "--out", str(out), "--engine", "ray",
                                   "--address", address], stdout=subprocess.DEVNULL, stderr=stderr, env=os.environ)
        deadline = time.monotonic() + 300
        while driver.poll() is None and time.monotonic() < deadline:
            if len(list(shards_folder(out).glob("*/shard-*.jsonl"))) >= 2:
                break
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finished = list(shards_folder(out).glob("*/shard-*.jsonl"))  # after the kill: whole shards only
    assert 2 <= len(finished) < 8 and not out.exists(), log.read_text()[-3000:]
    assert "Loading weights" not in log.read_text()  # the workers are as quiet as the command (cli._quiet.worker_env)

    output = _cli(*args, "--out", str(out), "--engine", "ray", "--workers", "2")
    assert f"resumed: {len(finished)} finished shard(s) skipped" in output
    ran = re.search(r"all \([\d.]+ s wall\)\s*│\s*(\d+)", output)
    assert ran and int(ran.group(1)) == 8 - len(finished), output  # this run computed only the missing shards
    assert _unclocked(out) == _unclocked(tmp_path / "whole.jsonl")
