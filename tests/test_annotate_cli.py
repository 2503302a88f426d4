"""`prmkit annotate mc|omegaprm` end to end on the fake chain task and policy (registered by name)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prmkit.cli import app
from prmkit.generation import GENERATORS
from prmkit.io._jsonl import read_jsonl
from prmkit.tasks import TASKS
from tests.test_annotate_fakes import ChainPolicy, ChainTask

CALLS: list[ChainPolicy] = []


def make_policy(model: str, p: float = 0.8) -> ChainPolicy:
    """Generator factory the CLI loads by name; ``model`` is whatever --policy said."""
    assert model == "fake-policy-dir"
    CALLS.append(ChainPolicy(p=p))
    return CALLS[-1]


@pytest.fixture
def fakes():
    GENERATORS.register("chain-fake", "tests.test_annotate_cli:make_policy")
    TASKS.register("chain-fake", "tests.test_annotate_fakes:ChainTask")
    CALLS.clear()
    yield
    GENERATORS._targets.pop("chain-fake")
    TASKS._targets.pop("chain-fake")


BASE = ["--task", "chain-fake", "--generator", "chain-fake", "--policy", "fake-policy-dir", "--split", "test"]


def test_mc_writes_shards_prints_where_and_resumes(fakes, tmp_path):
    out = tmp_path / "mc"
    args = ["annotate", "mc", *BASE, "--problems", "5", "--samples", "2", "--n", "3", "--shard-size", "2", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    shards = sorted(out.glob("shard-*.jsonl"))
    assert [p.name for p in shards] == ["shard-00000.jsonl", "shard-00001.jsonl", "shard-00002.jsonl"]
    records = [r for p in shards for _, r in read_jsonl(p)]
    rollouts = sum(r["labels"]["rollouts"] for r in records)
    assert rollouts == CALLS[0].completions - 10  # everything but the 5 x 2 sampled solutions
    assert str(out) in result.output and f"rollouts: {rollouts} total" in result.output

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "3 finished shard(s) skipped" in again.output
    assert CALLS[1].calls == 0

    changed = CliRunner().invoke(app, [*args, "--task-option", "seed=1", "--n", "4"])
    message = " ".join(changed.output.split())  # rich may wrap the long line anywhere there is a space
    assert changed.exit_code == 2 and "config.n: 3 -> 4" in message and "config.job" in message


def test_omegaprm_tree_and_bad_options(fakes, tmp_path):
    args = ["annotate", "omegaprm", *BASE, "--problems", "3", "--n", "4", "--budget", "24", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [r for p in (tmp_path / "o").glob("shard-*.jsonl") for _, r in read_jsonl(p)]
    assert all(r["labels"]["source"] == "omegaprm" for r in records)
    assert CALLS[0].completions <= 3 * 24

    bad = CliRunner().invoke(app, ["annotate", "omegaprm", *BASE, "--mode", "forest", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "--mode must be one of" in " ".join(bad.output.split())
    unknown = CliRunner().invoke(app, ["annotate", "mc", *BASE[:2], "--generator", "nope", "--out", str(tmp_path / "c")])
    assert unknown.exit_code == 2 and "Unknown generator 'nope'" in " ".join(unknown.output.split())


def test_label_given_solutions_from_jsonl(fakes, tmp_path):
    from prmkit.io._jsonl import write_jsonl
    from prmkit.types import LabelledSolution, Solution

    task = ChainTask()
    rows = []
    for problem in task.problems()[:3]:
        for error in (None, 1):
            steps = task.reference_steps(problem) if error is None else task.wrong_steps(problem, error)
            rows.append(LabelledSolution(problem, Solution(problem.id, steps)).to_dict())
    write_jsonl(tmp_path / "in.jsonl", rows)
    args = ["annotate", "omegaprm", *BASE, "--mode", "solution", "--n", "2", "--problems", "2", "--generator-option", "p=1.0",
            "--solutions", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [r for p in sorted((tmp_path / "o").glob("shard-*.jsonl")) for _, r in read_jsonl(p)]
    assert [r["solution"]["steps"] for r in records] == [r["solution"]["steps"] for r in rows[:4]]
    assert CALLS[0].completions == sum(r["labels"]["rollouts"] for r in records)  # nothing sampled
    assert [r["labels"]["first_error"] for r in records] == [-1, 1, -1, 1]

    (tmp_path / "bad.jsonl").write_text('{"problem": {"id": "x", "question": "C 1 2"}}\n')
    bad = CliRunner().invoke(app, [*args[:-4], "--solutions", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "bad.jsonl:1: not a LabelledSolution record" in " ".join(bad.output.split())


def test_units_from_records_groups_by_problem_and_rejects_id_clashes():
    from prmkit.annotate import units_from_records
    from prmkit.types import LabelledSolution, Problem, Solution

    a, b = Problem("a", "C 1 2", "3"), Problem("b", "C 2 2", "4")
    records = [LabelledSolution(p, Solution(p.id, [s])) for p, s in ((a, "x"), (b, "y"), (a, "z"))]
    units = units_from_records(records)
    assert [(u.problem.id, [s.steps for s in u.solutions]) for u in units] == [("a", [["x"], ["z"]]), ("b", [["y"]])]
    clash = LabelledSolution(Problem("a", "C 9 9", "18"), Solution("a", ["w"]))
    with pytest.raises(ValueError, match="record 1: problem id 'a' was seen before"):
        units_from_records([records[0], clash])


def test_unknown_generator_option_is_an_error_not_a_traceback(fakes, tmp_path):
    result = CliRunner().invoke(app, ["annotate", "mc", *BASE, "--generator-option", "q=1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "does not take the options ['q']" in " ".join(result.output.split())


def test_missing_local_policy_dir_is_named(fakes, tmp_path):
    missing = str(tmp_path / "no-such-policy")
    args = ["annotate", "mc", "--task", "chain-fake", "--generator", "chain-fake", "--policy", missing, "--split", "test"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"--policy {missing}: no such folder" in " ".join(result.output.split())
    assert not CALLS  # failed before any generator was built


@pytest.mark.parametrize("method", ["rpe", "pav"])
def test_rpe_and_pav_commands_write_their_labels_and_resume(fakes, tmp_path, method):
    out = tmp_path / method
    args = ["annotate", method, *BASE, "--problems", "3", "--samples", "2", "--n", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [r for p in out.glob("shard-*.jsonl") for _, r in read_jsonl(p)]
    assert len(records) == 6 and all(r["labels"]["source"] == method for r in records)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "finished shard(s) skipped" in again.output and CALLS[1].calls == 0


def test_consensus_command_loads_the_judge_by_name_reports_kept_and_resumes(fakes, tmp_path):
    from prmkit.models import SCORERS

    SCORERS.register("chain-judge", "tests.test_annotate_fakes:ChainJudge")
    try:
        out = tmp_path / "consensus"
        args = ["annotate", "consensus", *BASE, "--judge", "chain-judge", "--problems", "4", "--samples", "3", "--n", "2",
                "--generator-option", "p=0.6", "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        records = [r for p in out.glob("shard-*.jsonl") for _, r in read_jsonl(p)]
        assert 0 < len(records) < 12 and all(r["labels"]["source"] == "consensus" for r in records)
        assert f"kept {len(records)} of 12 solutions" in " ".join(result.output.split())
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 0 and "finished shard(s) skipped" in again.output and CALLS[1].calls == 0
        other = CliRunner().invoke(app, [*args, "--judge-threshold", "0.9"])
        assert other.exit_code == 2 and "config.judge_threshold: 0.5 -> 0.9" in " ".join(other.output.split())
        unknown = CliRunner().invoke(app, [*args[:-2], "--judge", "nope", "--out", str(tmp_path / "u")])
        assert unknown.exit_code == 2 and "Unknown scorer 'nope'" in " ".join(unknown.output.split())
    finally:
        SCORERS._targets.pop("chain-judge")


def test_spare_command_samples_labels_without_rollouts_resumes_and_needs_no_policy_for_given_solutions(fakes, tmp_path):
    from prmkit.io._jsonl import write_jsonl
    from prmkit.types import LabelledSolution, Problem, Solution

    out = tmp_path / "spare"
    args = ["annotate", "spare", *BASE, "--problems", "3", "--samples", "2", "--generator-option", "p=0.6", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [r for p in out.glob("shard-*.jsonl") for _, r in read_jsonl(p)]
    assert len(records) == 6 and all(r["labels"]["source"] == "spare" and r["labels"]["rollouts"] == 0 for r in records)
    task = ChainTask()
    assert all(r["labels"]["first_error"] == task.first_error(Problem(**r["problem"]), r["solution"]["steps"])
               for r in records)  # fmt: skip
    assert CALLS[0].calls == 1 and "rollouts: 0 total, 6 solutions sampled" in " ".join(result.output.split())
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "finished shard(s) skipped" in again.output and CALLS[1].calls == 0
    other = CliRunner().invoke(app, [*args, "--claimless", "error"])
    assert other.exit_code == 2 and "config.claimless: 'neutral' -> 'error'" in " ".join(other.output.split())
    bad = CliRunner().invoke(app, [*args[:-2], "--claimless", "maybe", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "claimless must be one of" in " ".join(bad.output.split())

    problem = task.problems()[0]
    write_jsonl(tmp_path / "in.jsonl", [LabelledSolution(problem, Solution(problem.id, task.wrong_steps(problem, 1))).to_dict()])
    CALLS.clear()
    given = ["annotate", "spare", "--task", "chain-fake", "--policy", str(tmp_path / "no-such-policy"),
             "--solutions", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "given")]  # fmt: skip
    result = CliRunner().invoke(app, given)
    assert result.exit_code == 0, result.output
    (record,) = [r for p in (tmp_path / "given").glob("shard-*.jsonl") for _, r in read_jsonl(p)]
    assert record["labels"]["first_error"] == 1 and not CALLS  # no policy was loaded


def make_count_policy(model: str, p: float = 0.4):
    from tests._fake_world import SlipGenerator

    assert model == "fake-policy-dir"
    CALLS.append(SlipGenerator(p))
    return CALLS[-1]


@pytest.mark.parametrize("method", ["rest-mcts", "ppm-pairs"])
def test_tree_commands_grow_trees_write_their_records_and_resume(method, tmp_path):
    from prmkit.models import SCORERS

    GENERATORS.register("count-fake", "tests.test_annotate_cli:make_count_policy")
    TASKS.register("count-fake", "tests._fake_world:CountTask")
    SCORERS.register("count-exact", "tests._fake_world:ExactScorer")
    CALLS.clear()
    try:
        out = tmp_path / method
        args = ["annotate", method, "--task", "count-fake", "--generator", "count-fake", "--policy", "fake-policy-dir",
                "--split", "test", "--problems", "8", "--n", "32", "--width", "2", "--out", str(out)]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        records = [r for p in sorted(out.glob("shard-*.jsonl")) for _, r in read_jsonl(p)]
        noun = "step preference pairs" if method == "ppm-pairs" else "labelled solutions"
        assert records and f"{len(records)} {noun}" in " ".join(result.output.split())
        if method == "ppm-pairs":
            assert all(set(r) >= {"prefix", "chosen", "rejected", "q_chosen"} and r["source"] == method for r in records)
        else:
            assert all(r["labels"]["source"] == method for r in records)
        spent = sum(n * k for k, n in CALLS[0].calls)
        assert f"rollouts: {spent} total" in " ".join(result.output.split())
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 0 and "finished shard(s) skipped" in again.output and not CALLS[1].calls
        guided = CliRunner().invoke(app, [*args[:-2], "--guide", "count-exact", "--rollout-weight", "0", "--out", str(tmp_path / "g")])
        assert guided.exit_code == 0, guided.output
        bad = CliRunner().invoke(app, [*args[:-2], "--n", "25", "--out", str(tmp_path / "b")])
        assert bad.exit_code == 2 and "multiple of width" in " ".join(bad.output.split())
    finally:
        GENERATORS._targets.pop("count-fake")
        TASKS._targets.pop("count-fake")
        SCORERS._targets.pop("count-exact")
