import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit.cli import app
from prmkit.io.prmbench import read_prmbench
from prmkit.io.processbench import read_processbench

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
GSM8K = FIXTURES / "processbench_gsm8k.json"
MATH = FIXTURES / "processbench_math.json"
PRMBENCH = FIXTURES / "prmbench_slice.jsonl"


def _invoke(*args):
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    return result


def _pb_scores(path, records, miss=()):
    """Scores whose first sub-0.5 step is the gold first error, except for ids in ``miss`` (never flagged)."""
    with open(path, "w") as handle:
        for r in records:
            k = r.labels.first_error
            row = [0.9 if (k == -1 or i < k or r.problem.id in miss) else 0.1 for i in range(len(r.solution.steps))]
            handle.write(json.dumps({"id": r.problem.id, "scores": row}) + "\n")


def test_processbench_cli_with_scores_file(tmp_path):
    records = read_processbench(GSM8K) + read_processbench(MATH)
    erroneous_math = [r.problem.id for r in records if r.problem.id.startswith("math") and r.labels.first_error != -1]
    _pb_scores(tmp_path / "s.jsonl", records, miss=erroneous_math[:1])
    out = tmp_path / "res" / "pb.json"
    result = _invoke("processbench", "--data", GSM8K, "--data", MATH, "--scores", tmp_path / "s.jsonl", "--output", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["subsets"]) == {"gsm8k", "math"}
    gsm, math_ = data["subsets"]["gsm8k"], data["subsets"]["math"]
    assert (gsm["error_acc"], gsm["correct_acc"], gsm["f1"], gsm["threshold"]) == (100.0, 100.0, 100.0, 0.5)
    # math: 1 of 2 erroneous found, both correct ones right -> F1 = 2*50*100/150
    assert math_["error_acc"] == 50.0 and math_["correct_acc"] == 100.0
    assert math_["f1"] == pytest.approx(200 / 3)
    assert data["average_f1"] == pytest.approx((100 + 200 / 3) / 2)
    assert "ProcessBench" in result.output and str(out) in result.output.replace("\n", "")


