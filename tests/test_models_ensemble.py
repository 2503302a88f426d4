"""EnsembleScorer: mean / min / uncertainty (mean - lam*std) per step, None-aware, member specs."""

from __future__ import annotations

import statistics

import pytest

from prmkit.models import load_scorer
from prmkit.models.ensemble import EnsembleScorer, combine


class Fixed:
    """Returns scripted scores (one list per item) and counts calls."""

    def __init__(self, scores):
        self.scores = scores
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return [list(s) for s in self.scores[: len(items)]]


ITEMS = [("q1", ["a", "b", "c"]), ("q2", ["d"])]
A = Fixed([[0.9, 0.2, None], [0.4]])
B = Fixed([[0.5, 0.6, None], [None]])
C = Fixed([[0.7, 0.1, None], [0.8]])


def _columns(*members):
    return [[[m.scores[i][k] for m in members] for k in range(len(steps))] for i, (_, steps) in enumerate(ITEMS)]


@pytest.mark.parametrize("how", ["mean", "min", "uncertainty"])
def test_per_step_combination_against_statistics(how):
    lam = 0.5
    got = EnsembleScorer([A, B, C], how=how, lam=lam).score(ITEMS)
    for item_got, item_cols in zip(got, _columns(A, B, C)):
        for value, column in zip(item_got, item_cols):
            known = [v for v in column if v is not None]
            if not known:
                assert value is None
            elif how == "mean":
                assert value == pytest.approx(statistics.fmean(known))
            elif how == "min":
                assert value == min(known)
            else:
                expected = statistics.fmean(known) - lam * statistics.pstdev(known)
                assert value == pytest.approx(min(1.0, max(0.0, expected)))


def test_known_values_and_none_awareness():
    ens = EnsembleScorer([A, B, C], how="uncertainty", lam=1.0)
    (first, second) = ens.score(ITEMS)
    # step 0: members 0.9, 0.5, 0.7 -> mean 0.7, pstdev sqrt(0.08/3)
    assert first[0] == pytest.approx(0.7 - (0.08 / 3) ** 0.5)
    assert first[2] is None  # nobody scored it
    # item 2: B gave None -> mean 0.6 of (0.4, 0.8), std 0.2
    assert second == [pytest.approx(0.4)]
    assert EnsembleScorer([A, B], how="mean").score(ITEMS)[1] == [0.4]  # a single scorer's value passes through
    assert combine([0.1, 0.9], "uncertainty", lam=10.0) == 0.0  # clipped to [0, 1]


def test_each_member_scores_the_batch_once():
    a, b = Fixed(A.scores), Fixed(B.scores)
    EnsembleScorer([a, b]).score(ITEMS)
    assert (a.calls, b.calls) == (1, 1)


def test_members_from_names_and_specs_via_the_registry():
    ens = load_scorer("ensemble", scorers=["dummy", {"name": "dummy", "value": 0.9}], how="min")
    assert ens.score([("q", ["a", "b"])]) == [[0.5, 0.5]]
    ens = load_scorer("ensemble", scorers=[{"name": "dummy", "value": 0.2}, {"name": "dummy", "value": 0.6}])
    assert ens.score([("q", ["a"])]) == [[pytest.approx(0.4)]]


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        EnsembleScorer([A])
    with pytest.raises(ValueError, match="Unknown ensemble combination 'max'"):
        EnsembleScorer([A, B], how="max")
    with pytest.raises(ValueError, match="lam must be >= 0"):
        EnsembleScorer([A, B], how="uncertainty", lam=-1)
    with pytest.raises(ValueError, match="member 1 .* has no 'name'"):
        EnsembleScorer([A, {"value": 0.3}])
    with pytest.raises(ValueError, match="member 1 is int"):
        EnsembleScorer([A, 3])
    with pytest.raises(ValueError, match="member 1 \\(Fixed\\) returned scores that do not match"):
        EnsembleScorer([A, Fixed([[0.1], [0.2]])]).score(ITEMS)
