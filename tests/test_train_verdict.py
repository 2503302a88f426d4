"""Verdict-PRM trainer: the exact label mask (verdicts at tags, truncation after the first error, LM
targets only on correct steps), the loss is only on those positions, and the checkpoint is read back
by ``load_scorer("verdict")`` with the trainer's own numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prmkit.io._jsonl import FormatError
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels
from tests._tiny_train import make_arith_base, rule_records, write_records

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")
IGNORE = -100


@pytest.fixture(scope="module")
def arith_base(tmp_path_factory) -> Path:
    return make_arith_base(tmp_path_factory.mktemp("arith_base"))


@pytest.fixture(scope="module")
def tokenizer(arith_base: Path):
    from prmkit.train._data import load_tokenizer

    return load_tokenizer(arith_base)


def _record(steps: list[str], labels: list[float | None]) -> LabelledSolution:
    return LabelledSolution(problem=Problem(id="p", question="Q 2 +3"), solution=Solution(problem_id="p", steps=steps),
                            labels=StepLabels(labels=labels))


def test_label_mask_golden(tokenizer) -> None:
    """Arith tokenizer ids: [BOS]=1 Q=57 ' '=99 '1'=6 '2'=7 '3'=8 '5'=10 '7'=12 '+'=77 '='=85 '?'=87 '-'=79 '\\n'=4.
    Steps [ok, wrong, ok]: the third step is dropped, the sequence ends at the wrong step's '-'."""
    from prmkit.train.verdict import encode_verdict_example

    row = encode_verdict_example(tokenizer, _record(["2+3=5", "5+1=7", "7+1=8"], [1.0, 0.0, 0.0]), lm_weight=0.0)
    assert tokenizer.decode(row["input_ids"], skip_special_tokens=True) == "Q 2 +3\n2+3=5?+\n5+1=7?-"
    assert row["input_ids"] == [1, 57, 99, 7, 99, 77, 8, 4, 7, 77, 8, 85, 10, 87, 77, 4, 10, 77, 6, 85, 12, 87, 79]
    expected = [IGNORE] * len(row["input_ids"])
    expected[13], expected[21] = 77, 79  # '+' at the first tag, '-' at the second
    assert row["labels"] == expected
    assert row["lm_mask"] == [0] * len(expected)

    lm = encode_verdict_example(tokenizer, _record(["2+3=5", "5+1=7", "7+1=8"], [1.0, 0.0, 0.0]), lm_weight=0.5)
    assert lm["input_ids"] == row["input_ids"]
    with_lm = list(expected)
    with_lm[7:12] = [7, 77, 8, 85, 10]  # step 1's "2+3=5", each token predicted from the one before
    assert lm["labels"] == with_lm
    assert lm["lm_mask"] == [0] * 7 + [1] * 5 + [0] * (len(expected) - 12)  # the wrong step gets none


def test_unknown_and_soft_labels(tokenizer) -> None:
    """Unknown label: '+' in the context, no target; soft labels are thresholded at 0.5."""
    from prmkit.train.verdict import encode_verdict_example

    row = encode_verdict_example(tokenizer, _record(["1", "2", "3"], [None, 0.7, 0.2]))
    tags = [i for i, t in enumerate(row["input_ids"]) if t == 87]
    assert [row["input_ids"][t + 1] for t in tags] == [77, 77, 79]
    assert [row["labels"][t] for t in tags] == [IGNORE, 77, 79]
    assert row["input_ids"][-1] == 79
    with pytest.raises(ValueError, match="no 'labels'"):
        encode_verdict_example(tokenizer, LabelledSolution(problem=Problem(id="p", question="Q"),
                                                           solution=Solution(problem_id="p", steps=["1"])))


@pytest.mark.parametrize("lm_weight", [0.0, 0.5])
def test_loss_is_only_on_verdict_and_lm_positions(arith_base: Path, tokenizer, lm_weight: float) -> None:
    """Batched loss == mean -log p(verdict | prefix) at the tags (+ lm_weight * mean LM CE on correct
    steps), computed here one unpadded sequence at a time from a plain forward pass."""
    from transformers import AutoModelForCausalLM

    from prmkit.train._data import pad_batch
    from prmkit.train.verdict import _loss, encode_verdict_example

    model = AutoModelForCausalLM.from_pretrained(arith_base).eval()
    records = rule_records(6, seed=3)
    rows = [encode_verdict_example(tokenizer, r, lm_weight) for r in records]
    verdict_nll, lm_nll = [], []
    for row in rows:
        with torch.no_grad():
            logp = model(torch.tensor([row["input_ids"]])).logits[0].log_softmax(-1)
        for t, (label, is_lm) in enumerate(zip(row["labels"], row["lm_mask"])):
            if label != IGNORE:
                (lm_nll if is_lm else verdict_nll).append(-float(logp[t, label]))
    expected = sum(verdict_nll) / len(verdict_nll)
    if lm_weight:
        expected += lm_weight * sum(lm_nll) / len(lm_nll)
    batch = pad_batch(rows, tokenizer.pad_token_id, "left", pad_values={"lm_mask": 0})
    with torch.no_grad():
        assert float(_loss(model, batch, lm_weight)) == pytest.approx(expected, rel=1e-4)


