"""Merged sharded jobs (score, search) on the local engine: interrupt and resume, no repeated work, same bytes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from prmkit.cli import app
from prmkit.distributed._jobs import shards_folder
from prmkit.evaluate._scoring import score_sharded
from prmkit.search import SearchConfig, search_sharded
from tests._fake_world import CountTask, ExactScorer, SlipGenerator


class Recording(ExactScorer):
    """The CountTask oracle, remembering every question it scored."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def score(self, items):
        self.seen += [question for question, _ in items]
        return super().score(items)


def _rows(count=10):
    task = CountTask()
    rows = []
    for problem in task.problems(count=count):
        s, k = map(int, problem.question.split()[1:])
        steps = [f"{s + i}+1={s + i + 1 + (i == 1)}" for i in range(k)] + [f"The answer is {s + k}."]
        rows.append({"id": problem.id, "question": problem.question, "steps": steps})
    return rows


def test_an_interrupted_score_job_resumes_without_rescoring_and_writes_what_one_run_writes(tmp_path):
    rows = _rows(10)
    whole = tmp_path / "whole.jsonl"
    assert score_sharded(Recording(), rows, whole, shard_size=3, batch_size=2, progress=False).complete

    out, first = tmp_path / "scores.jsonl", Recording()
    run = score_sharded(first, rows, out, shard_size=3, batch_size=2, max_shards=2, progress=False)  # "interrupted"
    assert not run.complete and not out.exists() and run.shards_written == 2
    assert len(list(shards_folder(out).glob("*/shard-*.jsonl"))) == 2
    second = Recording()
    run = score_sharded(second, rows, out, shard_size=3, batch_size=2, progress=False)
    assert run.complete and run.shards_skipped == 2 and run.shards_written == 2
    assert first.seen + second.seen == [row["question"] for row in rows]  # every row scored exactly once
    assert out.read_bytes() == whole.read_bytes()
    assert not shards_folder(out).exists()  # the scratch shards go once the output is written
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [row["id"] for row in rows]


def test_other_inputs_or_settings_never_reuse_an_interrupted_jobs_shards(tmp_path):
    rows, out = _rows(6), tmp_path / "scores.jsonl"
    score_sharded(Recording(), rows, out, shard_size=2, max_shards=1, progress=False)
    changed = [dict(rows[0], steps=rows[0]["steps"][:1])] + rows[1:]
    scorer = Recording()
    run = score_sharded(scorer, changed, out, shard_size=2, progress=False)
    assert run.shards_skipped == 0 and len(scorer.seen) == 6  # row 0 changed: its shard is not reused
    score_sharded(Recording(), rows, out, shard_size=2, max_shards=1, progress=False)
    run = score_sharded(Recording(), rows, out, shard_size=3, progress=False)
    assert run.shards_skipped == 0 and run.complete  # another shard size is another job


def test_an_interrupted_search_job_resumes_and_equals_an_uninterrupted_one(tmp_path):
    task = CountTask()
    problems = task.problems(count=5)
    runs = [("best_of_n", SearchConfig(n=4), {"n": 4}), ("beam", SearchConfig(n=4, beam_width=2), {"n": 4})]

    def search(out, generator, **options):
        return search_sharded(runs, task, generator, ExactScorer(), problems, out, shard_size=2, progress=False,
                              **options)

    policy = SlipGenerator()
    whole = search(tmp_path / "whole.jsonl", policy)
    first, second = SlipGenerator(), SlipGenerator()
    out = tmp_path / "search.jsonl"
    assert not search(out, first, max_shards=4).complete  # 3 shards of best_of_n, 1 of beam
    run = search(out, second)
    assert run.complete and run.shards_skipped == 4 and run.shards_written == 2
    assert first.calls + second.calls == policy.calls  # the resumed run did exactly the missing work
    unclocked = [_unclocked(line) for line in out.read_text().splitlines()]
    assert unclocked == [_unclocked(line) for line in (tmp_path / "whole.jsonl").read_text().splitlines()]
    assert [(r["method"], r["problem_id"]) for r in unclocked] == [(m, p.id) for m, _, _ in runs for p in problems]
    assert [r["budget"]["problems"] for r in unclocked] == [2, 2, 2, 2, 1] * 2  # a budget is its shard's
    assert [len(rows) for rows in whole.rows] == [5, 5] and all(r["meta"]["n"] == 4 for r in unclocked)


def _unclocked(line: str) -> dict:
    """A search record without its wall-clock reading (the one field two runs never share)."""
    record = json.loads(line)
    record["budget"].pop("wall_seconds")
    return record


def test_score_cli_reports_a_resumed_job_and_leaves_no_shards(tmp_path):
    source = tmp_path / "steps.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(5)))
    out = tmp_path / "scores.jsonl"
    args = ["score", "--model", "dummy", "--input", str(source), "--output", str(out), "--shard-size", "2"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "per worker (local engine)" in first.output and not shards_folder(out).exists()
    bad = CliRunner().invoke(app, [*args, "--engine", "spark"])
    assert bad.exit_code == 2 and "--engine 'spark': choose local or ray" in bad.output


def test_a_job_reports_wall_time_up_to_its_end_not_up_to_when_the_table_is_drawn():
    import time

    from prmkit.distributed import JobReport

    with JobReport(1, "job", progress=False) as report:
        time.sleep(0.02)
    ended = report.elapsed
    time.sleep(0.05)
    assert 0.02 <= report.elapsed == ended < 0.05 + 0.02
