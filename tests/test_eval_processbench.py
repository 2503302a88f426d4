import math
import os
import random

import pytest

from prmkit.evaluate.processbench import (
    best_threshold,
    evaluate,
    evaluate_scorer,
    predict_first_errors,
)
from prmkit.io.processbench import read_processbench
from prmkit.metrics import processbench_f1
from prmkit.models import load_scorer
from tests._data import shared


def _record(rid, label, n=3):
    return {"id": rid, "problem": f"q {rid}", "steps": [f"s{i}" for i in range(n)], "label": label}


def test_golden_hand_computed_subsets_with_fixed_threshold():
    records = [
        _record("gsm8k-0", 1), _record("gsm8k-1", 0), _record("gsm8k-2", -1), _record("gsm8k-3", -1),
        _record("math-0", 2), _record("math-1", -1),
    ]
    scores = {
        "gsm8k-0": [0.9, 0.4, 0.1],  # predicted 1 == gold 1: hit
        "gsm8k-1": [0.6, 0.2, 0.9],  # predicted 1 != gold 0: miss
        "gsm8k-2": [0.8, 0.7, 0.6],  # predicted -1: hit
        "gsm8k-3": [0.8, 0.3, 0.6],  # predicted 1: miss
        "math-0": [0.7, 0.6, 0.1],  # predicted 2: hit
        "math-1": [0.9, 0.9, 0.5],  # 0.5 is not below 0.5 -> -1: hit
    }
    result = evaluate(records, scores)
    gsm, math_ = result["subsets"]["gsm8k"], result["subsets"]["math"]
    assert (gsm["error_acc"], gsm["correct_acc"], gsm["f1"]) == (50.0, 50.0, 50.0)
    assert (math_["error_acc"], math_["correct_acc"], math_["f1"]) == (100.0, 100.0, 100.0)
    assert result["average_f1"] == pytest.approx(75.0)
    assert gsm["threshold"] == 0.5 and result["threshold_mode"] == "fixed"
    assert (gsm["num_error"], gsm["num_correct"]) == (2, 2)
    # a list aligned with the records gives the same result
    assert evaluate(records, [scores[r["id"]] for r in records])["average_f1"] == pytest.approx(75.0)


def test_subset_with_one_side_empty_is_nan_like_the_official_script():
    records = [_record("arith-0", 1), _record("arith-1", 0), _record("gsm8k-0", 0), _record("gsm8k-1", -1)]
    scores = {"arith-0": [0.9, 0.1, 0.1], "arith-1": [0.9, 0.9, 0.9], "gsm8k-0": [0.1] * 3, "gsm8k-1": [0.9] * 3}
    result = evaluate(records, scores)
    arith = result["subsets"]["arith"]
    assert arith["error_acc"] == 50.0 and math.isnan(arith["correct_acc"]) and math.isnan(arith["f1"])
    assert math.isnan(result["average_f1"])  # np.mean over a nan subset F1 is nan
    assert math.isnan(arith["best_threshold"])


def test_missing_or_mis_sized_scores_name_the_id():
    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1)]
    with pytest.raises(ValueError, match="no scores for ProcessBench record 'gsm8k-1'"):
        evaluate(records, {"gsm8k-0": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match=r"'gsm8k-1' has 3 steps but 2 scores"):
        evaluate(records, {"gsm8k-0": [0.1, 0.2, 0.3], "gsm8k-1": [0.5, 0.5]})
    with pytest.raises(ValueError, match="'auto'"):
        evaluate(records, {"gsm8k-0": [0.1] * 3, "gsm8k-1": [0.1] * 3}, threshold="best")
    with pytest.raises(ValueError, match=r"\['gsm8k-0'\] occur more than once"):
        evaluate(records + records[:1], {"gsm8k-0": [0.1] * 3, "gsm8k-1": [0.1] * 3})


def _brute_force_best(gold, scores, grid):
    best = -1.0
    for t in grid:
        f1 = processbench_f1(gold, predict_first_errors(scores, t))["f1"]
        if not math.isnan(f1):
            best = max(best, f1)
    return best


def test_best_threshold_is_exact_against_brute_force():
    rng = random.Random(3)
    gold, scores = [], []
    for _ in range(60):
        n = rng.randint(1, 6)
        gold.append(rng.choice([-1, rng.randrange(n)]))
        scores.append([None if rng.random() < 0.1 else round(rng.random(), 2) for _ in range(n)])
    threshold, f1 = best_threshold(gold, scores)
    # the returned threshold really achieves the returned F1 ...
    assert processbench_f1(gold, predict_first_errors(scores, threshold))["f1"] == pytest.approx(f1)
    # ... and no threshold on a fine grid does better (scores are multiples of 0.01)
    grid = [i / 1000 for i in range(-5, 1006)]
    assert f1 == pytest.approx(_brute_force_best(gold, scores, grid))


def test_auto_threshold_tunes_on_gsm8k_and_reuses_it():
    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1), _record("math-0", 0), _record("math-1", -1)]
    scores = {
        "gsm8k-0": [0.9, 0.7, 0.2],  # error at 1 is found for thresholds in (0.7, 0.9]
        "gsm8k-1": [0.95, 0.92, 0.91],  # correct while threshold <= 0.91
        "math-0": [0.75, 0.9, 0.9],
        "math-1": [0.95, 0.95, 0.95],
    }
    assert evaluate(records, scores)["subsets"]["gsm8k"]["f1"] == 0.0  # 0.5 misses the gsm8k error
    result = evaluate(records, scores, threshold="auto")
    used = result["threshold"]
    assert 0.7 < used <= 0.9 and result["threshold_mode"].startswith("auto")
    assert result["subsets"]["gsm8k"]["f1"] == 100.0
    assert result["subsets"]["math"]["threshold"] == used
    assert result["subsets"]["math"]["f1"] == 100.0
    with pytest.raises(ValueError, match="not in the data"):
        evaluate(records[2:], scores, threshold="auto")


