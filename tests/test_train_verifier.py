"""``prmkit train verifier``: expert-iteration rounds on the shipped arith policy, on tiny budgets."""

from __future__ import annotations

import json

import pytest

from prmkit.tasks.arith import ArithTask, resolve_policy
from prmkit.types import LabelledSolution, Solution, StepLabels

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def _labelled_file(path, count=48):
    """Policy-style solutions of arith problems with step labels (exact here: the test needs labels, not MC)."""
    task = ArithTask(difficulty="demo", num_train=count, num_test=1, seed=3)
    records = []
    for index, problem in enumerate(task.problems("train")):
        steps = task.reference_steps(problem)
        if index % 2:  # every other solution goes wrong at its first step
            first = steps[0]
            steps = [first[: first.index("=") + 1] + "999"] + steps[1:]
        first_error = task.first_error(problem, steps)
        labels = [1.0 if first_error == -1 or k < first_error else 0.0 for k in range(len(steps))]
        solution = Solution(problem.id, steps, None, first_error == -1)
        records.append(LabelledSolution(problem, solution, StepLabels(labels, first_error=first_error, source="test")))
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    return path


def test_rounds_select_calibrate_and_load(tmp_path):
    from prmkit.models import load_scorer
    from prmkit.train.verifier import VerifierTrainConfig, _label_rows, train_verifier

    train_file = _labelled_file(tmp_path / "labels.jsonl")
    config = VerifierTrainConfig(
        train_file=str(train_file), base_model="demo", output_dir=str(tmp_path / "verifier"), rounds=2, problems=24,
        samples=2, selection_problems=8, selection_samples=4, num_epochs=1, batch_size=16, eval_every=1000,
        val_fraction=0.5, unlikelihood_weight=0.5, progress=False,
    )
    out = train_verifier(config)
    history = json.loads((out / "eval_history.json").read_text())
    assert [r["round"] for r in history["rounds"]] == [1, 2]
    assert all(r["kept"] <= r["drawn"] for r in history["rounds"])
    assert history["selected_round"] in (1, 2)
    stored = json.loads((out / "prmkit.json").read_text())
    assert stored["family"] == "likelihood" and stored["reduce"] == "min"
    scorer = load_scorer("likelihood", path=str(out), progress=False)
    problem = ArithTask(difficulty="demo", num_train=1, num_test=1, seed=5).problems("test")[0]
    steps = ArithTask(difficulty="demo", num_train=1, num_test=1, seed=5).reference_steps(problem)
    row = scorer.score([(problem.question, steps)])[0]
    assert len(row) == len(steps) and all(0.0 <= p <= 1.0 for p in row)
    # the wrong step of a labelled solution is marked for unlikelihood, never as an LM target
    from prmkit.train._data import load_labelled, load_tokenizer

    rows = _label_rows(load_tokenizer(resolve_policy("demo")), load_labelled(train_file), with_unlikely=True)
    wrong = [r for r in rows if any(r["unlikely"])]
    assert wrong and all(lab == -100 for r in wrong for lab, u in zip(r["labels"], r["unlikely"]) if u)


def test_bad_settings_name_the_field(tmp_path):
    from prmkit.train.verifier import VerifierTrainConfig

    with pytest.raises(ValueError, match="VerifierTrainConfig.reduce"):
        VerifierTrainConfig(train_file="x", base_model="demo", output_dir=str(tmp_path), reduce="max")
    with pytest.raises(ValueError, match="VerifierTrainConfig.rounds"):
        VerifierTrainConfig(train_file="x", base_model="demo", output_dir=str(tmp_path), rounds=0)


def test_length_grouped_batches_cover_every_row_once_with_little_padding():
    from prmkit.train._loop import LengthGroupedBatches

    lengths = [(i * 37) % 90 + 10 for i in range(1000)]
    batches = list(LengthGroupedBatches(lengths, 16, torch.Generator().manual_seed(0)))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # random batches of 16 would pad to ~1.7x here
    again = list(LengthGroupedBatches(lengths, 16, torch.Generator().manual_seed(0)))
    assert again == batches and list(LengthGroupedBatches(lengths, 16, torch.Generator().manual_seed(1))) != batches
