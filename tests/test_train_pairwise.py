"""The pairwise (Bradley-Terry) PRM trainer on StepPair records, and the value-regression PRM loss.

Tiny random-weight models (``tests/_tiny_train.py``); the pairs follow the rule of ``rule_records``:
a step holding an 'x' is the wrong one, so the chosen side is a clean step and the rejected side
the 'x' step after the same prefix.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from prmkit.io._jsonl import write_jsonl  # noqa: E402
from prmkit.types import Problem, StepPair  # noqa: E402
from tests._tiny_train import rule_records, write_records  # noqa: E402


def rule_pairs(n: int, seed: int) -> list[StepPair]:
    """One pair per solution with an error: after its steps before the error, a clean step beats the 'x' step."""
    pairs = []
    for record in rule_records(n, seed):
        error = record.labels.first_error
        if error in (-1, None):
            continue
        steps = record.solution.steps
        clean = steps[error].replace("x", "a")
        pairs.append(StepPair(record.problem, steps[:error], [clean], [steps[error]], 1.0, 0.0, "test"))
    return pairs


def test_bradley_terry_loss_by_hand():
    from prmkit.train.pairwise import _collate, _loss, pair_accuracy

    class Fixed(torch.nn.Module):
        """Logits whose class-1 minus class-0 margin at token t of row b is given."""

        def __init__(self, margins):
            super().__init__()
            self.margins = torch.tensor(margins)  # (2B, T)

        def forward(self, input_ids, attention_mask, position_ids):
            zeros = torch.zeros_like(self.margins)
            return type("Out", (), {"logits": torch.stack([zeros, self.margins], dim=-1)})()

    rows = [{"chosen": [5, 6, 7], "chosen_at": 2, "rejected": [5, 6], "rejected_at": 1},
            {"chosen": [5], "chosen_at": 0, "rejected": [5, 8, 9], "rejected_at": 2}]  # fmt: skip
    batch = _collate(rows, pad_token_id=0, padding_side="left")
    # left padding to width 3: offsets [0, 2, 1, 0] for chosen0, chosen1, rejected0, rejected1
    assert batch["offsets"].tolist() == [0, 2, 1, 0] and batch["at"].tolist() == [2, 0, 1, 2]
    margins = [[0.0, 0.0, 2.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.5]]  # read at offset + at = 2
    loss = _loss(Fixed(margins), batch)
    # rewards: chosen (2, -1), rejected (1, 0.5): L = mean(-log sig(1), -log sig(-1.5))
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(1.5))) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert pair_accuracy([0.9, 0.2, 0.5], [0.1, 0.3, 0.5]) == pytest.approx(100 / 3)


def test_pairs_round_trip_and_bad_files_are_named(tmp_path: Path):
    from prmkit.io._jsonl import FormatError
    from prmkit.train.pairwise import PairwiseTrainConfig, load_pairs

    pairs = rule_pairs(12, seed=0)
    write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in pairs))
    assert load_pairs(tmp_path / "pairs.jsonl") == pairs
    (tmp_path / "bad.jsonl").write_text(json.dumps({"problem": {"id": "p", "question": "Q"}, "prefix": []}) + "\n")
    with pytest.raises(FormatError, match=r"bad\.jsonl:1: not a StepPair record"):
        load_pairs(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="needs step_val_file"):
        PairwiseTrainConfig(train_file="x", base_model="y", output_dir="z", metric="f1")
    with pytest.raises(ValueError, match="use one of"):
        PairwiseTrainConfig(train_file="x", base_model="y", output_dir="z", metric="loss")
    with pytest.raises(ValueError, match="at least one step"):
        StepPair(Problem("p", "Q"), [], ["a"], [], 1.0, 0.0)


def _fit(tmp_path: Path, base: Path, **overrides):
    from prmkit.train.pairwise import PairwiseTrainConfig, train_pairwise

    write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in rule_pairs(160, seed=1)))
    write_records(tmp_path / "steps.jsonl", rule_records(48, seed=2))
    settings = {
        "train_file": str(tmp_path / "pairs.jsonl"), "base_model": str(base), "output_dir": str(tmp_path / "ppm"),
        "step_val_file": str(tmp_path / "steps.jsonl"), "val_fraction": 0.2, "learning_rate": 3e-3, "max_steps": 40,
        "batch_size": 16, "eval_every": 20, "eval_train_examples": 64, "seed": 0,
    }  # fmt: skip
    settings.update(overrides)
    return train_pairwise(PairwiseTrainConfig(**settings))


def test_trains_saves_a_token_cls_checkpoint_the_scorer_reads(tmp_path: Path, qwen_base: Path):
    from transformers import AutoModelForTokenClassification

    from prmkit.models import load_scorer
    from prmkit.train._data import load_tokenizer
    from prmkit.train.prm import predict_step_scores

    out = _fit(tmp_path, qwen_base, max_steps=6, eval_every=3)
    meta = json.loads((out / "prmkit.json").read_text())
    assert meta["family"] == "token-cls" and meta["label_mode"] == "pairwise"
    history = json.loads((out / "eval_history.json").read_text())
    assert {"pair_acc", "train_pair_acc", "f1", "step_auroc"} <= set(history["history"][-1])
    items = [(r.problem.question, r.solution.steps) for r in rule_records(6, seed=5)]
    ours = predict_step_scores(AutoModelForTokenClassification.from_pretrained(out), load_tokenizer(out), items)
    theirs = load_scorer("token-cls", path=str(out)).score(items)
    for a, b in zip(ours, theirs):
        assert b == pytest.approx(a, abs=1e-4)


@pytest.mark.slow
def test_learns_the_rule_from_pairs_alone(tmp_path: Path, qwen_base: Path):
    """No step label is seen in training, yet the pairs teach which steps are wrong: held-out pair
    accuracy and the step AUROC on labelled solutions are high."""
    out = _fit(tmp_path, qwen_base)
    best = json.loads((out / "eval_history.json").read_text())["best"]
    assert best["pair_acc"] > 90 and best["train_pair_acc"] > 90 and best["step_auroc"] > 85


def test_value_label_mode_regresses_the_targets(tmp_path: Path, qwen_base: Path):
    """--label-mode value: MSE of P(correct) against soft targets (ReST-MCTS* values); loss = mean (p - y)^2."""
    from prmkit.train.prm import PRMTrainConfig, _loss, train_prm

    batch = {"input_ids": torch.tensor([[1, 2, 3]]), "attention_mask": torch.ones(1, 3, dtype=torch.long),
             "position_ids": torch.tensor([[0, 1, 2]]), "labels": torch.tensor([[-100.0, 0.25, 1.0]])}  # fmt: skip

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, attention_mask, position_ids):
            margin = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, math.log(3.0)]]])  # p = 0.5, 0.5, 0.75
            return type("Out", (), {"logits": margin})()

    assert float(_loss(Fixed(), batch, "value")) == pytest.approx(((0.5 - 0.25) ** 2 + (0.75 - 1.0) ** 2) / 2)
    records = rule_records(40, seed=3)
    for r in records:  # ReST-MCTS*-like soft values: k / K before the first error, 0 from it
        K = len(r.labels.labels)
        r.labels.labels = [0.0 if r.labels.first_error not in (-1, None) and k >= r.labels.first_error else (k + 1) / K
                           for k in range(K)]  # fmt: skip
    write_records(tmp_path / "values.jsonl", records)
    out = train_prm(PRMTrainConfig(train_file=str(tmp_path / "values.jsonl"), base_model=str(qwen_base),
                                   output_dir=str(tmp_path / "vprm"), label_mode="value", max_steps=3, eval_every=3))  # fmt: skip
    assert json.loads((out / "prmkit.json").read_text())["label_mode"] == "value"
    with pytest.raises(ValueError, match="label_mode"):
        PRMTrainConfig(train_file="x", base_model="y", output_dir="z", label_mode="mse")


def test_cli_trains_pairwise(tmp_path: Path, qwen_base: Path):
    from typer.testing import CliRunner

    from prmkit.cli import app

    write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in rule_pairs(40, seed=1)))
    args = ["train", "pairwise", "--train-file", str(tmp_path / "pairs.jsonl"), "--base-model", str(qwen_base),
            "--output-dir", str(tmp_path / "ppm"), "--max-steps", "2", "--eval-every", "2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "load_scorer('token-cls'" in " ".join(result.output.split())
    assert (tmp_path / "ppm" / "prmkit.json").is_file()