def _train(tmp_path: Path, base: Path, **overrides) -> Path:
    from prmkit.train.verdict import VerdictTrainConfig, train_verdict

    settings = {
        "train_file": str(write_records(tmp_path / "train.jsonl", rule_records(64, seed=1))),
        "val_file": str(write_records(tmp_path / "val.jsonl", rule_records(16, seed=2))),
        "base_model": str(base), "output_dir": str(tmp_path / "verdict"), "learning_rate": 3e-3,
        "max_steps": 6, "batch_size": 16, "eval_every": 3, "eval_train_examples": 8,
    }
    settings.update(overrides)
    return train_verdict(VerdictTrainConfig(**settings))


def test_checkpoint_loads_as_verdict_scorer(tmp_path: Path, arith_base: Path) -> None:
    from transformers import AutoModelForCausalLM

    from prmkit.models import load_scorer
    from prmkit.train._data import load_tokenizer
    from prmkit.train.verdict import predict_verdict_scores

    out = _train(tmp_path, arith_base, lm_weight=0.1)
    assert json.loads((out / "prmkit.json").read_text())["family"] == "verdict"
    history = json.loads((out / "eval_history.json").read_text())
    assert [h["step"] for h in history["history"]] == [3, 6]
    assert all(not math.isnan(h["train_loss"]) and "f1" in h for h in history["history"])

    records = rule_records(5, seed=7)
    items = [(r.problem.question, r.solution.steps) for r in records]
    scores = load_scorer("verdict", path=str(out), device="cpu", progress=False).score(items)
    assert [len(s) for s in scores] == [len(r.solution.steps) for r in records]
    ours = predict_verdict_scores(AutoModelForCausalLM.from_pretrained(out), load_tokenizer(out), items,
                                  batch_size=2, padding_side="left")
    for theirs, mine in zip(scores, ours):
        assert theirs == pytest.approx(mine, abs=1e-4)


@pytest.mark.slow
def test_learns_the_rule(tmp_path: Path, arith_base: Path) -> None:
    """Step k is wrong iff an 'x' appeared so far: a tiny LM learns it from verdict supervision."""
    out = _train(tmp_path, arith_base, max_steps=150, eval_every=50, eval_train_examples=64, train_file=str(
        write_records(tmp_path / "big.jsonl", rule_records(256, seed=1))), val_file=str(
        write_records(tmp_path / "val48.jsonl", rule_records(48, seed=2))))
    history = json.loads((out / "eval_history.json").read_text())
    best = history["best"]
    assert best["step_auroc"] > 95 and best["f1"] > 90 and best["train_f1"] > 90
    assert history["history"][-1]["train_loss"] < 0.1 * history["history"][0]["train_loss"]


def test_bad_records_and_config_are_refused(tmp_path: Path, arith_base: Path) -> None:
    from prmkit.train.verdict import VerdictTrainConfig, train_verdict

    records = rule_records(4, seed=0)
    records[2].labels = None
    path = write_records(tmp_path / "bad.jsonl", records)
    with pytest.raises(FormatError, match=r"bad.jsonl: problem 'p2'.*no 'labels'"):
        train_verdict(VerdictTrainConfig(train_file=str(path), base_model=str(arith_base),
                                         output_dir=str(tmp_path / "o"), val_fraction=0.0))
    with pytest.raises(ValueError, match="lm_weight"):
        VerdictTrainConfig(train_file="a", base_model="b", output_dir="c", lm_weight=-1.0)
    with pytest.raises(ValueError, match="metric"):
        VerdictTrainConfig(train_file="a", base_model="b", output_dir="c", metric="auroc")


def test_cli_lists_the_verdict_trainer() -> None:
    from typer.testing import CliRunner

    from prmkit.cli import app

    result = CliRunner().invoke(app, ["train", "verdict", "--help"])
    assert result.exit_code == 0, result.output
    assert "--lm-weight" in result.output and "--train-file" in result.output
