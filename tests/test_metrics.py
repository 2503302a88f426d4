import math
import random

import numpy as np
import pytest

from prmkit.metrics import (
    auroc,
    expected_calibration_error,
    f1_at_threshold,
    first_error_prediction,
    processbench_f1,
)


def _pairwise_auroc(labels, scores):
    """Independent reference: fraction of (correct, wrong) pairs ordered right, ties = 1/2."""
    pos = [s for y, s in zip(labels, scores) if y >= 0.5]
    neg = [s for y, s in zip(labels, scores) if y < 0.5]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_auroc_hand_case_with_ties():
    # correct steps 0.9, 0.4; wrong steps 0.1, 0.4: pairs 1 + 1 + 1 + 1/2 = 3.5 of 4
    assert auroc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4]) == pytest.approx(0.875)
    assert auroc([1, 1, 0], [0.2, 0.3, 0.9]) == 0.0
    assert auroc([1, 0], [0.5, 0.5]) == 0.5


def _random_case(seed=0, n=200):
    rng = random.Random(seed)
    labels = [int(rng.random() < 0.6) for _ in range(n)]
    scores = [round(rng.random(), 1) for _ in range(n)]  # rounding forces many ties
    return labels, scores


def test_auroc_matches_pairwise_definition_on_random_data():
    labels, scores = _random_case()
    assert auroc(labels, scores) == pytest.approx(_pairwise_auroc(labels, scores))


def test_auroc_matches_sklearn_on_random_data():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")  # a test-only reference, not a dependency
    labels, scores = _random_case(seed=1)
    assert auroc(labels, scores) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))


def test_auroc_skips_none_and_binarises_soft_labels():
    assert auroc([0.8, None, 0.1, 0.0], [0.9, 0.0, None, 0.95]) == 0.0
    assert auroc([0.75, 0.25], [0.7, 0.6]) == 1.0


def test_auroc_one_class_is_nan_and_length_mismatch_raises():
    assert math.isnan(auroc([1, 1, 1], [0.1, 0.5, 0.9]))
    assert math.isnan(auroc([], []))
    with pytest.raises(ValueError, match="same length"):
        auroc([1, 0], [0.5])


def test_f1_at_threshold_hand_cases_both_classes():
    labels, scores = [1, 1, 0, 0, 0], [0.9, 0.2, 0.3, 0.7, 0.1]
    # positive = correct: predicted correct {0, 3}; tp=1 fp=1 fn=1 -> 0.5
    assert f1_at_threshold(labels, scores) == pytest.approx(0.5)
    # positive = wrong: predicted wrong {1, 2, 4}; tp=2 (2, 4) fp=1 (1) fn=1 (3) -> 4/6
    assert f1_at_threshold(labels, scores, positive=0) == pytest.approx(2 / 3)
    # threshold is inclusive on the "correct" side
    assert f1_at_threshold([1, 0], [0.5, 0.49], threshold=0.5) == 1.0
    assert f1_at_threshold([1, 0], [0.5, 0.49], threshold=0.51) == 0.0


def test_f1_at_threshold_undefined_is_nan_and_bad_positive_raises():
    assert math.isnan(f1_at_threshold([0, 0], [0.1, 0.2]))  # no correct step, none predicted
    with pytest.raises(ValueError, match="positive"):
        f1_at_threshold([1], [0.5], positive=2)


