import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit._registry import UnknownNameError
from prmkit.cli import app
from prmkit.io._jsonl import FormatError
from prmkit.io.convert import FORMATS, ConversionError, convert, get_format, read_records, write_records
from tests._data import SHARED_DATA, needs_shared

FIXTURES = Path(__file__).parent / "fixtures" / "io"
DATA = SHARED_DATA
needs_data = needs_shared("processbench")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_math_shepherd_to_trl_matches_trls_own_conversion(tmp_path):
    # Expected rows follow TRL's examples/datasets/math_shepherd.py: prompt = text before
    # "Step 1:", completions keep their "Step k:" prefix, labels are the +/- flags.
    out = tmp_path / "trl.jsonl"
    assert convert("math-shepherd", "trl", FIXTURES / "math_shepherd_sample.jsonl", out) == 3
    second = _rows(out)[1]
    assert second == {
        "prompt": "A shirt costs $20 and is on sale for 25% off. What is the sale price?",
        "completions": [
            "Step 1: 25% of $20 is 0.25 * 20 = <<0.25*20=5>>5 dollars.",
            "Step 2: The sale price is 20 + 5 = <<20+5=25>>25 dollars.",
            "Step 3: The answer is: 25",
        ],
        "labels": [True, False, False],
    }


def test_prm800k_with_an_unrated_step_cannot_become_trl(tmp_path):
    out = tmp_path / "trl.jsonl"
    with pytest.raises(FormatError, match=r"record 2 \(problem 'prm800k-[0-9a-f]+'\): step 1 has an unknown label"):
        convert("prm800k", "trl", FIXTURES / "prm800k_sample.jsonl", out)
    assert not out.exists() and not (tmp_path / "trl.jsonl.partial").exists()


