import json
import math
import os

import pytest

from prmkit.evaluate.prmbench import confusion, evaluate, evaluate_scorer
from prmkit.io.prmbench import read_prmbench
from prmkit.models import load_scorer
from tests._data import shared


def _raw(idx, classification, n, error_steps):
    return {
        "idx": idx,
        "classification": classification,
        "modified_question": f"q {idx}",
        "modified_process": [f"s{i}" for i in range(n)],
        "error_steps": error_steps,
        "original_question": f"q {idx}",
        "original_process": ["o0", "o1"],
    }


def test_prmscore_golden_against_hand_computed_official_counts(tmp_path):
    path = tmp_path / "p.jsonl"
    raws = [
        _raw("a", "redundency", 4, [2, 3]),
        _raw("b", "redundency", 3, [3, 5]),  # 5 is beyond the 3 steps: never reached, as officially
        _raw("c", "confidence", 2, [1]),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in raws))
    records = read_prmbench(path, include_correct=True)
    assert [r.problem.id for r in records] == [
        "correct_a", "redundency_a", "correct_b", "redundency_b", "confidence_c"
    ]
    scores = {
        "redundency_a": [0.9, 0.3, 0.6, 0.5],  # TP, TN, FP, FN (0.5 is not > 0.5)
        "redundency_b": [0.7, 0.8, 0.2],  # TP, TP, TN
        "confidence_c": [0.9, 0.9],  # FP, TP
        "correct_a": [0.9, 0.1],  # TP, FN -- "correct" is its own category, excluded from overall
        "correct_b": [0.9, 0.8],  # TP, TP
    }
    result = evaluate(records, scores)
    red = result["categories"]["redundency"]
    assert (red["tp"], red["fp"], red["tn"], red["fn"]) == (3, 1, 2, 1)
    # official: P = R = 3/4 -> F1 3/4; negative P = TN/(TN+FN) = 2/3, negative R = TN/(TN+FP) = 2/3
    assert red["f1"] == pytest.approx(75.0)
    assert red["negative_f1"] == pytest.approx(200 / 3)
    assert red["prmscore"] == pytest.approx(50 * (0.75 + 2 / 3))
    conf = result["categories"]["confidence"]
    # official: P = 1/2, R = 1 -> 2/3; negative P = 0/0 -> -1, negative R = 0 -> 2*(-1)*0/(-1) = 0
    assert conf["f1"] == pytest.approx(200 / 3) and conf["negative_f1"] == 0.0
    assert conf["prmscore"] == pytest.approx(100 / 3)
    # overall = redundency + confidence (TP 4, FP 2, TN 2, FN 1): F1 8/11, negative F1 4/7
    assert (result["tp"], result["fp"], result["tn"], result["fn"]) == (4, 2, 2, 1)
    assert result["f1"] == pytest.approx(800 / 11)
    assert result["negative_f1"] == pytest.approx(400 / 7)
    assert result["prmscore"] == pytest.approx(50 * (8 / 11 + 4 / 7))
    assert result["num_samples"] == 3
    correct = result["categories"]["correct"]
    assert (correct["tp"], correct["fn"], correct["num_samples"]) == (3, 1, 2)


def _official_counts(error_steps, labels):
    """ssmisya/PRMBench mr_eval/tasks/prmtest_classified/task.py eval_on_hallucination_step (counts), transcribed."""
    wrong = [i - 1 for i in error_steps]
    tp = fp = tn = fn = 0
    for idx in range(len(labels)):
        if idx in wrong:
            fp, tn = (fp + 1, tn) if labels[idx] == 1 else (fp, tn + 1)
        else:
            tp, fn = (tp + 1, fn) if labels[idx] == 1 else (tp, fn + 1)
    return tp, fp, tn, fn


def _official_f1s(tp, fp, tn, fn):
    """The same file's evaluate_function F1 block (-1 sentinels), transcribed."""
    p = tp / (tp + fp) if (tp + fp) != 0 else -1
    r = tp / (tp + fn) if (tp + fn) != 0 else -1
    f1 = 2 * p * r / (p + r) if (p + r) != 0 else -1
    np_ = tn / (tn + fn) if (tn + fn) != 0 else -1
    nr = tn / (tn + fp) if (tn + fp) != 0 else -1
    nf1 = 2 * np_ * nr / (np_ + nr) if (np_ + nr) != 0 else -1
    return f1, nf1