def test_expected_calibration_error_hand_case_and_perfect_calibration():
    # bins=2: bin1 = {0.9, 0.9} labels {1, 0} -> |0.5-0.9|; bin0 = {0.2, 0.2} labels {1, 1} -> |1-0.2|
    assert expected_calibration_error([1, 0, 1, 1], [0.9, 0.9, 0.2, 0.2], bins=2) == pytest.approx(
        (2 * 0.4 + 2 * 0.8) / 4
    )
    # a score of exactly 1.0 lands in the last bin; soft labels equal to the scores are calibrated
    assert expected_calibration_error([0.3, 1.0, 0.75], [0.3, 1.0, 0.75], bins=10) == pytest.approx(0.0)
    assert math.isnan(expected_calibration_error([None], [0.5]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([1], [1.5])


def test_ece_matches_numpy_reference_on_random_data():
    rng = np.random.default_rng(1)
    scores = rng.random(500)
    labels = (rng.random(500) < scores**2).astype(float)
    edges = np.linspace(0, 1, 16)
    expected = 0.0
    for b in range(15):
        upper = scores <= edges[b + 1] if b == 14 else scores < edges[b + 1]
        members = (scores >= edges[b]) & upper
        if members.any():
            expected += members.sum() * abs(labels[members].mean() - scores[members].mean())
    assert expected_calibration_error(labels.tolist(), scores.tolist(), bins=15) == pytest.approx(expected / 500)


def test_first_error_prediction():
    assert first_error_prediction([0.9, 0.8, 0.3, 0.1]) == 2
    assert first_error_prediction([0.9, 0.5]) == -1  # 0.5 is not below 0.5
    assert first_error_prediction([None, 0.2]) == 1
    assert first_error_prediction([]) == -1
    assert first_error_prediction([0.9, 0.7], threshold=0.8) == 1
    assert first_error_prediction([None, None]) is None  # no score at all: no prediction, not "no error"


def _official_processbench(gold, pred):
    """QwenLM/ProcessBench code/run_eval.py, transcribed: match = (pred == label), np.mean * 100, harmonic mean."""
    matches = [p == g for g, p in zip(gold, pred)]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc1 = np.mean([m for m, g in zip(matches, gold) if g != -1]) * 100
        acc2 = np.mean([m for m, g in zip(matches, gold) if g == -1]) * 100
        f1 = 2 * acc1 * acc2 / (acc1 + acc2)
    return acc1, acc2, f1


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
def test_processbench_f1_matches_the_official_script_on_random_predictions():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(2, 30))
        gold = [int(g) for g in rng.integers(-1, 4, size=n)]
        # predictions include None: the official script's pred for an unparseable critique
        pred = [None if r < 0.15 else int(rng.integers(-1, 4)) for r in rng.random(n)]
        out = processbench_f1(gold, pred)
        for ours, theirs in zip((out["error_acc"], out["correct_acc"], out["f1"]), _official_processbench(gold, pred)):
            assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs)


def test_processbench_f1_none_prediction_is_wrong_on_both_sides():
    out = processbench_f1([2, -1, -1], [None, None, -1])
    assert (out["error_acc"], out["correct_acc"]) == (0.0, 50.0)


def test_processbench_f1_golden_hand_case():
    gold = [3, 0, 1, 2, -1, -1, -1]
    pred = [3, 0, 2, -1, -1, 4, -1]
    # error side: 2 of 4 exact; correct side: 2 of 3 predicted -1
    out = processbench_f1(gold, pred)
    assert out["error_acc"] == pytest.approx(50.0)
    assert out["correct_acc"] == pytest.approx(200 / 3)
    assert out["f1"] == pytest.approx(2 * 50 * (200 / 3) / (50 + 200 / 3))


def test_processbench_f1_degenerate_cases_follow_official_numpy_behaviour():
    # official: np.mean([]) -> nan, and 2*a*b/(a+b) with a nan side -> nan
    only_errors = processbench_f1([1, 2], [1, 0])
    assert only_errors["error_acc"] == 50.0 and math.isnan(only_errors["correct_acc"]) and math.isnan(only_errors["f1"])
    only_correct = processbench_f1([-1], [-1])
    assert only_correct["correct_acc"] == 100.0 and math.isnan(only_correct["error_acc"])
    # both sides 0 -> 0/0 -> nan in numpy
    assert math.isnan(processbench_f1([1, -1], [0, 0])["f1"])
    with pytest.raises(ValueError, match="one prediction per sample"):
        processbench_f1([1, -1], [1])
