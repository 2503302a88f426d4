"""Token-classification PRM trainer: labels on the right tokens, padding-side invariance, learns a
visible rule, and the saved checkpoint reads back the same scores.

The tiny base models and rule-labelled records come from ``tests/_tiny_train.py`` (shared with the
implicit / ORM trainer tests); ``qwen_base`` / ``gpt2_base`` are fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prmkit.io._jsonl import FormatError
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels
from tests._tiny_train import make_base, rule_records, write_records

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")


def test_labels_sit_on_step_separators_only(qwen_base: Path) -> None:
    """The label of step k is on the token encode_token_cls names for it, -100 everywhere else."""
    from prmkit.models.formats.token_cls import encode_token_cls
    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import PRMTrainConfig, _encode_record

    tokenizer = load_tokenizer(qwen_base)
    record = LabelledSolution(
        problem=Problem(id="p", question="Q 2+3"),
        solution=Solution(problem_id="p", steps=["2+3=5", "5*2=9", "Ans 9"]),
        labels=StepLabels(labels=[1.0, 0.25, None]),
    )
    for mode, expected in (("hard", [1, 0]), ("soft", [1.0, 0.25])):
        config = PRMTrainConfig(train_file="-", base_model="-", output_dir="-", label_mode=mode, max_length=1024)
        row = _encode_record(tokenizer, record, "here", config)
        positions = encode_token_cls(tokenizer, "Q 2+3", record.solution.steps).step_positions
        assert row["input_ids"] == encode_token_cls(tokenizer, "Q 2+3", record.solution.steps).input_ids
        labelled = [i for i, label in enumerate(row["labels"]) if label != -100]
        assert labelled == positions[:2]  # the None label of step 3 is ignored
        assert [row["labels"][p] for p in labelled] == expected
        assert all(tokenizer.decode([row["input_ids"][p]]) == "\n" for p in labelled)


def test_char_tokenizer_keeps_spaces_with_qwen2_config(qwen_base: Path) -> None:
    """load_tokenizer must not let a Qwen2 config swap in a byte-level tokenizer that drops spaces."""
    from prmkit.train._data import load_tokenizer

    tokenizer = load_tokenizer(qwen_base)
    assert len(tokenizer("Q 1\n", add_special_tokens=False)["input_ids"]) == 4


def test_bad_records_name_the_problem(qwen_base: Path) -> None:
    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import PRMTrainConfig, _encode_record

    tokenizer = load_tokenizer(qwen_base)
    config = PRMTrainConfig(train_file="-", base_model="-", output_dir="-", max_length=8)
    record = rule_records(1, seed=0)[0]
    with pytest.raises(FormatError, match="max_length"):
        _encode_record(tokenizer, record, "f.jsonl: problem 'p0'", config)
    record.labels = StepLabels(labels=[1.0])
    with pytest.raises(FormatError, match="problem 'p0'.*one label per step"):
        _encode_record(tokenizer, record, "f.jsonl: problem 'p0'", config)
    record.labels = None
    with pytest.raises(FormatError, match="no 'labels'"):
        _encode_record(tokenizer, record, "f.jsonl: problem 'p0'", config)


def test_an_annotate_output_folder_is_a_train_file(tmp_path: Path) -> None:
    """`prmkit annotate --out DIR` -> `train ... --train-file DIR`: its shards in order, nothing else read."""
    from prmkit.annotate._shards import ShardStore
    from prmkit.train._config import resolve_inputs
    from prmkit.train._data import load_labelled
    from prmkit.train.prm import PRMTrainConfig

    records = rule_records(5, seed=1)
    store = ShardStore(tmp_path / "mc", config={"n": 1}, unit_ids=[r.problem.id for r in records], shard_size=2)
    for shard in range(store.num_shards):
        store.write(shard, [records[u] for u in store.units_of(shard)], {"rollouts": 0})
    assert len(list((tmp_path / "mc").glob("*.json"))) > 1  # run.json and stats files are there, and skipped
    config = PRMTrainConfig(train_file=str(tmp_path / "mc"), base_model=str(tmp_path / "mc"), output_dir="-")
    from prmkit._errors import InputError

    with pytest.raises(InputError, match="base_model"):  # the folder passes as train_file; base_model is the next check
        resolve_inputs(config)
    assert [r.to_dict() for r in load_labelled(tmp_path / "mc")] == [r.to_dict() for r in records]
    (tmp_path / "plain").mkdir()
    config = PRMTrainConfig(train_file=str(tmp_path / "plain"), base_model="demo", output_dir="-")
    with pytest.raises(ValueError, match="folder without annotate shards"):
        resolve_inputs(config)


def test_eval_history_is_standard_json_with_every_rate_in_percent(tmp_path: Path) -> None:
    from prmkit.train._model import write_run_files
    from prmkit.train.prm import PRMTrainConfig, evaluate_step_scores

    records = rule_records(8, seed=3)
    assert {r.labels.first_error == -1 for r in records} == {True, False}  # both kinds of solution
    perfect = evaluate_step_scores(records, [[1.0 if y >= 0.5 else 0.0 for y in r.labels.labels] for r in records])
    assert perfect["step_auroc"] == perfect["step_acc"] == perfect["f1"] == 100.0  # one unit for every rate
    correct_only = [r for r in records if r.labels.first_error == -1]
    undefined = evaluate_step_scores(correct_only, [[0.9] * len(r.solution.steps) for r in correct_only])
    config = PRMTrainConfig(train_file="a", base_model="b", output_dir="c")
    write_run_files(tmp_path, config, {"history": [perfect, undefined], "best": perfect}, {})
    text = (tmp_path / "eval_history.json").read_text()
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in eval_history.json"))
    assert data["history"][1]["step_auroc"] is None and "percent" in data["units"]


def test_config_rejects_unknown_values() -> None:
    from prmkit.train.prm import PRMTrainConfig

    with pytest.raises(ValueError, match="label_mode"):
        PRMTrainConfig(train_file="a", base_model="b", output_dir="c", label_mode="fuzzy")
    with pytest.raises(ValueError, match="metric"):
        PRMTrainConfig(train_file="a", base_model="b", output_dir="c", metric="loss")


@pytest.mark.parametrize("arch", ["qwen2", "gpt2"])
def test_padding_side_does_not_change_scores(tmp_path: Path, arch: str) -> None:
    """Left- and right-padded batches give the unbatched scores (positions come from the mask)."""
    from transformers import AutoModelForTokenClassification

    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import predict_step_scores

    base = make_base(tmp_path, arch)
    tokenizer = load_tokenizer(base)
    model = AutoModelForTokenClassification.from_pretrained(base, num_labels=2)
    items = [(r.problem.question, r.solution.steps) for r in rule_records(6, seed=3)]
    alone = [predict_step_scores(model, tokenizer, [item], batch_size=1)[0] for item in items]
    right = predict_step_scores(model, tokenizer, items, batch_size=6, padding_side="right")
    left = predict_step_scores(model, tokenizer, items, batch_size=6, padding_side="left")
    lengths = {len(s) for s in alone}
    assert len(lengths) > 1 or len({len(i[1]) for i in items}) > 1  # the batch really needs padding
    for a, r, l_ in zip(alone, right, left):
        assert r == pytest.approx(a, abs=1e-5)
        assert l_ == pytest.approx(a, abs=1e-5)


@pytest.mark.parametrize("label_mode", ["hard", "soft"])
def test_training_loss_does_not_depend_on_padding_side(qwen_base: Path, label_mode: str) -> None:
    """The loss the trainer optimises is the same for left- and right-padded batches."""
    from transformers import AutoModelForTokenClassification

    from prmkit.train._data import load_tokenizer, pad_batch
    from prmkit.train.prm import PRMTrainConfig, _encode_record, _loss

    tokenizer = load_tokenizer(qwen_base)
    model = AutoModelForTokenClassification.from_pretrained(qwen_base, num_labels=2)
    config = PRMTrainConfig(train_file="-", base_model="-", output_dir="-", label_mode=label_mode, max_length=1024)
    rows = [_encode_record(tokenizer, r, "here", config) for r in rule_records(6, seed=8)]
    with torch.no_grad():
        right = float(_loss(model, pad_batch(rows, tokenizer.pad_token_id, "right"), label_mode))
        left = float(_loss(model, pad_batch(rows, tokenizer.pad_token_id, "left"), label_mode))
    assert left == pytest.approx(right, rel=1e-5)


def test_body_weights_load_from_the_causal_lm(qwen_base: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification

    from prmkit.train._model import load_from_base

    lm = AutoModelForCausalLM.from_pretrained(qwen_base)
    cls = load_from_base(AutoModelForTokenClassification, qwen_base, num_labels=2)
    assert torch.equal(cls.model.layers[1].mlp.up_proj.weight, lm.model.layers[1].mlp.up_proj.weight)


def test_new_head_init_depends_on_the_seed_only(qwen_base: Path) -> None:
    from transformers import AutoModelForTokenClassification

    from prmkit.train._model import load_from_base

    first = load_from_base(AutoModelForTokenClassification, qwen_base, seed=3, num_labels=2)
    torch.rand(1000)  # other work drawing random numbers in between must not change the head
    again = load_from_base(AutoModelForTokenClassification, qwen_base, seed=3, num_labels=2)
    other = load_from_base(AutoModelForTokenClassification, qwen_base, seed=4, num_labels=2)
    assert torch.equal(first.score.weight, again.score.weight)
    assert not torch.equal(first.score.weight, other.score.weight)


def test_body_that_does_not_load_is_refused(tmp_path: Path, qwen_base: Path) -> None:
    """A checkpoint missing body weights (here: one layer deleted) must not train from noise."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForTokenClassification

    from prmkit.train._model import load_from_base

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((qwen_base / name).read_bytes())
    weights = load_file(qwen_base / "model.safetensors")
    save_file({k: v for k, v in weights.items() if ".layers.1." not in k}, broken / "model.safetensors")
    with pytest.raises(ValueError, match="did not load the model body"):
        load_from_base(AutoModelForTokenClassification, broken, num_labels=2)


