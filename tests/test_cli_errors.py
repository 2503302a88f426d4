"""A careless user at every sub-command: each bad input ends in one line that names the culprit, exit 2.

Table-driven: each case is (sub-command argv, words the message must hold). Every case runs the real
CLI (``prmkit.cli.app``) in a scratch folder holding the files below. The assertions are the
issue's contract (#12): exit code 2, no traceback, no exception escaping, exactly one ``error:``
line, and the culprit (file:line, flag, record or valid choices) named in it. Real bugs are not user
errors and must still raise: the last test checks that.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
ARITH_POLICY = Path(__file__).parents[1] / "src" / "prmkit" / "assets" / "arith_policy"  # a 0.8 M-parameter causal LM
GSM8K = FIXTURES / "processbench_gsm8k.json"

GOOD_RECORD = {"problem": {"id": "p0", "question": "1+1?"}, "solution": {"problem_id": "p0", "steps": ["1+1=2"]},
               "labels": {"labels": [1.0]}}


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A working folder with the bad (and good) inputs the table refers to by name."""
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text('{"problem": 1\n')
    (tmp_path / "good.jsonl").write_text(json.dumps(GOOD_RECORD) + "\n")
    (tmp_path / "plain.jsonl").write_text(json.dumps({"id": "a", "question": "q", "steps": ["s"]}) + "\n")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "not_a_checkpoint").mkdir()
    (tmp_path / "not_a_checkpoint" / "notes.txt").write_text("no config.json here")
    (tmp_path / "bad.yaml").write_text("learning_rate: [1\n")
    (tmp_path / "unfinished").mkdir()  # an annotate output interrupted before its first shard
    (tmp_path / "unfinished" / "run.json").write_text("{}")
    (tmp_path / "config_only").mkdir()  # passes the folder check; options are refused before weights load
    (tmp_path / "config_only" / "config.json").write_text("{}")
    (tmp_path / "big_scores.jsonl").write_text(json.dumps({"id": "p0", "scores": [1.7]}) + "\n")
    candidates = [{"answer": "2", "correct": True, "scores": [3.0]}]
    (tmp_path / "bon_raw.jsonl").write_text(json.dumps({"problem_id": "p0", "candidates": candidates}) + "\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a name that is not a folder must not reach the network
    monkeypatch.chdir(tmp_path)
    return tmp_path


TRAIN = ["train", "prm", "--base-model", "demo", "--output-dir", "out"]

CASES = {
    # prmkit train: every bad input is named before any model loads
    "train missing file": ([*TRAIN, "--train-file", "missing.jsonl"], ["--train-file", "missing.jsonl", "does not exist"]),
    "train empty file": ([*TRAIN, "--train-file", "empty.jsonl"], ["empty.jsonl", "no records"]),
    "train malformed file": ([*TRAIN, "--train-file", "bad.jsonl"], ["bad.jsonl:1", "invalid JSON"]),
    "train folder": ([*TRAIN, "--train-file", "a_folder"], ["--train-file", "a_folder", "is a folder without annotate shards"]),
    "train unfinished annotate folder": ([*TRAIN, "--train-file", "unfinished"],
                                         ["--train-file", "unfinished", "without finished shards", "rerun"]),
    "train malformed yaml": ([*TRAIN, "--train-file", "good.jsonl", "--config", "bad.yaml"], ["bad.yaml:2", "invalid YAML"]),
    "train missing yaml": ([*TRAIN, "--train-file", "good.jsonl", "--config", "nope.yaml"],
                           ["--config nope.yaml", "no such file"]),
    "train policy bad value": (["train", "policy", "--output-dir", "p", "--max-steps", "-5"], ["--max-steps=-5", ">= 1"]),
    "train negative lr": ([*TRAIN, "--train-file", "good.jsonl", "--learning-rate", "-1"], ["--learning-rate", "> 0"]),
    "train val fraction 1.5": ([*TRAIN, "--train-file", "good.jsonl", "--val-fraction", "1.5"], ["--val-fraction", "[0, 1)"]),
    "train unknown precision": ([*TRAIN, "--train-file", "good.jsonl", "--mixed-precision", "fp8"],
                                ["--mixed-precision", "'fp8'", "no, fp16, bf16"]),
    "train zero epochs": ([*TRAIN, "--train-file", "good.jsonl", "--num-epochs", "0"], ["--num-epochs", "> 0"]),
    "train non-checkpoint base": (["train", "prm", "--train-file", "good.jsonl", "--base-model", "not_a_checkpoint",
                                   "--output-dir", "out"], ["--base-model", "not_a_checkpoint", "config.json"]),
    "train missing base": (["train", "orm", "--train-file", "good.jsonl", "--base-model", "./nope", "--output-dir", "o"],
                           ["--base-model", "./nope", "does not exist"]),
    "train bare unknown base": ([*TRAIN[:2], "--train-file", "good.jsonl", "--base-model", "nosuchdir", "--output-dir", "o"],
                                ["--base-model nosuchdir", "no such local folder", "not in the Hugging Face cache"]),
    "train max length over positions": ([*TRAIN, "--train-file", "good.jsonl", "--max-length", "1024"],
                                        ["--max-length", "1024", "192 positions"]),
    # prmkit eval: missing inputs, outputs that are folders, numbers that are not probabilities
    "eval steps missing scores": (["eval", "steps", "--data", "good.jsonl", "--scores", "missing.jsonl", "--output", "o.json"],
                                  ["--scores", "missing.jsonl", "no such file"]),
    "eval processbench missing scores": (["eval", "processbench", "--data", str(GSM8K), "--scores", "missing.jsonl",
                                          "--output", "o.json"], ["--scores", "missing.jsonl"]),
    "eval output is a folder": (["eval", "steps", "--data", "good.jsonl", "--model", "dummy", "--output", "a_folder"],
                                ["--output", "a_folder", "is a folder"]),
    "eval threshold above 1": (["eval", "processbench", "--data", str(GSM8K), "--model", "dummy", "--threshold", "1.5",
                                "--output", "o.json"], ["--threshold", "1.5", "[0, 1]"]),
    "eval prmbench negative threshold": (["eval", "prmbench", "--data", str(FIXTURES / "prmbench_slice.jsonl"), "--model",
                                          "dummy", "--threshold", "-0.1", "--output", "o.json"], ["--threshold", "[0, 1]"]),
    "eval scores above 1": (["eval", "steps", "--data", "good.jsonl", "--scores", "big_scores.jsonl", "--output", "o.json"],
                            ["big_scores.jsonl:1", "1.7", "[0, 1]"]),
    "eval bon on a JSON list": (["eval", "bon", "--data", str(GSM8K), "--output", "o.json"],
                                ["processbench_gsm8k.json:1", "one JSON list", "not JSONL"]),
    "eval steps unknown format": (["eval", "steps", "--data", "good.jsonl", "--format", "weird", "--model", "dummy",
                                   "--output", "o.json"], ["--format 'weird'", "labelled", "processbench"]),
    "eval bon scores above 1": (["eval", "bon", "--data", "bon_raw.jsonl", "--output", "o.json"],
                                ["bon_raw.jsonl:1", "'p0'", "[0, 1]"]),
    # prmkit score / serve: paths, options and ports
    "score non-checkpoint path": (["score", "--model", "token-cls", "--path", "not_a_checkpoint", "--input", "plain.jsonl"],
                                  ["--path", "not_a_checkpoint", "config.json"]),
    "score missing path": (["score", "--model", "token-cls", "--path", "./missing/ckpt", "--input", "plain.jsonl"],
                           ["--path", "./missing/ckpt", "no such folder"]),
    "score bare unknown path": (["score", "--model", "token-cls", "--path", "gtp2", "--input", "plain.jsonl"],
                                ["--path gtp2", "no such local folder", "HF_HUB_OFFLINE"]),
    "score unknown option": (["score", "--model", "dummy", "--option", "foo=1", "--input", "plain.jsonl"],
                             ["--option foo", "its options: value"]),
    "score too long item": (["score", "--model", "likelihood", "--path", str(ARITH_POLICY), "--option", "max_length=2",
                             "--input", "plain.jsonl"],
                            ["record 'a'", "over max_length=2", "--option truncation=keep_last_steps"]),
    "score unknown family option": (["score", "--model", "token-cls", "--path", "config_only", "--option", "foo=1",
                                     "--input", "plain.jsonl"],
                                    ["--option foo", "its options: tokenizer, device", "truncation"]),
    "score output is a folder": (["score", "--model", "dummy", "--input", "plain.jsonl", "--output", "a_folder"],
                                 ["a_folder", "is a folder"]),
    "serve port out of range": (["serve", "--model", "dummy", "--port", "70000"], ["--port", "65535"]),
    # prmkit annotate / search: tasks without their data, config values, PRMs that are not there
    "annotate gsm8k without data": (["annotate", "mc", "--task", "gsm8k", "--problems", "1"],
                                    ["--task gsm8k", "data_dir", "--task-option"]),
    "annotate bad config value": (["annotate", "mc", "--n", "0", "--problems", "1"], ["--n", "0"]),
    "annotate missing policy": (["annotate", "mc", "--policy", "./no_policy", "--problems", "1"],
                                ["--policy", "./no_policy", "no such folder"]),
    "annotate bare unknown policy": (["annotate", "mc", "--policy", "nosuchdir", "--problems", "1"],
                                     ["--policy nosuchdir", "not in the Hugging Face cache", "'demo'"]),
    "search bare unknown policy": (["search", "--policy", "nosuchdir", "--problems", "1"],
                                   ["--policy nosuchdir", "not in the Hugging Face cache"]),
    "demo bare unknown policy": (["demo", "--policy", "nosuchdir", "--out", "d"],
                                 ["--policy nosuchdir", "not in the Hugging Face cache"]),
    "search unknown prm": (["search", "--prm", "nope_dir", "--problems", "1"],
                           ["--prm 'nope_dir'", "neither a PRM checkpoint folder", "arith-oracle"]),
    "search zero budget": (["search", "--n", "0", "--problems", "1"], ["--n must be >= 1", "0"]),
    "search bad config field": (["search", "--option", "beam_width=0", "--problems", "1"],
                                ["beam_width must be >= 1", "--option key=value"]),
    "search gsm8k without data": (["search", "--task", "gsm8k", "--problems", "1"], ["--task gsm8k", "data_dir"]),
}


@pytest.mark.parametrize("argv, culprit", list(CASES.values()), ids=list(CASES))
def test_user_error_is_one_named_line_with_exit_code_2(scratch, argv, culprit):
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith(("error", "usage"))]
    message = errors[-1] if errors else result.output
    if argv[0] != "serve":  # click's own usage errors come in its framed box; ours in one line
        assert len(errors) == 1, result.output
    for word in culprit:
        assert word in (message if argv[0] != "serve" else " ".join(result.output.split())), (word, result.output)
    assert not list(scratch.rglob("*.partial")), "a failed command left a .partial file behind"


