"""``benchmarks/annotation_cost.py``: the held-out split of its trained PRMs and its PRM columns."""

import importlib.util
import sys
from pathlib import Path

import pytest

from prmkit.tasks.arith import ArithTask

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("annotation_cost", ROOT / "benchmarks/annotation_cost.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["annotation_cost"] = module
    spec.loader.exec_module(module)
    return module


def test_held_out_problems_are_disjoint_from_the_labelled_ones():
    bench = _bench()
    task = ArithTask(difficulty="demo", num_test=30, seed=0)
    labelled = task.problems("test")[:10]
    held_out = bench._held_out_problems(task, labelled, 15)
    assert len(held_out) == 15
    assert not {p.question for p in held_out} & {p.question for p in labelled}
    # the labelled problems are the first ones of the split whatever num_test is, so growing it for the
    # held-out problems leaves the labelled material as it was
    assert ArithTask(difficulty="demo", num_test=10, seed=0).problems("test") == labelled


def test_f1_cell_falls_back_to_threshold_half_and_marks_it():
    bench = _bench()
    picked = {"f1": {"value": 61.25, "low": 50.0, "high": 70.0}, "threshold": 0.4, "f1_at_0.5": 10.0}
    assert bench._f1_cell(picked) == "61.2"
    unpicked = {**picked, "threshold": None}
    assert bench._f1_cell(unpicked) == "10.0@0.5"
    assert bench._f1_cell({**unpicked, "f1_at_0.5": float("nan")}) == "—"


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False])
def test_benchmark_prints_prm_columns_unless_no_train(monkeypatch, capsys, train):
    bench = _bench()
    argv = ["annotation_cost.py", "--problems", "4", "--samples", "2", "--n", "1", "--no-tree",
            "--held-out", "3", "--bon-n", "2", "--train" if train else "--no-train"]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    out = capsys.readouterr().out
    assert ("PRM F1" in out) is train
    assert ("PRM columns:" in out) is train
    if train:
        row = next(line for line in out.splitlines() if "mc (n=1)" in line)
        assert row.split("│")[-2].strip().replace(".", "").isdigit()  # a weighted-vote accuracy, not "—"
