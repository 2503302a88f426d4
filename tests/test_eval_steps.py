import math

import pytest

from prmkit.evaluate.step_metrics import evaluate
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels


def _item(pid, labels, first_error, sid=None):
    meta = {"id": sid} if sid else {}
    return LabelledSolution(
        Problem(pid, "q"), Solution(pid, [f"s{i}" for i in range(len(labels))], meta=meta),
        StepLabels(labels, first_error=first_error),
    )


def test_step_metrics_hand_case():
    items = [
        _item("a", [1.0, 0.0, None], 1),  # ProcessBench-style: the step after the error is unknown
        _item("b", [1.0, 1.0], -1),
        _item("c", [1.0, 0.0], None),  # no known first error: not counted in first_error_acc
    ]
    scores = {"a": [0.9, 0.2, 0.1], "b": [0.8, 0.4], "c": [0.6, 0.7]}
    out = evaluate(items, scores)
    # known pairs: correct steps 0.9, 0.8, 0.4, 0.6; wrong steps 0.2, 0.7
    # AUROC: 0.9, 0.8 beat both; 0.4 beats 0.2 only; 0.6 beats 0.2 only -> 6 of 8
    assert out["auroc"] == pytest.approx(100 * 6 / 8)  # percent
    # predicted correct (>= 0.5): 0.9, 0.8, 0.6, 0.7 -> TP 3, FP 1, FN 1 -> F1 = 6/8
    assert out["f1"] == pytest.approx(100 * 6 / 8)
    # wrong steps: TP 1 (0.2), FP 1 (0.4), FN 1 (0.7) -> 2/4
    assert out["negative_f1"] == pytest.approx(50.0)
    # a: predicted 1 == 1 (hit); b: predicted 1 != -1 (miss)
    assert out["first_error_acc"] == 50.0 and out["num_first_error"] == 2
    assert out["num_steps"] == 6 and out["num_solutions"] == 3
    # 10 bins, one pair each: |1-.9| + |0-.2| + |1-.8| + |1-.4| + |1-.6| + |0-.7| = 2.2 over 6 pairs
    assert out["ece"] == pytest.approx(100 * 2.2 / 6)


def test_keys_and_errors():
    items = [_item("p", [1.0], -1, sid="p#0"), _item("p", [0.0], 0, sid="p#1")]
    out = evaluate(items, {"p#0": [0.9], "p#1": [0.1]})
    assert out["auroc"] == 100.0 and out["first_error_acc"] == 100.0
    with pytest.raises(ValueError, match="share a key"):
        evaluate([_item("p", [1.0], -1), _item("p", [0.0], 0)], {"p": [0.9]})
    assert math.isnan(evaluate([_item("p", [1.0], -1)], [[0.9]])["auroc"])  # one class only


def test_labels_not_one_per_step_are_refused_not_misaligned():
    """A short labels list would shift every later solution's labels against its scores."""
    bad = LabelledSolution(Problem("a", "q"), Solution("a", ["s0", "s1"]), StepLabels([1.0], first_error=-1))
    with pytest.raises(ValueError, match="'a' has 2 steps but 1 labels"):
        evaluate([bad, _item("b", [0.0], 0)], {"a": [0.9, 0.9], "b": [0.1]})
    with pytest.raises(ValueError, match="1 entries for 2 steps"):
        LabelledSolution.from_dict(bad.to_dict())