def test_processbench_cli_auto_threshold_and_dummy_model(tmp_path):
    records = read_processbench(GSM8K)
    _pb_scores(tmp_path / "s.jsonl", records)
    out = tmp_path / "auto.json"
    result = _invoke("processbench", "--data", GSM8K, "--scores", tmp_path / "s.jsonl", "--threshold", "auto",
                     "--output", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert 0.1 < data["threshold"] <= 0.9 and data["subsets"]["gsm8k"]["f1"] == 100.0

    out = tmp_path / "dummy.json"
    saved = tmp_path / "dummy_scores.jsonl"
    result = _invoke("processbench", "--data", GSM8K, "--model", "dummy", "--option", "value=0.3",
                     "--save-scores", saved, "--output", out)
    assert result.exit_code == 0, result.output
    gsm = json.loads(out.read_text())["subsets"]["gsm8k"]
    # every step scores 0.3 -> prediction 0 everywhere: only gold-0 errors count, no correct sample does
    expected_error = 100 * sum(r.labels.first_error == 0 for r in records) / 3
    assert gsm["correct_acc"] == 0.0 and gsm["error_acc"] == pytest.approx(expected_error)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(lines) == 6 and set(lines[0]["scores"]) == {0.3}


def test_processbench_cli_errors_name_the_record(tmp_path):
    records = read_processbench(GSM8K)
    scores = tmp_path / "s.jsonl"
    _pb_scores(scores, records[:-1])
    result = _invoke("processbench", "--data", GSM8K, "--scores", scores, "--output", tmp_path / "x.json")
    assert result.exit_code == 2 and records[-1].problem.id in result.output
    assert not (tmp_path / "x.json").exists()
    result = _invoke("processbench", "--data", GSM8K, "--output", tmp_path / "x.json")
    assert result.exit_code == 2 and "exactly one of --scores" in result.output


def test_prmbench_cli(tmp_path):
    records = read_prmbench(PRMBENCH)
    scores = tmp_path / "s.jsonl"
    with open(scores, "w") as handle:  # a perfect PRM except one error step called valid in 'circular'
        flipped = False
        for r in records:
            row = [0.9 if label == 1.0 else 0.1 for label in r.labels.labels]
            if r.solution.meta["classification"] == "circular" and not flipped:
                row[r.labels.labels.index(0.0)] = 0.8
                flipped = True
            handle.write(json.dumps({"idx": r.solution.meta["idx"], "classification": r.solution.meta["classification"],
                                     "scores": row}) + "\n")
    out = tmp_path / "prm.json"
    result = _invoke("prmbench", "--data", PRMBENCH, "--scores", scores, "--output", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["categories"]) == {"circular", "confidence"}
    assert data["categories"]["confidence"]["prmscore"] == 100.0
    circ = data["categories"]["circular"]
    assert circ["fp"] == 1 and circ["fn"] == 0
    tp, tn = circ["tp"], circ["tn"]
    assert circ["prmscore"] == pytest.approx(50 * (2 * tp / (2 * tp + 1) + 2 * tn / (2 * tn + 1)))
    assert 0 < data["prmscore"] < 100


def test_bon_cli_with_plot(tmp_path):
    data = tmp_path / "bon.jsonl"
    lines = [
        {"problem_id": "a", "candidates": [
            {"answer": "1", "correct": True, "scores": [0.9]}, {"answer": "2", "correct": False, "scores": [0.2]}]},
        {"problem_id": "b", "candidates": [
            {"answer": "3", "correct": False, "scores": [0.7]}, {"answer": "4", "correct": True, "scores": [0.6]}]},
    ]
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "bon.json"
    result = _invoke("bon", "--data", data, "--aggregation", "min", "--plot", "--output", out)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    assert res["pass@k"] == {"1": 50.0, "2": 100.0}
    assert res["best_of_k"]["min"] == {"1": 50.0, "2": 50.0}
    assert list(res["best_of_k"]) == ["min"]
    png = out.with_suffix(".png")
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"
    bad = _invoke("bon", "--data", data, "--ks", "1,x", "--output", out)
    assert bad.exit_code == 2 and "--ks" in bad.output


def test_steps_cli_on_processbench_format(tmp_path):
    records = read_processbench(GSM8K)
    scores = tmp_path / "s.jsonl"
    _pb_scores(scores, records)
    out = tmp_path / "steps.json"
    result = _invoke("steps", "--data", GSM8K, "--format", "processbench", "--scores", scores, "--output", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["auroc"] == 100.0 and data["first_error_acc"] == 100.0 and data["f1"] == 100.0  # percent
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    result = _invoke("steps", "--data", labelled, "--scores", scores, "--output", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["auroc"] == 100.0
    # without --format the ProcessBench file is told from its records (it is one JSON list, not JSONL)
    result = _invoke("steps", "--data", GSM8K, "--scores", scores, "--output", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["first_error_acc"] == 100.0


def test_bon_default_table_fits_100_columns(tmp_path):
    data = tmp_path / "bon.jsonl"
    candidate = {"answer": "1", "correct": True, "scores": [0.61803, 0.5]}
    data.write_text("".join(json.dumps({"problem_id": f"p{i}", "candidates": [candidate] * 64}) + "\n" for i in range(3)))
    result = CliRunner().invoke(app, ["eval", "bon", "--data", str(data), "--output", str(tmp_path / "b.json")],
                                env={"COLUMNS": "250"})  # wide enough that rich would not squeeze a wider table
    assert result.exit_code == 0, result.output
    table = [line for line in result.output.splitlines() if "│" in line or "┃" in line]
    assert len(table) >= 13 and "weighted (softmin)" in result.output and "k=64" in result.output
    assert max(len(line) for line in table) <= 100
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["intervals"]["best_of_k"]["softmin"]["64"] == [100.0, 100.0]