def test_prm800k_to_trl_rows(tmp_path):
    source = tmp_path / "two.jsonl"
    source.write_text("".join((FIXTURES / "prm800k_sample.jsonl").read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "trl.jsonl"
    assert convert("prm800k", "trl", source, out) == 2
    first, second = _rows(out)
    assert first["prompt"] == "What is the greatest common factor of $12$ and $18$?"
    assert first["labels"] == [True, True, False]
    assert second["labels"] == [True, True, True, True]
    assert second["completions"][2] == "Check: $3 \\cdot 5 + 7 = 22$, as required."
    assert convert("prm800k", "trl", source, out, reader_options={"neutral": 0.0}) == 2
    assert _rows(out)[0]["labels"] == [False, True, False]


def test_trl_to_math_shepherd_and_back(tmp_path):
    ms = tmp_path / "ms.jsonl"
    convert("trl", "math-shepherd", FIXTURES / "trl_sample.jsonl", ms)
    assert _rows(ms)[0]["input"].startswith("Which number is larger, 9.8 or 9.11? Step 1: The fractional part of 9.8 is 0.8. ки\n")
    back = tmp_path / "back.jsonl"
    convert("math-shepherd", "trl", ms, back)
    original, again = _rows(FIXTURES / "trl_sample.jsonl"), _rows(back)
    for before, after in zip(original, again, strict=True):
        assert after["prompt"] == before["prompt"]
        assert after["labels"] == before["labels"]
        assert after["completions"] == [f"Step {k}: {c}" for k, c in enumerate(before["completions"], 1)]


@pytest.mark.parametrize("fmt", ["prmkit", "trl", "math-shepherd", "prm800k"])
def test_prmkit_format_is_lossless_through_every_labelled_writer(tmp_path, fmt):
    records = list(read_records("math-shepherd", FIXTURES / "math_shepherd_sample.jsonl"))
    write_records("prmkit", tmp_path / "a.jsonl", records)
    assert list(read_records("prmkit", tmp_path / "a.jsonl")) == records
    write_records(fmt, tmp_path / "b.jsonl", records)
    again = list(read_records(fmt, tmp_path / "b.jsonl"))
    assert [r.solution.steps for r in again] == [r.solution.steps for r in records]
    assert [r.labels.labels for r in again] == [r.labels.labels for r in records]
    assert [r.problem.question for r in again] == [r.problem.question for r in records]


def test_gsm8k_to_a_labelled_format_says_why_and_writes_nothing(tmp_path):
    out = tmp_path / "trl.jsonl"
    with pytest.raises(ConversionError, match="no step labels") as err:
        convert("gsm8k", "trl", FIXTURES / "gsm8k_test_head5.jsonl", out)
    assert "prmkit" in str(err.value)
    assert not out.exists()
    with pytest.raises(ConversionError, match="no step labels"):
        convert("gsm8k-solutions", "math-shepherd", FIXTURES / "gsm8k_model_solutions_head3.jsonl", out)


def test_gsm8k_solutions_to_prmkit(tmp_path):
    out = tmp_path / "bon.jsonl"
    assert convert("gsm8k-solutions", "prmkit", FIXTURES / "gsm8k_model_solutions_head3.jsonl", out) == 12
    rows = _rows(out)
    assert rows[0]["solution"]["meta"] == {"model": "6b_finetuning"}
    assert rows[0]["labels"] is None


def test_unknown_and_read_only_formats_and_bad_options(tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean: math-shepherd"):
        get_format("math-shepard")
    with pytest.raises(ConversionError, match="can be read but not written"):
        convert("trl", "processbench", FIXTURES / "trl_sample.jsonl", tmp_path / "x.json")
    with pytest.raises(ConversionError, match=r"option\(s\) \['neutral'\] do not apply to the 'trl' reader"):
        convert("trl", "prmkit", FIXTURES / "trl_sample.jsonl", tmp_path / "x.jsonl", reader_options={"neutral": 0.0})
    assert set(FORMATS) >= {"prmkit", "trl", "math-shepherd", "prm800k", "gsm8k", "gsm8k-solutions", "processbench", "prmbench"}


def test_malformed_input_keeps_the_previous_output(tmp_path):
    source = tmp_path / "in.jsonl"
    good = (FIXTURES / "trl_sample.jsonl").read_text().splitlines()[0]
    source.write_text(good + "\n" + '{"prompt": "Q", "completions": ["a"]}\n')
    out = tmp_path / "out.jsonl"
    out.write_text("previous complete output\n")
    with pytest.raises(FormatError, match=rf"{source}:2: missing field 'labels'"):
        convert("trl", "math-shepherd", source, out)
    assert out.read_text() == "previous complete output\n"
    assert not (tmp_path / "out.jsonl.partial").exists()


@needs_data
def test_benchmark_readers_convert_to_prmkit(tmp_path):
    out = tmp_path / "pb.jsonl"
    assert convert("processbench", "prmkit", DATA / "processbench" / "gsm8k.json", out) == 400
    first = _rows(out)[0]
    assert first["labels"]["source"] == "human"
    prm = tmp_path / "prmbench.jsonl"
    files = sorted((DATA / "prmbench").glob("*.jsonl"))
    assert convert("prmbench", "prmkit", files[0], prm) == len(files[0].read_text().splitlines())


# ---------------------------------------------------------------- CLI


def test_cli_convert_prints_where_and_how_many(tmp_path):
    out = tmp_path / "nested" / "trl.jsonl"
    result = CliRunner().invoke(
        app, ["convert", "--from", "math-shepherd", "--to", "trl", str(FIXTURES / "math_shepherd_sample.jsonl"), str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 records" in result.output and "trl.jsonl" in result.output
    assert len(_rows(out)) == 3


def test_cli_convert_threshold_and_neutral_options(tmp_path):
    source = tmp_path / "two.jsonl"
    source.write_text("".join((FIXTURES / "prm800k_sample.jsonl").read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "trl.jsonl"
    args = ["convert", "--from", "prm800k", "--to", "trl", "--neutral", "0.0", str(source), str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _rows(out)[0]["labels"] == [False, True, False]


def test_cli_convert_errors_exit_1_with_the_reason(tmp_path):
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(
        app, ["convert", "--from", "gsm8k", "--to", "trl", str(FIXTURES / "gsm8k_test_head5.jsonl"), str(out)]
    )
    assert result.exit_code == 2
    assert "no step labels" in result.output
    assert not out.exists()
    result = CliRunner().invoke(app, ["convert", "--from", "tlr", "--to", "trl", str(FIXTURES / "trl_sample.jsonl"), str(out)])
    assert result.exit_code == 2 and "Did you mean: trl" in result.output