def test_a_rejected_option_lists_options_not_flags(scratch):
    """``--path`` / ``--backend`` are flags, not ``--option`` keys: the list of valid options leaves them out."""
    argv = ["score", "--model", "token-cls", "--path", "config_only", "--option", "foo=1", "--input", "plain.jsonl"]
    message = " ".join(CliRunner().invoke(app, argv).output.split())
    valid = message.split("its options: ", 1)[1].split(", ")
    assert "truncation" in valid and "path" not in valid and "backend" not in valid, message


def test_failed_write_leaves_nothing_behind(tmp_path):
    """The final rename failing (target became a folder) removes the .partial file too."""
    from prmkit.io._jsonl import atomic_writer

    target = tmp_path / "out.jsonl"
    with pytest.raises(IsADirectoryError):
        with atomic_writer(target) as handle:
            handle.write("{}\n")
            target.mkdir()  # appears while the command was working
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"] and target.is_dir()


def test_a_bug_is_not_a_user_error(scratch, monkeypatch):
    """Only input errors become one-liners: an internal bug still raises (and so shows its traceback)."""
    import prmkit.cli.score as score

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in prmkit")

    monkeypatch.setattr(score, "read_items", broken)
    result = CliRunner().invoke(app, ["score", "--model", "dummy", "--input", "plain.jsonl"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
