"""Tiny-policy SFT: tokenizer, example encoding, the trainer, the CLI and the shipped checkpoint."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

import prmkit
from prmkit.tasks.arith import ArithTask
from prmkit.train import policy as policy_module
from prmkit.train.policy import (
    PolicyConfig,
    encode_example,
    measure_policy,
    train_policy,
)
from prmkit.train.tokenizer import build_char_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ASSET = Path(prmkit.__file__).parent / "assets" / "arith_policy"
TINY = {"difficulty": "tiny", "num_train_problems": 64, "n_layer": 1, "n_embd": 16, "n_head": 2, "batch_size": 8,
        "eval_problems": 4, "eval_max_new_tokens": 8, "progress": False, "warmup_steps": 2, "num_threads": 1}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_char_tokenizer_round_trip_and_single_token_separator(tmp_path):
    tok = build_char_tokenizer()
    text = "Q 12 +5 *3\n12+5=17\n17*3=51\nThe answer is 51.\n"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.convert_tokens_to_ids("\n") != tok.unk_token_id and len(tok("\n", add_special_tokens=False)["input_ids"]) == 1
    assert tok.convert_ids_to_tokens(ids).count("The answer is ") == 1
    assert len({tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id}) == 4
    tok.save_pretrained(tmp_path)
    loaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(text)["input_ids"] == ids and loaded.padding_side == "left"


def test_encode_example_masks_the_prompt():
    tok = build_char_tokenizer()
    ids, labels = encode_example(tok, "Q 1 +2\n", "1+2=3\nThe answer is 3.\n")
    prompt_len = len(tok("Q 1 +2\n")["input_ids"])
    assert prompt_len == 8 and labels[:prompt_len] == [-100] * prompt_len
    assert labels[prompt_len:] == ids[prompt_len:] and ids[-1] == tok.eos_token_id
    assert tok.decode(ids[prompt_len:], skip_special_tokens=True) == "1+2=3\nThe answer is 3.\n"


def test_config_lists_every_error_at_once():
    with pytest.raises(ValueError) as err:
        PolicyConfig(difficulty="impossible", n_embd=30, n_head=4, max_steps=0)
    message = str(err.value)
    assert "difficulty='impossible'" in message and "max_steps=0" in message and "n_embd=30" in message
    assert all(PolicyConfig.field_help().values())  # every field has help text


def test_train_policy_lowers_the_loss_and_saves_a_loadable_checkpoint(tmp_path):
    out = train_policy(PolicyConfig(output_dir=str(tmp_path / "p"), max_steps=25, eval_every=0,
                                    learning_rate=1e-2, **TINY))
    record = json.loads((out / "train_config.json").read_text())
    assert record["steps"] == 25 and record["final_loss"] < record["first_loss"] - 0.5
    assert record["config"]["n_layer"] == 1 and record["evaluations"][-1]["step"] == 25
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    tok = transformers.AutoTokenizer.from_pretrained(out)
    assert model.config.n_layer == 1 and len(tok) == model.config.vocab_size


def test_stop_at_pass1_stops_at_the_first_evaluation_reaching_it(tmp_path, monkeypatch):
    monkeypatch.setattr(policy_module, "measure_policy", lambda *a, **k: {"pass@1": 0.6})
    out = train_policy(PolicyConfig(output_dir=str(tmp_path / "p"), max_steps=50, eval_every=3,
                                    stop_at_pass1=0.5, **TINY))
    record = json.loads((out / "train_config.json").read_text())
    assert record["steps"] == 3 and [e["step"] for e in record["evaluations"]] == [3]


def test_measure_policy_counts_pass_majority_and_any():
    from prmkit.types import Completion

    task = ArithTask(difficulty="tiny", num_test=2)
    p, q = task.problems("test")
    def right(prob):
        return f"The answer is {prob.answer}.\n"

    def wrong(prob, k):
        return f"The answer is {int(prob.answer) + k}.\n"

    class Canned:
        def complete(self, prompts, *, n, **_):
            return [[Completion(right(p), 5), Completion(wrong(p, 1), 5), Completion(wrong(p, 2), 5), Completion(right(p), 5)],
                    [Completion(wrong(q, 1), 3), Completion(wrong(q, 1), 3), Completion(right(q), 3), Completion("?", 3)]]

    result = measure_policy(Canned(), task, [p, q], n=4)
    assert result == {"pass@1": 3 / 8, "maj@4": 0.5, "pass@4": 1.0, "mean_tokens": 4.0}


def test_cli_trains_with_flags_and_rejects_bad_values(tmp_path):
    from typer.testing import CliRunner

    from prmkit.cli import app

    out = tmp_path / "cli"
    args = ["train", "policy", "--output-dir", str(out), "--difficulty", "tiny", "--max-steps", "2",
            "--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--batch-size", "4", "--num-train-problems", "16",
            "--eval-problems", "2", "--eval-every", "0", "--eval-max-new-tokens", "4", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "train_config.json").read_text())["config"]
    assert config["max_steps"] == 2 and config["difficulty"] == "tiny" and config["stop_at_pass1"] == 0.45
    bad = CliRunner().invoke(app, ["train", "policy", "--output-dir", str(tmp_path / "x"), "--n-head", "3"])
    assert bad.exit_code == 2 and "--n-embd=128 must be divisible by --n-head=3" in bad.output  # in flag words
    (tmp_path / "bad.yaml").write_text("n-layer: 1\nlayers: 2\n")
    bad = CliRunner().invoke(app, ["train", "policy", "--config", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2 and "unknown key 'layers'" in bad.output


def test_cli_yaml_config_with_flag_override(tmp_path):
    from typer.testing import CliRunner

    from prmkit.cli import app

    out = tmp_path / "yaml"
    (tmp_path / "policy.yaml").write_text(
        f"output_dir: {out}\ndifficulty: tiny\nmax-steps: 5\nn_layer: 1\nn_embd: 16\nn_head: 2\nbatch_size: 4\n"
        "num_train_problems: 16\neval_problems: 2\neval_every: 0\neval_max_new_tokens: 4\nprogress: false\n"
    )
    result = CliRunner().invoke(app, ["train", "policy", "--config", str(tmp_path / "policy.yaml"), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "train_config.json").read_text())
    assert record["steps"] == 2 and record["config"]["n_layer"] == 1 and record["config"]["learning_rate"] == 2e-3


@pytest.mark.skipif(not (ASSET / "model.safetensors").exists(), reason="shipped policy not built")
def test_shipped_policy_is_useful_but_imperfect():
    from prmkit.generation import load_generator

    record = json.loads((ASSET / "train_config.json").read_text())
    assert 0.3 <= record["evaluations"][-1]["pass@1"] <= 0.7
    # the README's command (defaults + --num-threads 1) is exactly the recipe that built it
    recipe = dict(record["config"], output_dir="x", progress=True)
    assert recipe == asdict(PolicyConfig(output_dir="x", num_threads=1))
    generator = load_generator("transformers", model=str(ASSET), progress=False, batch_size=64)
    task = ArithTask(difficulty=record["config"]["difficulty"], num_test=64, seed=record["config"]["task_seed"])
    result = measure_policy(generator, task, task.problems("test"), n=1, temperature=1.0, seed=123)
    assert 0.2 <= result["pass@1"] <= 0.8, result  # 64 samples: wide enough for sampling noise
    # its solutions are in the task's format: the oracle can judge every step of every sample
    [[sample]] = generator.complete([task.prompt(task.problems("test")[0])], temperature=0.0, max_new_tokens=160)
    assert sample.finish_reason == "eos" and task.extract_answer(sample.text) is not None