def test_prmscore_matches_the_official_scorer_on_random_data():
    import random

    rng = random.Random(11)
    for _ in range(20):
        raws, scores, total = [], {}, [0, 0, 0, 0]
        for j in range(rng.randint(3, 12)):
            n = rng.randint(1, 8)
            errors = sorted(rng.sample(range(1, n + 3), rng.randint(0, 2)))  # some beyond the last step
            raws.append(_raw(str(j), "confidence", n, errors))
            scores[f"confidence_{j}"] = [round(rng.random(), 1) for _ in range(n)]
            validity = [1 if s > 0.5 else 0 for s in scores[f"confidence_{j}"]]  # the PRM path's labels
            total = [a + b for a, b in zip(total, _official_counts(errors, validity))]
        result = evaluate(raws, scores)
        assert (result["tp"], result["fp"], result["tn"], result["fn"]) == tuple(total)
        f1, nf1 = _official_f1s(*total)
        if f1 > 0 and nf1 > 0:  # the documented divergence is only at the official -1 sentinel
            assert result["f1"] == pytest.approx(100 * f1) and result["negative_f1"] == pytest.approx(100 * nf1)
            assert result["prmscore"] == pytest.approx(50 * (f1 + nf1))


def test_threshold_is_strict_and_undefined_f1_is_nan():
    assert confusion([1.0, 0.0], [0.5, 0.51]) == {"tp": 0, "fp": 1, "tn": 0, "fn": 1}
    result = evaluate([_raw("x", "circular", 2, [])], [[0.9, 0.8]])
    assert result["f1"] == 100.0 and math.isnan(result["negative_f1"]) and math.isnan(result["prmscore"])


def test_missing_and_mis_sized_scores_name_the_record():
    records = [_raw("x", "circular", 2, [1])]
    with pytest.raises(ValueError, match="no scores for PRMBench record 'circular_x'"):
        evaluate(records, {"x": [0.1, 0.2]})
    with pytest.raises(ValueError, match="'circular_x' has 2 steps but 3 scores"):
        evaluate(records, {"circular_x": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="circular_x: step 1 has no score"):
        evaluate(records, {"circular_x": [0.1, None]})


def test_evaluate_scorer_with_dummy_on_real_phase1_file():
    path = shared("prmbench", "prm800k_test_p1_4o_circular.jsonl")
    if not path.exists() and not os.environ.get("CI"):
        pytest.skip(f"shared data {path} not present")
    records = read_prmbench(path)
    result = evaluate_scorer(records, load_scorer("dummy", value=0.7), progress=False)
    # every step predicted valid: recall 1, no TN -> negative F1 0, F1 = precision-based
    steps = sum(len(r.solution.steps) for r in records)
    errors = sum(r.labels.labels.count(0.0) for r in records)
    assert result["tp"] + result["fp"] == steps and result["fp"] == errors
    assert result["negative_f1"] == 0.0
    assert result["f1"] == pytest.approx(100 * 2 * (steps - errors) / (2 * (steps - errors) + errors))


class _StrictScorer:
    """Refuses an empty step the way every PRM input format does ("item i: step k is empty"), and
    also refuses one chosen question, as a record no format could encode."""

    def __init__(self, refuse_question: str | None = None):
        self.refuse_question = refuse_question

    def score(self, items):
        for i, (question, steps) in enumerate(items):
            for k, step in enumerate(steps):
                if not step.strip():
                    raise ValueError(f"item {i}: step {k} is empty; steps must be non-empty text")
            if question == self.refuse_question:
                raise ValueError(f"item {i}: too long")
        return [[0.3 + 0.4 * (k % 2) for k in range(len(steps))] for _, steps in items]


@pytest.mark.skipif(not shared("prmbench").exists() and not os.environ.get("CI"), reason="shared PRMBench absent")
def test_every_shipped_prmbench_file_completes_with_a_scorer_that_refuses_empty_steps():
    files = sorted(shared("prmbench").glob("*.jsonl"))
    records = read_prmbench(*files)
    result = evaluate_scorer(records, _StrictScorer(), batch_size=32, progress=False)
    assert result["num_samples"] == 718 and not math.isnan(result["prmscore"])
    empty = result["scores"]["deception_prm_test_p1_87"]
    assert empty[15] is None and all(s is not None for k, s in enumerate(empty) if k != 15)  # the empty step 16


@pytest.mark.skipif(not shared("prmbench").exists() and not os.environ.get("CI"), reason="shared PRMBench absent")
def test_a_record_that_cannot_be_scored_is_named_by_id_not_batch_position():
    records = read_prmbench(shared("prmbench", "prm800k_test_p1_4o_deception.jsonl"))
    culprit = records[40]
    with pytest.raises(ValueError, match=f"record '{culprit.problem.id}' cannot be scored: too long"):
        evaluate_scorer(records, _StrictScorer(culprit.problem.question), batch_size=32, progress=False)
