"""Golden tests of the advantage estimators against their papers' formulas, worked by hand."""

import math

import pytest
import torch

from prmkit.rl.advantages import (
    discounted_returns,
    group_members,
    grpo,
    prime_advantages,
    pure_advantages,
    rloo,
    to_tokens,
    whiten,
)


def test_grpo_group_normalisation_by_hand():
    # DeepSeekMath: (r - mean) / std per group; group (1, 0): mean 0.5, unbiased std sqrt(0.5)
    out = grpo(torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64), groups=2)
    s = math.sqrt(0.5)
    assert out.tolist() == pytest.approx([0.5 / (s + 1e-6), -0.5 / (s + 1e-6), 0.0, 0.0])
    ids = ["b", "a", "b", "a"]  # verl-style uid array, groups interleaved
    out = grpo(torch.tensor([3.0, 1.0, 1.0, 2.0]), groups=ids, scale=False)
    assert out.tolist() == pytest.approx([1.0, -0.5, -1.0, 0.5])


def test_rloo_leave_one_out_by_hand():
    # r_i - mean_{j != i} r_j: (1, 0, 0.5) -> (1 - 0.25, 0 - 0.75, 0.5 - 0.5)
    assert rloo(torch.tensor([1.0, 0.0, 0.5]), groups=3).tolist() == pytest.approx([0.75, -0.75, 0.0])


def test_pure_token_level_baseline_by_hand():
    # Two responses of 4 tokens to one prompt. Response 0: steps end at tokens 1 and 3 with rewards
    # 0.5 and 0.2 (R0 = 0.7); response 1: one step ending at 3 with reward 0.9 (R1 = 0.9).
    # Baselines per token (leave-one-out): b0 = R1/L1 = 0.225, b1 = R0/L0 = 0.175.
    # Response 0: 0.5 - 2*0.225 = 0.05 at t1, 0.2 - 2*0.225 = -0.25 at t3; verifier RLOO 1 - 0 = +1 at EOS.
    # Response 1: 0.9 - 4*0.175 = 0.2 at t3; verifier 0 - 1 = -1 at EOS.
    rewards = torch.tensor([[0.0, 0.5, 0.0, 0.2], [0.0, 0.0, 0.0, 0.9]], dtype=torch.float64)
    ends = torch.tensor([[0, 1, 0, 1], [0, 0, 0, 1]], dtype=torch.bool)
    mask = torch.ones_like(ends)
    adv, ret = pure_advantages(rewards, ends, mask, 2, verifiable=torch.tensor([1.0, 0.0]))
    assert ret.tolist()[0] == pytest.approx([0.8, 0.8, 0.75, 0.75])
    assert ret.tolist()[1] == pytest.approx([-0.8, -0.8, -0.8, -0.8])
    assert torch.equal(adv, ret)
    # without the verifier and with coefficient 0.5 on it
    _, ret = pure_advantages(rewards, ends, mask, 2)
    assert ret.tolist()[0] == pytest.approx([-0.2, -0.2, -0.25, -0.25])
    _, ret = pure_advantages(rewards, ends, mask, 2, verifiable=torch.tensor([1.0, 0.0]), verifiable_coef=0.5)
    assert ret.tolist()[1] == pytest.approx([-0.3] * 4)


def test_pure_padding_and_eos_closes_last_step():
    # response 1 has 2 valid tokens; its step end mask misses EOS, which still closes the step.
    rewards = torch.tensor([[0.0, 0.6, 0.0, 0.4], [0.0, 0.3, 9.0, 9.0]], dtype=torch.float64)
    ends = torch.tensor([[0, 1, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    # R0 = 1.0, L0 = 4; R1 = 0.3, L1 = 2; b0 = 0.15, b1 = 0.25
    # resp 0: 0.6 - 2*0.15 = 0.3, 0.4 - 2*0.15 = 0.1 -> returns (0.4, 0.4, 0.1, 0.1)
    # resp 1: EOS at t1, n = 2: 0.3 - 2*0.25 = -0.2 -> returns (-0.2, -0.2, 0, 0)
    _, ret = pure_advantages(rewards, ends, mask, [7, 7])
    assert ret.tolist() == [pytest.approx([0.4, 0.4, 0.1, 0.1]), pytest.approx([-0.2, -0.2, 0.0, 0.0])]


def test_prime_rloo_for_process_and_outcome_by_hand():
    # PRIME (arXiv:2502.01456): A_t = sum_{s>=t} gamma^(s-t) [r_s - mean_{j!=i} r(y^j)/|y^j|]
    #                                 + r_o(y^i) - mean_{j!=i} r_o(y^j)
    # resp 0: r = (0.3, 0.0, 0.3), mean 0.2; resp 1: r = (0.1, 0.2), mean 0.15.
    # process: resp 0 - 0.15 -> (0.15, -0.15, 0.15); resp 1 - 0.2 -> (-0.1, 0.0)
    # outcome (1, 0) -> RLOO (+1, -1) at EOS (t2 and t1).
    rewards = torch.tensor([[0.3, 0.0, 0.3], [0.1, 0.2, 5.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    outcome = torch.tensor([1.0, 0.0])
    adv, ret = prime_advantages(rewards, outcome, mask, 2, whiten_advantages=False)
    assert ret.tolist() == [pytest.approx([1.15, 1.0, 1.15]), pytest.approx([-1.1, -1.0, 0.0])]
    assert torch.equal(adv, ret)
    _, ret = prime_advantages(rewards, outcome, mask, 2, gamma=0.5, whiten_advantages=False)
    # resp 0: t2 = 1.15; t1 = -0.15 + 0.5*1.15 = 0.425; t0 = 0.15 + 0.5*0.425 = 0.3625
    assert ret.tolist()[0] == pytest.approx([0.3625, 0.425, 1.15])
    _, ret = prime_advantages(rewards, outcome, mask, 2, process_coef=0.0, whiten_advantages=False)
    assert ret.tolist() == [pytest.approx([1.0] * 3), pytest.approx([-1.0, -1.0, 0.0])]
    adv, _ = prime_advantages(rewards, outcome, mask, 2)  # whitened over the 5 valid tokens
    valid = adv[mask]
    assert valid.mean().item() == pytest.approx(0.0, abs=1e-9)
    assert valid.var().item() == pytest.approx(1.0, abs=1e-6)
    assert adv[1, 2].item() == 0.0


def test_whiten_and_returns_helpers():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 99.0, 99.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    out = whiten(values, mask)
    # mean 2.5, unbiased var 5/3 over (1, 2, 3, 4)
    assert out[0, 0].item() == pytest.approx(-1.5 / math.sqrt(5 / 3), rel=1e-6)
    assert out[1, 1].item() == 0.0
    assert discounted_returns(values, mask, gamma=0.5).tolist()[0] == pytest.approx([2.75, 3.5, 3.0])
    assert to_tokens(torch.tensor([2.0, -1.0]), mask).tolist() == [[2.0, 2.0, 2.0], [-1.0, 0.0, 0.0]]


def test_group_errors_name_the_fix():
    with pytest.raises(ValueError, match="cannot be cut into groups of 3"):
        group_members(3, 4)
    with pytest.raises(ValueError, match="3 group ids for a batch of 2"):
        group_members(["a", "b", "c"], 2)
    with pytest.raises(ValueError, match=">= 2 responses per group"):
        rloo(torch.tensor([1.0, 0.0]), ["a", "b"])
