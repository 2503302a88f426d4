"""ORM trainer: learns a visible outcome rule, pads either side, writes an unambiguous checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prmkit.io._jsonl import FormatError
from tests._tiny_train import rule_records, write_records

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")


def _train(tmp_path: Path, base: Path, **overrides) -> Path:
    from prmkit.train.orm import ORMTrainConfig, train_orm

    settings = {
        "train_file": str(write_records(tmp_path / "train.jsonl", rule_records(128, seed=1))),
        "val_file": str(write_records(tmp_path / "val.jsonl", rule_records(48, seed=2))),
        "base_model": str(base), "output_dir": str(tmp_path / "orm"), "learning_rate": 3e-3, "max_steps": 40,
        "batch_size": 16, "eval_every": 20, "eval_train_examples": 64,
    }
    settings.update(overrides)
    return train_orm(ORMTrainConfig(**settings))


@pytest.mark.slow
def test_learns_outcome_rule_and_reads_back(tmp_path: Path, gpt2_base: Path) -> None:
    """Correct iff no 'x' anywhere: a tiny ORM must separate that; the saved model gives the same scores."""
    from transformers import AutoModelForSequenceClassification

    from prmkit.train._data import load_tokenizer
    from prmkit.train.orm import predict_outcome_scores

    out = _train(tmp_path, gpt2_base)
    best = json.loads((out / "eval_history.json").read_text())["best"]
    assert best["train_auroc"] > 95 and best["auroc"] > 90
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "correct"} and config["step_separator"] == "\n"
    assert json.loads((out / "prmkit.json").read_text())["num_labels"] == 1

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.num_labels == 1
    tokenizer = load_tokenizer(out)
    items = [(r.problem.question, r.solution.steps) for r in rule_records(12, seed=7)]
    right = predict_outcome_scores(model, tokenizer, items, padding_side="right")
    left = predict_outcome_scores(model, tokenizer, items, padding_side="left")
    alone = [predict_outcome_scores(model, tokenizer, [item])[0] for item in items]
    assert right == pytest.approx(alone, abs=1e-5) and left == pytest.approx(alone, abs=1e-5)


@pytest.mark.parametrize("base_fixture", ["gpt2_base", "qwen_base"])
def test_orm_checkpoint_pads_either_side_and_scorer_reads_it(tmp_path: Path, base_fixture: str, request) -> None:
    """A short run's checkpoint: 1 label, padding-side invariant, and load_scorer("orm") puts the
    trainer's P(correct) on the last step (also for a Qwen2 body, whose char tokenizer
    ``AutoTokenizer`` would misread)."""
    from transformers import AutoModelForSequenceClassification

    from prmkit.models import load_scorer
    from prmkit.train._data import load_tokenizer
    from prmkit.train.orm import predict_outcome_scores

    out = _train(tmp_path, request.getfixturevalue(base_fixture), max_steps=6, eval_every=6, eval_train_examples=0)
    items = [(r.problem.question, r.solution.steps) for r in rule_records(6, seed=9)]
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(out), load_tokenizer(out)
    assert model.num_labels == 1 and json.loads((out / "config.json").read_text())["id2label"] == {"0": "correct"}
    ours = predict_outcome_scores(model, tokenizer, items)
    left = predict_outcome_scores(model, tokenizer, items, padding_side="left")
    alone = [predict_outcome_scores(model, tokenizer, [item])[0] for item in items]
    assert ours == pytest.approx(alone, abs=1e-5) and left == pytest.approx(alone, abs=1e-5)
    theirs = load_scorer("orm", path=str(out)).score(items)
    assert [s[-1] for s in theirs] == pytest.approx(ours, abs=1e-4)


def test_ungraded_solution_is_refused(tmp_path: Path, gpt2_base: Path) -> None:
    from prmkit.train.orm import ORMTrainConfig, train_orm

    records = rule_records(4, seed=0)
    records[2].solution.correct = None
    path = write_records(tmp_path / "bad.jsonl", records)
    with pytest.raises(FormatError, match=r"problem 'p2'.*solution.correct is null"):
        train_orm(ORMTrainConfig(train_file=str(path), base_model=str(gpt2_base), output_dir=str(tmp_path / "o"),
                                 val_fraction=0.0))
