"""Particle filtering (Puri et al. 2025, arXiv 2502.01618, Algorithm 1): a hand-worked golden run.

The reference algorithm: extend every live particle one step, weight each particle by
softmax(PRM score / temperature) over the population, resample N with replacement, repeat until all
finish, answer by PRM-weighted vote. Below, every weight is computed by hand from the scripted step
scores, and the draws from the documented seeded inverse-CDF rule.
"""

from __future__ import annotations

import random

import pytest

from prmkit.search import SEARCH_METHODS, SearchConfig, run_search
from prmkit.search.particle_filtering import resample, resampling_weights
from prmkit.types import Completion, Problem
from tests._fake_world import CountTask, ExactScorer, SlipGenerator

# (steps so far, sample j of the merged prompt) -> the next step the scripted policy writes
SCRIPT = {
    ((), 0): "0+1=1",
    ((), 1): "0+1=2",
    ((), 2): "The answer is 5.",
    (("0+1=1",), 0): "The answer is 1.",
    (("0+1=1",), 1): "The answer is 2.",
    (("0+1=2",), 0): "The answer is 2.",
    (("0+1=2",), 1): "The answer is 3.",
}
# PRM score of a step given the steps before it
SCORES = {"0+1=1": 0.9, "0+1=2": 0.3, "The answer is 5.": 0.1}
ANSWER_SCORES = {("0+1=1", "The answer is 1."): 0.8, ("0+1=1", "The answer is 2."): 0.35}


class ScriptedPolicy:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def complete(self, prompts, *, n=1, stop=None, max_new_tokens=256, temperature=1.0, seed=None):
        self.calls.append((len(prompts), n))
        rows = []
        for prompt in prompts:
            steps = tuple(line for line in prompt.split("\n")[1:] if line)
            rows.append([Completion(SCRIPT[steps, j] + "\n", len(SCRIPT[steps, j]) + 1, "stop") for j in range(n)])
        return rows


class ScriptedPRM:
    def score(self, items):
        out = []
        for _, steps in items:
            out.append([ANSWER_SCORES.get(tuple(steps[: k + 1]), SCORES.get(step)) for k, step in enumerate(steps)])
        return out


def _draws(key: str, cdf: list[float]) -> list[int]:
    """The documented rule by hand: u = Random(key).random(), index = first cdf entry above u."""
    rng = random.Random(key)
    return [_first_above(rng.random(), cdf) for _ in range(3)]


def _first_above(u: float, cdf: list[float]) -> int:
    return next(i for i, c in enumerate(cdf) if u < c)


def test_golden_hand_worked_run():
    task, policy = CountTask(), ScriptedPolicy()
    problem = Problem(id="p0", question="Q 0 1", answer="1")
    config = SearchConfig(n=3, resample_temperature=0.5, aggregation="min", selection="weighted", seed=1)
    (result,) = run_search("particle_filtering", task, policy, ScriptedPRM(), [problem], config)
    rounds = result.meta["resampling"]
    assert len(rounds) == 2 and result.meta["rounds"] == 2

    # round 0: three first steps scored 0.9, 0.3, 0.1 -> softmax([1.8, 0.6, 0.2]) =
    # e^1.8 / (e^1.8 + e^0.6 + e^0.2) = 6.0496 / 9.0931 = 0.66530, 1.8221 / 9.0931 = 0.20038, 0.13432
    assert rounds[0]["weights"] == pytest.approx([0.66530, 0.20038, 0.13432], abs=1e-5)
    # seed 1 draws u = 0.059, 0.432, 0.967 -> cdf [0.665, 0.866, 1.0] -> particles 0, 0, 2
    assert rounds[0]["ancestors"] == _draws("1|p0|0", [0.66530, 0.86568, 1.0]) == [0, 0, 2]

    # round 1: the two copies of "0+1=1" share a prompt (one request, n=2) -> answers 1 (0.8) and 2 (0.35);
    # the finished "The answer is 5." keeps min 0.1. softmax([1.6, 0.7, 0.2]) = 4.9530 / 8.1882 = 0.60490,
    # 2.0138 / 8.1882 = 0.24594, 1.2214 / 8.1882 = 0.14917
    assert rounds[1]["weights"] == pytest.approx([0.60490, 0.24594, 0.14917], abs=1e-5)
    # u = 0.291, 0.748, 0.805 -> cdf [0.605, 0.851, 1.0] -> particles 0, 1, 1
    assert rounds[1]["ancestors"] == _draws("1|p0|1", [0.60490, 0.85084, 1.0]) == [0, 1, 1]
    assert policy.calls == [(1, 3), (1, 2)]  # one step per live particle per round; finished cost nothing

    answers = [c.answer for c in result.candidates]
    assert answers == ["1", "2", "2"]  # the final population, duplicates included
    # weighted vote: answer 1 gets 0.8, answer 2 gets 0.35 + 0.35 = 0.7 -> "1" (majority would pick "2")
    assert result.chosen == 0 and result.correct is True
    # tokens: round 0 "0+1=1\n" 6 + "0+1=2\n" 6 + "The answer is 5.\n" 17, round 1 17 + 17
    assert result.budget["policy_tokens"] == 6 + 6 + 17 + 17 + 17
    assert result.budget["prm_calls"] == 2 and result.budget["prm_items"] == 3 + 2


def test_weights_and_draws_follow_the_formula():
    assert resampling_weights([0.5, 0.5], 0.1) == pytest.approx([0.5, 0.5])
    cold = resampling_weights([1.0, 0.0], 0.05)
    assert cold[0] > 0.999999
    with pytest.raises(ValueError, match="resample_temperature"):
        resampling_weights([1.0], 0.0)
    counts = [0, 0]
    rng = random.Random(0)
    for index in resample([0.25, 0.75], rng, 4000):
        counts[index] += 1
    assert 0.22 < counts[0] / 4000 < 0.28


def test_registered_and_guided_by_the_prm():
    assert "particle_filtering" in SEARCH_METHODS.names()
    task = CountTask()
    problems = task.problems(count=20)

    def correct(method, n):
        config = SearchConfig(n=n, temperature=1.0, seed=0)
        return sum(r.correct for r in run_search(method, task, SlipGenerator(0.5), ExactScorer(), problems, config))

    # with the oracle a slipped particle is (almost) never drawn again while a clean one is alive: 8
    # particles keep a clean one through every round, where whole-solution best-of-8 often has none
    assert correct("particle_filtering", 8) >= 19 > correct("best_of_n", 8)
    assert correct("particle_filtering", 4) > correct("best_of_n", 1)


def test_bad_temperature_is_refused():
    with pytest.raises(ValueError, match="resample_temperature must be > 0"):
        SearchConfig(resample_temperature=0)