def test_evaluate_scorer_with_the_dummy_scorer():
    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1)]
    result = evaluate_scorer(records, load_scorer("dummy", value=0.7), progress=False)
    gsm = result["subsets"]["gsm8k"]
    assert (gsm["error_acc"], gsm["correct_acc"]) == (0.0, 100.0)
    assert result["scores"]["gsm8k-0"] == [0.7, 0.7, 0.7]
    low = evaluate_scorer(records, load_scorer("dummy", value=0.2), batch_size=1, progress=False)
    assert low["subsets"]["gsm8k"]["error_acc"] == 0.0  # predicts step 0, gold is 1


def test_judge_without_a_verdict_is_never_right_not_a_free_correct_answer():
    """A row of None scores (judge gave no boxed index) is prediction None in the official script:
    it matches neither the gold error nor -1. Reading it as -1 would inflate correct_acc."""
    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1), _record("gsm8k-2", -1)]
    scores = {"gsm8k-0": [1.0, 0.0, 0.0], "gsm8k-1": [None, None, None], "gsm8k-2": [1.0, 1.0, 1.0]}
    gsm = evaluate(records, scores)["subsets"]["gsm8k"]
    assert (gsm["error_acc"], gsm["correct_acc"]) == (100.0, 50.0)
    # the exact threshold search agrees: no threshold makes the unscored sample right
    assert gsm["best_f1"] == pytest.approx(2 * 100 * 50 / 150)
    assert predict_first_errors([[None, None], [None, 0.2], []]) == [None, 1, -1]


def test_real_gsm8k_file_with_oracle_like_scores(tmp_path):

    path = shared("processbench", "gsm8k.json")
    if not path.exists() and not os.environ.get("CI"):
        pytest.skip(f"shared data {path} not present")
    records = read_processbench(path)
    # scores that put the first sub-0.5 step exactly at the gold label reproduce it perfectly
    scores = {
        r.problem.id: [0.9 if (r.labels.first_error == -1 or i < r.labels.first_error) else 0.1
                       for i in range(len(r.solution.steps))]
        for r in records
    }
    result = evaluate(records, scores)
    assert result["subsets"]["gsm8k"]["f1"] == 100.0
    assert result["subsets"]["gsm8k"]["num_error"] + result["subsets"]["gsm8k"]["num_correct"] == 400


def test_a_scorer_returning_the_wrong_number_of_step_scores_is_named():
    class Short:
        def score(self, items):
            return [list(steps)[:-1] and [0.9] * (len(steps) - 1) for _, steps in items]

    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1)]
    with pytest.raises(ValueError, match=r"returned 2 scores for 'gsm8k-0' with 3 steps"):
        evaluate_scorer(records, Short(), progress=False)


def test_nan_scores_are_refused_naming_record_and_step():
    """NaN < threshold is False: a NaN would silently read as 'no error here'."""
    records = [_record("gsm8k-0", 1), _record("gsm8k-1", -1)]
    with pytest.raises(ValueError, match=r"NaN for step 1 of ProcessBench record 'gsm8k-1'"):
        evaluate(records, {"gsm8k-0": [0.9, 0.1, 0.1], "gsm8k-1": [0.9, float("nan"), 0.9]})

    class NaNScorer:
        def score(self, items):
            return [[float("nan")] * len(steps) for _, steps in items]

    with pytest.raises(ValueError, match=r"the scorer returned NaN for step 0 of 'gsm8k-0'"):
        evaluate_scorer(records, NaNScorer(), progress=False)
