"""End to end: a tiny random-weight Qwen2.5-Math-PRM-format model scores real benchmark slices via
``prmkit eval --model``; the saved scores re-evaluated from file must give the same numbers."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "eval"

pytest.importorskip("transformers")
from tests import _tiny_models as tiny  # noqa: E402


@pytest.mark.slow
def test_model_scores_round_trip_through_the_cli(tmp_path):
    if not tiny.have_tokenizers():
        pytest.skip("shared tokenizer files not present")
    model = tiny.build_qwen_math_prm(tmp_path / "prm")
    runner = CliRunner()

    saved, live = tmp_path / "pb_scores.jsonl", tmp_path / "pb_live.json"
    data = ["--data", str(FIXTURES / "processbench_gsm8k.json"), "--data", str(FIXTURES / "processbench_math.json")]
    result = runner.invoke(app, ["eval", "processbench", *data, "--model", "qwen2.5-math-prm", "--path", model,
                                 "--save-scores", str(saved), "--threshold", "auto", "--output", str(live)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(lines) == 10 and all(0.0 <= s <= 1.0 for line in lines for s in line["scores"])
    again = tmp_path / "pb_file.json"
    result = runner.invoke(app, ["eval", "processbench", *data, "--scores", str(saved), "--threshold", "auto",
                                 "--output", str(again)])
    assert result.exit_code == 0, result.output
    first, second = json.loads(live.read_text()), json.loads(again.read_text())
    assert first["subsets"] == second["subsets"] and first["average_f1"] == second["average_f1"]

    saved, live = tmp_path / "prm_scores.jsonl", tmp_path / "prm_live.json"
    data = ["--data", str(FIXTURES / "prmbench_slice.jsonl")]
    result = runner.invoke(app, ["eval", "prmbench", *data, "--model", "qwen2.5-math-prm", "--path", model,
                                 "--save-scores", str(saved), "--output", str(live)])
    assert result.exit_code == 0, result.output
    again = tmp_path / "prm_file.json"
    result = runner.invoke(app, ["eval", "prmbench", *data, "--scores", str(saved), "--output", str(again)])
    assert result.exit_code == 0, result.output
    first, second = json.loads(live.read_text()), json.loads(again.read_text())
    assert first["categories"] == second["categories"] and first["prmscore"] == second["prmscore"]