def _fit(tmp_path: Path, base: Path, **overrides):
    from prmkit.train.prm import PRMTrainConfig, train_prm

    train = write_records(tmp_path / "train.jsonl", rule_records(128, seed=1))
    val = write_records(tmp_path / "val.jsonl", rule_records(48, seed=2))
    settings = {
        "train_file": str(train), "val_file": str(val), "base_model": str(base), "output_dir": str(tmp_path / "prm"),
        "learning_rate": 3e-3, "max_steps": 40, "batch_size": 16, "eval_every": 20, "warmup_ratio": 0.05,
        "eval_train_examples": 96, "seed": 0,
    }
    settings.update(overrides)
    return train_prm(PRMTrainConfig(**settings))


@pytest.mark.slow
def test_learns_a_visible_rule_and_the_checkpoint_reads_back_the_same(tmp_path: Path, qwen_base: Path) -> None:
    """The feasibility-probe check: a tiny PRM must fit a learnable rule (train accuracy, AUROC, F1)
    and the saved checkpoint, read like the scorer reads it, must give the trainer's own scores."""
    from transformers import AutoModelForTokenClassification

    from prmkit.models.formats.token_cls import encode_token_cls
    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import evaluate_step_scores, predict_step_scores

    out = _fit(tmp_path, qwen_base)
    history = json.loads((out / "eval_history.json").read_text())
    best = history["best"]
    assert best["train_step_acc"] > 95 and best["train_step_auroc"] > 98
    assert best["step_auroc"] > 95 and best["f1"] > 80
    saved = json.loads((out / "config.json").read_text())
    assert saved["step_separator"] == "\n" and saved["id2label"] == {"0": "incorrect", "1": "correct"}
    assert json.loads((out / "prmkit.json").read_text())["family"] == "token-cls"
    assert json.loads((out / "train_config.json").read_text())["config"]["learning_rate"] == 3e-3

    model = AutoModelForTokenClassification.from_pretrained(out)
    tokenizer = load_tokenizer(out)
    records = rule_records(48, seed=2)
    items = [(r.problem.question, r.solution.steps) for r in records]
    batched = predict_step_scores(model, tokenizer, items, padding_side="left")
    # read one item at a time exactly as the format says: softmax[1] at each step position
    for (question, steps), scores in zip(items, batched):
        encoded = encode_token_cls(tokenizer, question, steps, model.config.step_separator)
        with torch.no_grad():
            probs = model(torch.tensor([encoded.input_ids])).logits.softmax(-1)[0, :, 1]
        assert [float(probs[p]) for p in encoded.step_positions] == pytest.approx(scores, abs=1e-5)
    # the saved checkpoint is the best one: re-evaluating it reproduces the recorded validation F1
    assert evaluate_step_scores(records, batched)["f1"] == pytest.approx(best["f1"])


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_scorer_reads_the_trained_checkpoint(tmp_path: Path, arch: str) -> None:
    """load_scorer("token-cls", path=...) gives the trainer's own predictions.

    Qwen2 body: transformers 5's ``AutoTokenizer`` would swap its character-level ``tokenizer.json``
    for a byte-level Qwen2 tokenizer that drops spaces and newlines; the scorer must not.
    """
    from transformers import AutoModelForTokenClassification

    from prmkit.models import load_scorer
    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import predict_step_scores

    out = _fit(tmp_path, make_base(tmp_path / arch, arch), max_steps=10, eval_every=10, eval_train_examples=0)
    items = [(r.problem.question, r.solution.steps) for r in rule_records(8, seed=5)]
    ours = predict_step_scores(AutoModelForTokenClassification.from_pretrained(out), load_tokenizer(out), items)
    theirs = load_scorer("token-cls", path=str(out)).score(items)
    for a, b in zip(ours, theirs):
        assert b == pytest.approx(a, abs=1e-4)


