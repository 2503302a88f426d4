"""`prmkit score` end to end with the dummy scorer (and the http scorer against a live server)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit.cli import app
from prmkit.types import LabelledSolution, Problem, Solution

STEPS = Path(__file__).parent / "fixtures" / "serve" / "steps.jsonl"
EVAL = Path(__file__).parent / "fixtures" / "eval"
EVAL = Path(__file__).parent / "fixtures" / "eval"


def _read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_plain_jsonl_is_scored_in_order_with_one_score_per_step(tmp_path):
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(STEPS), "--output", str(out),
                                      "--option", "value=0.7", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    inputs = _read(STEPS)
    assert _read(out) == [{"id": r["id"], "scores": [0.7] * len(r["steps"])} for r in inputs]
    assert str(out) in result.output
    assert not (tmp_path / "scores.jsonl.partial").exists()


def test_prmkit_jsonl_with_several_solutions_per_problem_gets_unique_ids(tmp_path):
    source = tmp_path / "solutions.jsonl"
    problem = Problem(id="gsm8k-3", question="What is 1+1?", answer="2")
    records = [LabelledSolution(problem, Solution(problem_id="gsm8k-3", steps=s)) for s in (["1+1=2"], ["1+1=3", "3"])]
    records.append(LabelledSolution(Problem(id="other", question="q"), Solution(problem_id="other", steps=["a"])))
    source.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert _read(out) == [{"id": "gsm8k-3/0", "scores": [0.5]}, {"id": "gsm8k-3/1", "scores": [0.5, 0.5]},
                          {"id": "other", "scores": [0.5]}]


def test_processbench_input_via_the_convert_table_feeds_eval(tmp_path):
    pytest.importorskip("prmkit.io.convert")
    golden = json.loads((STEPS.parent / "processbench_critic_golden.json").read_text())
    pb = [{"id": r["id"], "generator": "x", "problem": r["problem"], "steps": r["steps"],
           "final_answer_correct": r["label"] == -1, "label": r["label"]} for r in golden["prompts"]]
    source = tmp_path / "gsm8k.json"
    source.write_text(json.dumps(pb))
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(source), "--format", "processbench",
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    from prmkit.evaluate._scoring import read_scores

    assert read_scores(out, ["id"]) == {r["id"]: [0.5] * len(r["steps"]) for r in pb}


def test_a_processbench_folder_is_read_without_format_and_its_ids_feed_eval(tmp_path):
    folder = tmp_path / "processbench"
    folder.mkdir()
    for name in ("gsm8k", "math"):
        shutil.copy(EVAL / f"processbench_{name}.json", folder / f"{name}.json")
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--option", "value=0.9", "--input", str(folder),
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = [r for name in ("gsm8k", "math") for r in json.loads((folder / f"{name}.json").read_text())]
    assert _read(out) == [{"id": r["id"], "scores": [0.9] * len(r["steps"])} for r in records]
    pb = tmp_path / "pb.json"
    result = CliRunner().invoke(app, ["eval", "processbench", "--data", str(folder), "--scores", str(out),
                                      "--output", str(pb)])
    assert result.exit_code == 0, result.output
    assert set(json.loads(pb.read_text())["subsets"]) == {"gsm8k", "math"}


def test_a_prmbench_file_is_read_without_format_and_its_keys_feed_eval(tmp_path):
    source = EVAL / "prmbench_slice.jsonl"
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    raw = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    assert [(r["idx"], r["classification"]) for r in _read(out)] == [(r["idx"], r["classification"]) for r in raw]
    result = CliRunner().invoke(app, ["eval", "prmbench", "--data", str(source), "--scores", str(out),
                                      "--output", str(tmp_path / "pm.json")])
    assert result.exit_code == 0, result.output


def test_an_annotate_output_folder_is_read_shard_by_shard(tmp_path):
    problem = Problem(id="p", question="1+1?")
    folder = tmp_path / "labels"
    folder.mkdir()
    for shard, steps in enumerate((["1+1=2"], ["1+1=3", "3"])):
        record = LabelledSolution(problem, Solution(problem_id="p", steps=steps))
        (folder / f"shard-{shard:05d}.jsonl").write_text(json.dumps(record.to_dict()) + "\n")
        (folder / f"shard-{shard:05d}.stats.json").write_text("{}")
    (folder / "run.json").write_text("{}")
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(folder), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert _read(out) == [{"id": "p/0", "scores": [0.5]}, {"id": "p/1", "scores": [0.5, 0.5]}]


def test_a_json_list_of_unknown_records_names_record_0(tmp_path):
    source = tmp_path / "in.json"
    source.write_text('[{"id": 1}]')
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(source)])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "in.json:record 0: cannot tell the format" in flat and "pass --format" in flat, flat


def test_http_scorer_through_the_cli_against_a_live_server(tmp_path):
    from prmkit.models import load_scorer
    from prmkit.serve.app import create_app
    from tests._serve import LiveServer

    out = tmp_path / "scores.jsonl"
    with LiveServer(create_app(load_scorer("dummy", value=0.25))) as live:
        result = CliRunner().invoke(app, ["score", "--model", "http", "--input", str(STEPS), "--output", str(out),
                                          "--option", f"url={live.url}", "--option", "batch_size=1"])
    assert result.exit_code == 0, result.output
    assert [r["scores"] for r in _read(out)] == [[0.25, 0.25], [0.25], [0.25, 0.25, 0.25]]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "question": "q", "steps": ["ok", ""]}'], "steps[1] = '' is not non-empty text"),
        (['{"id": "a", "question": "q", "steps": "one"}'], "field 'steps' should be list"),
        (['{"text": "hello"}'], "cannot tell the format"),
        (['{"id": 1}'], "pass --format"),
    ],
)
def test_bad_input_fails_naming_file_line_and_field_and_writes_nothing(tmp_path, lines, message):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert f"{source}:1" in result.output.replace("\n", "")
    assert not out.exists()


def test_unknown_scorer_name_lists_valid_ones(tmp_path):
    result = CliRunner().invoke(app, ["score", "--model", "dumy", "--input", str(STEPS), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Did you mean: dummy" in result.output


def test_options_the_scorer_does_not_take_fail_without_a_traceback(tmp_path):
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--option", "bogus=1", "--input", str(STEPS),
                                      "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "does not take --option bogus" in " ".join(result.output.split())


def test_eval_with_an_unknown_model_name_fails_cleanly(tmp_path):
    data = tmp_path / "pb.json"
    data.write_text('[{"id": "gsm8k-0", "problem": "q", "steps": ["a"], "label": -1}]')
    result = CliRunner().invoke(app, ["eval", "processbench", "--data", str(data), "--model", "dumy",
                                      "--output", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert "Did you mean: dummy" in result.output
