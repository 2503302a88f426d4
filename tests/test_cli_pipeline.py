"""The README's pipeline, command by command, on tiny budgets: every output is the next command's input.

annotate mc -> train prm -> score -> eval steps (all three reading the annotate output folder directly) /
score a ProcessBench folder -> eval processbench -> search -> eval bon, all with the arith policy shipped in prmkit (``demo``).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(*argv: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    return result.output


def test_annotate_train_score_eval_search_bon(tmp_path):
    shards = tmp_path / "labels" / "mc"
    _run("annotate", "mc", "--policy", "demo", "--problems", "2", "--samples", "2", "--n", "1",
         "--max-new-tokens", "48", "--out", shards)
    labels = shards  # the hand-off: the annotate output folder is what train / score / eval steps read
    records = [json.loads(line) for p in sorted(shards.glob("shard-*.jsonl")) for line in p.read_text().splitlines()]
    assert len(records) == 4 and all(r["labels"]["labels"] for r in records)

    prm = tmp_path / "runs" / "prm"
    _run("train", "prm", "--train-file", labels, "--base-model", "demo", "--output-dir", prm,
         "--max-steps", "2", "--val-fraction", "0", "--eval-every", "2", "--batch-size", "4")
    assert json.loads((prm / "prmkit.json").read_text())["family"] == "token-cls"

    scores = tmp_path / "scores.jsonl"
    _run("score", "--model", "token-cls", "--path", prm, "--input", labels, "--output", scores)
    lines = [json.loads(line) for line in scores.read_text().splitlines()]
    assert len(lines) == 4 and len({line["id"] for line in lines}) == 4  # 2 solutions per problem: numbered ids
    steps = tmp_path / "steps.json"
    _run("eval", "steps", "--data", labels, "--scores", scores, "--output", steps)
    assert json.loads(steps.read_text())["num_solutions"] == 4

    processbench = tmp_path / "processbench"  # the same solutions in ProcessBench's schema, as a folder
    processbench.mkdir()
    (processbench / "arith.json").write_text(json.dumps([
        {"id": f"arith-{k}", "generator": "demo", "problem": r["problem"]["question"], "steps": r["solution"]["steps"],
         "final_answer_correct": bool(r["solution"].get("correct")),
         "label": next((k for k, v in enumerate(r["labels"]["labels"]) if v is not None and v < 0.5), -1)}
        for k, r in enumerate(records)
    ]))
    pb_scores = tmp_path / "pb_scores.jsonl"
    _run("score", "--model", "token-cls", "--path", prm, "--input", processbench, "--output", pb_scores)
    assert [json.loads(line)["scores"] for line in pb_scores.read_text().splitlines()] == [s["scores"] for s in lines]
    pb = tmp_path / "pb.json"
    _run("eval", "processbench", "--data", processbench, "--scores", pb_scores, "--output", pb)
    assert "arith" in json.loads(pb.read_text())["subsets"]

    found = tmp_path / "search.jsonl"
    out = _run("search", "--policy", "demo", "--prm", prm, "--method", "best_of_n", "--n", "2", "--problems", "2",
               "--out", found, "--option", "max_new_tokens=48")
    assert "oracle" not in out  # the trained PRM, read as token-cls from its prmkit.json
    bon = tmp_path / "bon.json"
    _run("eval", "bon", "--data", found, "--output", bon)
    assert json.loads(bon.read_text())["num_problems"] == 2
