"""Golden tests of the credit-assignment rules against their papers' formulas, worked by hand."""

import math

import pytest
import torch

from prmkit._registry import UnknownNameError
from prmkit.rl import CREDIT_RULES
from prmkit.rl.credit import clip, clip_delta, delta, min_form, returns, shape, sum_form

R = torch.tensor([[0.9, 0.2, 0.8]], dtype=torch.float64)
FULL = torch.ones_like(R, dtype=torch.bool)


def test_min_form_matches_pure_formula_by_hand():
    # PURE (arXiv:2504.15275): w_k = exp(-r_k/T) / sum_j exp(-r_j/T), r*_k = w_k r_k, T = 0.1.
    # logits -9, -2, -8 -> w = (e^-7, 1, e^-6) / (1 + e^-7 + e^-6)
    z = 1 + math.exp(-7) + math.exp(-6)
    expected = [0.9 * math.exp(-7) / z, 0.2 / z, 0.8 * math.exp(-6) / z]
    assert min_form(R, FULL).tolist()[0] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx([0.00081792, 0.19932416, 0.00197630], abs=1e-8)


def test_min_form_with_signed_rewards_p_minus_n():
    r = torch.tensor([[0.5, -0.5, 0.25]], dtype=torch.float64)
    # logits -5, 5, -2.5 -> relative to the max: e^-10, 1, e^-7.5
    z = 1 + math.exp(-10) + math.exp(-7.5)
    expected = [0.5 * math.exp(-10) / z, -0.5 / z, 0.25 * math.exp(-7.5) / z]
    assert min_form(r, torch.ones_like(r, dtype=torch.bool)).tolist()[0] == pytest.approx(expected, rel=1e-12)


def test_min_form_tends_to_exact_min_return_and_to_mean_when_hot():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.rand(6, 5, generator=gen, dtype=torch.float64)
    mask = torch.arange(5)[None, :] < torch.tensor([5, 4, 3, 2, 1, 5])[:, None]
    exact_min = torch.stack([rewards[i][mask[i]].min() for i in range(6)])
    errors = []
    for temperature in (0.1, 0.01, 1e-3, 1e-4):
        total = returns(min_form(rewards, mask, temperature=temperature), mask)[:, 0]
        errors.append((total - exact_min).abs().max().item())
        assert torch.equal(returns(rewards, mask, mode="min")[:, 0], exact_min)
    assert errors[-1] < 1e-9
    assert errors == sorted(errors, reverse=True) and errors[0] > 1e-4  # converges, not trivially equal
    hot = returns(min_form(rewards, mask, temperature=1e6), mask)[:, 0]
    means = torch.stack([rewards[i][mask[i]].mean() for i in range(6)])
    assert torch.allclose(hot, means, atol=1e-5)


def test_clip_is_r_minus_eta_capped_at_zero():
    # Gao et al. 2024 (arXiv:2410.15115), Clip: min(r - eta, 0); eta = 0.5: (0.4, -0.3, 0.3) -> (0, -0.3, 0)
    assert clip(R, FULL, eta=0.5).tolist()[0] == pytest.approx([0.0, -0.3, 0.0])
    assert clip(R, FULL, eta=0.85).tolist()[0] == pytest.approx([0.0, -0.65, -0.05])


def test_delta_differences_and_documented_last_step():
    # Gao et al. 2024, Delta: r_k - r_{k+1}; last step dropped (default) or kept.
    assert delta(R, FULL).tolist()[0] == pytest.approx([0.7, -0.6, 0.0])
    assert delta(R, FULL, last="keep").tolist()[0] == pytest.approx([0.7, -0.6, 0.8])
    # telescoping: return from step t is r_t - r_K (zero) or r_t (keep)
    assert returns(delta(R, FULL), FULL).tolist()[0] == pytest.approx([0.1, -0.6, 0.0])
    assert returns(delta(R, FULL, last="keep"), FULL).tolist()[0] == pytest.approx([0.9, 0.2, 0.8])


def test_clip_delta_is_delta_of_clipped():
    # clip(eta=0.5) -> (0, -0.3, 0); delta -> (0 - (-0.3), -0.3 - 0, 0) = (0.3, -0.3, 0)
    assert clip_delta(R, FULL, eta=0.5).tolist()[0] == pytest.approx([0.3, -0.3, 0.0])


def test_returns_sum_discounted_and_min():
    # gamma 0.5: G2 = 0.8, G1 = 0.2 + 0.5*0.8 = 0.6, G0 = 0.9 + 0.5*0.6 = 1.2
    assert returns(R, FULL, gamma=0.5).tolist()[0] == pytest.approx([1.2, 0.6, 0.8])
    assert returns(R, FULL).tolist()[0] == pytest.approx([1.9, 1.0, 0.8])
    assert returns(R, FULL, mode="min").tolist()[0] == pytest.approx([0.2, 0.2, 0.8])


@pytest.mark.parametrize("rule", CREDIT_RULES.names())
def test_masked_positions_are_zero_and_ignored(rule):
    padded = torch.tensor([[0.9, 0.2, 0.8, 55.0, -3.0], [0.4, 0.6, 7.0, 7.0, 7.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    out = shape(rule, padded, mask)
    assert torch.all(out[~mask] == 0)
    alone = shape(rule, padded[1:, :2], mask[1:, :2])  # the short row without any padding
    assert torch.allclose(out[1, :2], alone[0])
    assert torch.all(returns(out, mask)[~mask] == 0)


def test_sum_form_returns_rewards_unchanged():
    assert torch.equal(sum_form(R, FULL), R)


def test_registry_lookup_and_unknown_rule():
    assert CREDIT_RULES.get("min_form") is min_form
    with pytest.raises(UnknownNameError, match="Did you mean: min_form"):
        CREDIT_RULES.get("minform")


def test_repeating_a_liked_step_pays_under_sum_but_not_min_form():
    # the reward hack of Gao et al.: append a copy of a high-scoring step
    honest = torch.tensor([[0.9, 0.3]], dtype=torch.float64)
    padded = torch.tensor([[0.9, 0.9, 0.9, 0.3]], dtype=torch.float64)
    m2, m4 = torch.ones_like(honest, dtype=torch.bool), torch.ones_like(padded, dtype=torch.bool)
    gain_sum = (returns(sum_form(padded, m4), m4)[0, 0] - returns(sum_form(honest, m2), m2)[0, 0]).item()
    gain_min = (returns(min_form(padded, m4), m4)[0, 0] - returns(min_form(honest, m2), m2)[0, 0]).item()
    assert gain_sum == pytest.approx(1.8)
    assert 0 < gain_min < 0.005  # soft-min at T = 0.1 leaks a little weight onto the extra 0.9 steps
    cold = [returns(min_form(x, m, temperature=1e-3), m)[0, 0].item() for x, m in ((padded, m4), (honest, m2))]
    assert cold[0] == pytest.approx(cold[1], abs=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: min_form(R, FULL, temperature=0.0), "temperature must be > 0"),
        (lambda: sum_form(R, FULL.int()), "bool tensor"),
        (lambda: sum_form(R, torch.tensor([[True, False, True]])), "row 0 has a valid step after a padded one"),
        (lambda: sum_form(R[0], FULL[0]), r"\[batch, steps\]"),
        (lambda: returns(R, FULL, mode="min", gamma=0.9), "takes no discount"),
        (lambda: delta(R, FULL, last="drop"), "choose 'zero' or 'keep'"),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