@pytest.mark.slow
def test_soft_labels_lora_and_gpt2(tmp_path: Path) -> None:
    """Soft-label BCE with LoRA on a GPT-2 body: trains, lowers the loss, saves a merged plain model."""
    from transformers import AutoModelForTokenClassification

    base = make_base(tmp_path / "gpt2", "gpt2")
    out = _fit(tmp_path, base, label_mode="soft", use_lora=True, lora_r=8, max_steps=30, eval_every=15,
               eval_train_examples=0, learning_rate=5e-3)
    history = json.loads((out / "eval_history.json").read_text())["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    model = AutoModelForTokenClassification.from_pretrained(out)  # plain HF model, no peft needed
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert model.config.step_separator == "\n"


def test_lora_run_saves_a_plain_merged_model(tmp_path: Path) -> None:
    """Fast path of LoRA + soft labels: a few steps, then a checkpoint that loads without peft."""
    from transformers import AutoModelForTokenClassification

    base = make_base(tmp_path / "gpt2", "gpt2")
    out = _fit(tmp_path, base, label_mode="soft", use_lora=True, lora_r=4, max_steps=3, eval_every=3,
               eval_train_examples=0)
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert json.loads((out / "prmkit.json").read_text())["label_mode"] == "soft"


def test_cli_maps_flags_and_yaml_onto_the_config(tmp_path: Path) -> None:
    """`prmkit train prm` trains from flags + YAML; unknown YAML keys and missing fields fail clearly."""
    from typer.testing import CliRunner

    from prmkit.cli import app

    base = make_base(tmp_path / "base", "gpt2")
    train = write_records(tmp_path / "train.jsonl", rule_records(16, seed=1))
    yaml_file = tmp_path / "prm.yaml"
    yaml_file.write_text(f"train_file: {train}\nbase-model: {base}\nmax_steps: 2\nlearning_rate: 0.001\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["train", "prm", "--config", str(yaml_file), "--output-dir", str(out),
                                      "--step-separator", "\\n", "--eval-every", "1", "--val-fraction", "0.25"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "train_config.json").read_text())["config"]
    assert saved["max_steps"] == 2 and saved["learning_rate"] == 0.001 and saved["step_separator"] == "\n"
    assert len(json.loads((out / "eval_history.json").read_text())["history"]) == 2

    yaml_file.write_text("train_file: x.jsonl\nlearning_rat: 0.1\n")
    result = CliRunner().invoke(app, ["train", "orm", "--config", str(yaml_file)])
    assert result.exit_code == 2
    assert "unknown key 'learning_rat'" in result.output and "missing --base-model" in result.output
