"""PROF filtering against the official selection rule (amazon-science/PROF-GRPO, filter_trajectories)."""

import pytest

from prmkit.rl.prof import consistency_scores, prof_filter


def test_consistency_score_by_hand():
    # c = mean_k (2 s_k - 1)(2 o - 1): correct (0.9, 0.6) -> (0.8 + 0.2)/2 = 0.5; wrong (0.9, 0.6) -> -0.5
    assert consistency_scores([[0.9, 0.6], [0.9, 0.6], [0.1]], [1, 0, 0], min_steps=1) == pytest.approx(
        [0.5, -0.5, 0.8]
    )


def test_length_penalty_outside_step_range():
    scores = consistency_scores([[1.0], [1.0] * 3, [1.0] * 31], [1, 1, 1], length_coef=0.3)
    assert scores == pytest.approx([0.7, 1.0, 0.7])


def test_balanced_removal_equal_classes():
    # correct: c = 0.8 (idx 0), 0.0 (idx 1); wrong: c = 0.7 (idx 2), -0.7 (idx 3)
    # delta = 0, n_remove = 2 -> remove round(2/2) = 1 correct (idx 1) and 1 wrong (idx 3)
    steps = [[0.9, 0.9], [0.9, 0.1], [0.2, 0.1], [0.8, 0.9]]
    assert prof_filter(steps, [1, 1, 0, 0], groups=4, n_remove=2) == [0, 2]


def test_removal_follows_imbalance():
    steps = [[0.9], [0.5], [0.7], [0.2]]
    # 3 correct, 1 wrong: delta = 2 -> remove min(2, round(2)) = 2 correct, the least consistent (0.5, 0.7)
    assert prof_filter(steps, [1, 1, 1, 0], 4, n_remove=2, min_steps=1) == [0, 3]
    # 1 correct, 3 wrong: delta = -2 -> round(0) = 0 -> both removed from the wrong ones (lowest c:
    # wrong with s = 0.7 and 0.5, c = -0.4 and 0.0)
    assert prof_filter(steps, [1, 0, 0, 0], 4, n_remove=2, min_steps=1) == [0, 3]


def test_python_rounding_ties_like_the_official_code():
    steps = [[0.9], [0.2], [0.8], [0.3]]
    # delta = 0, n_remove = 1: round(0.5) = 0 (ties to even) -> the one removal comes from the wrong ones
    assert prof_filter(steps, [1, 1, 0, 0], 4, n_remove=1, min_steps=1) == [0, 1, 3]
    # delta = 1 (3 correct), n_remove = 2: round(1.5) = 2 -> both from the correct ones
    assert prof_filter([[0.9], [0.2], [0.6], [0.3]], [1, 1, 1, 0], 4, n_remove=2, min_steps=1) == [0, 3]


def test_groups_by_id_and_length_penalty_changes_choice():
    steps = [[0.9], [0.95] * 40, [0.1], [0.2]]
    outcomes = [1, 1, 0, 0]
    # without penalty the 40-step response is the most consistent correct one
    assert prof_filter(steps, outcomes, ["p", "p", "p", "p"], n_remove=2, min_steps=1) == [1, 2]
    assert prof_filter(steps, outcomes, ["p"] * 4, n_remove=2, min_steps=1, length_coef=1.0) == [0, 2]
    # two prompts, nothing to remove in a group larger than n_remove=0
    assert prof_filter(steps, outcomes, ["a", "b", "a", "b"], n_remove=0) == [0, 1, 2, 3]


def test_errors():
    with pytest.raises(ValueError, match="outcome 0.5 must be 0 or 1"):
        consistency_scores([[0.5]], [0.5])
    with pytest.raises(ValueError, match="response 0 step 1: score 1.5"):
        consistency_scores([[0.5, 1.5]], [1])
    with pytest.raises(ValueError, match="n_remove must be >= 0"):
        prof_filter([[0.5]], [1], 1, n_remove=-1)
