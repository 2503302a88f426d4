"""Over-length rollouts: the readable prefix, the truncation step and its penalty under sum and min credit."""

from types import SimpleNamespace

import pytest
import torch

from prmkit.rl.credit import shape
from prmkit.rl.overlong import cut_for_reader, readable_steps, scores_with_penalty
from prmkit.rl.rewards import step_rewards_from_scores
from prmkit.rl.steps import TokenSteps


class CharScorer:
    """Encodes one token per character of question and steps (+1 per separator), like the arith PRM."""

    def __init__(self, max_length):
        self.max_length = max_length

    def encode(self, question, steps):
        return SimpleNamespace(input_ids=[0] * (1 + len(question) + sum(len(s) + 1 for s in steps)))


def test_readable_steps_is_the_longest_prefix_that_fits():
    scorer = CharScorer(max_length=20)
    items = [("Q", ["aaaa", "bbbb", "cccc", "dddd", "eeee"]), ("Q", ["ab"]), ("Q" * 30, ["a"]), ("Q", [])]
    got = readable_steps(scorer, items)
    brute = [max(k for k in range(len(s) + 1) if len(scorer.encode(q, s[:k]).input_ids) <= 20 or k == 0)
             for q, s in items]
    assert got == brute == [3, 1, 0, 0]
    assert readable_steps(object(), items) == [5, 1, 1, 0]  # a scorer without limits reads everything


def test_finished_and_readable_response_is_untouched():
    split = TokenSteps(["1+1=2", "The answer is 2."], [5, 22], [6, 17])
    cut = cut_for_reader(split, readable=2, truncated=False, last_token=22)
    assert (cut.steps, cut.ends, cut.truncated, cut.penalty_step) == (split.steps, split.ends, False, False)
    assert scores_with_penalty(cut, [0.9, 0.8]) == [0.9, 0.8]


def test_generation_cap_drops_the_partial_step_and_adds_a_truncation_step():
    split = TokenSteps(["1+1=2", "2+2=4", "4+4"], [5, 11, 15], [6, 6, 4])
    cut = cut_for_reader(split, readable=3, truncated=True, last_token=15)
    assert (cut.steps, cut.ends, cut.truncated, cut.penalty_step) == (["1+1=2", "2+2=4"], [5, 11, 15], True, True)
    assert scores_with_penalty(cut, [0.9, 0.9], penalty_score=0.0) == [0.9, 0.9, 0.0]
    with pytest.raises(ValueError, match="2 scores for 1 read steps"):
        scores_with_penalty(cut_for_reader(split, readable=1, truncated=True, last_token=15), [0.9, 0.9])


def test_finished_but_too_long_for_the_prm_reads_the_prefix_and_pays():
    split = TokenSteps(["a", "b", "c", "d"], [1, 3, 5, 7], [2, 2, 2, 2])
    cut = cut_for_reader(split, readable=2, truncated=False, last_token=7)
    assert (cut.steps, cut.ends, cut.truncated) == (["a", "b"], [1, 3, 7], True)
    nothing = cut_for_reader(split, readable=0, truncated=False, last_token=7)
    assert (nothing.steps, nothing.ends) == ([], [7])
    # a complete last step that ends the response becomes the truncation step itself (ends stay unique)
    whole = cut_for_reader(split, readable=4, truncated=True, last_token=7, complete=[True] * 4)
    assert (whole.steps, whole.ends) == (["a", "b", "c"], [1, 3, 5, 7])


def test_penalty_is_the_minimum_under_min_form_and_lowers_a_sum():
    split = TokenSteps(["s"] * 6, [1, 3, 5, 7, 9, 11], [2] * 6)
    cut = cut_for_reader(split, readable=6, truncated=True, last_token=11)
    rewards, mask = step_rewards_from_scores([scores_with_penalty(cut, [0.95] * 5), [0.95] * 6], "p_minus_n")
    summed = shape("sum", rewards, mask).sum(dim=1)
    assert summed[0] < summed[1]
    shaped = shape("min_form", rewards, mask, temperature=0.1)
    # min-form credits every step with (about) the trajectory's minimum: the penalty, -1
    assert shaped[0, : int(mask[0].sum())].sum().item() == pytest.approx(-1.0, abs=1e-3)
    assert torch.isfinite(shaped).all()
