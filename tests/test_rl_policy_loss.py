"""The clipped, KL-penalised policy loss: KL sign and direction, clipping, the REINFORCE limit, batching."""

import pytest
import torch

from prmkit.rl.policy_loss import clipped_policy_loss, kl_k3, response_log_probs


def test_k3_is_zero_at_the_reference_positive_elsewhere_and_pulls_toward_it():
    ref = torch.tensor([-1.0, -1.0, -1.0])
    logp = torch.tensor([-1.0, -0.5, -2.0], requires_grad=True)
    kl = kl_k3(logp, ref)
    assert kl[0].item() == pytest.approx(0.0)
    assert (kl[1:] > 0).all()
    kl.sum().backward()
    # gradient 1 - exp(r - l): positive above the reference, negative below, so descent moves l toward r
    assert logp.grad[1] > 0 and logp.grad[2] < 0
    assert logp.grad.tolist() == pytest.approx([0.0, 1 - torch.exp(torch.tensor(-0.5)).item(),
                                                1 - torch.exp(torch.tensor(1.0)).item()], rel=1e-5)


def test_kl_term_alone_brings_the_policy_back_to_the_reference():
    ref = torch.tensor([[-0.2, -3.0]])
    logp = torch.tensor([[-2.0, -0.1]], requires_grad=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    for _ in range(300):
        loss, stats = clipped_policy_loss(logp, logp.detach(), torch.zeros(1, 2), mask, ref_log_probs=ref, kl_coef=1.0)
        assert stats["kl"] >= 0
        logp.grad = None
        loss.backward()
        with torch.no_grad():
            logp -= 0.5 * logp.grad
    assert logp.detach().flatten().tolist() == pytest.approx(ref.flatten().tolist(), abs=1e-2)


def test_first_pass_is_reinforce_token_mean():
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -0.7, 0.0]], requires_grad=True)
    adv = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    loss, stats = clipped_policy_loss(logp, logp.detach(), adv, mask)
    loss.backward()
    # d/dl of -(rho * A) at rho = 1 is -A, averaged over the 5 counted tokens; padding gets nothing
    assert logp.grad.flatten().tolist() == pytest.approx([-0.2, -0.2, -0.2, 0.4, 0.4, 0.0])
    assert loss.item() == pytest.approx(-(3 * 1.0 - 2 * 2.0) / 5)
    assert stats["clip_fraction"] == 0.0


@pytest.mark.parametrize(("ratio", "advantage", "clipped"), [(1.5, 1.0, True), (1.5, -1.0, False),
                                                              (0.5, -1.0, True), (0.5, 1.0, False)])
def test_ratio_clip_stops_the_gradient_only_where_it_binds(ratio, advantage, clipped):
    old = torch.tensor([[-1.0]])
    logp = (old + torch.log(torch.tensor(ratio))).clone().requires_grad_(True)
    loss, stats = clipped_policy_loss(logp, old, torch.tensor([[advantage]]), torch.ones(1, 1, dtype=torch.bool),
                                      clip_eps=0.2)
    loss.backward()
    assert (logp.grad.abs().item() == 0.0) == clipped
    assert stats["clip_fraction"] == (1.0 if clipped else 0.0)
    assert stats["ratio_max"] == pytest.approx(ratio)


def test_bad_options_are_named():
    x = torch.zeros(1, 1)
    mask = torch.ones(1, 1, dtype=torch.bool)
    with pytest.raises(ValueError, match="needs ref_log_probs"):
        clipped_policy_loss(x, x, x, mask, kl_coef=0.1)
    with pytest.raises(ValueError, match="must be >= 0"):
        clipped_policy_loss(x, x, x, mask, clip_eps=-1.0)


def test_response_log_probs_batched_equals_one_row_at_a_time():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=11, n_embd=16, n_layer=1, n_head=2, n_positions=32)).eval()
    prompts = [[1, 5, 6], [1], [1, 7, 8, 9, 3]]
    responses = [[4, 4, 2], [3, 5, 6, 7, 2], [2]]
    logp, mask = response_log_probs(model, prompts, responses)
    assert logp.shape == (3, 5) and mask.sum(dim=1).tolist() == [3, 5, 1]
    for i, (p, r) in enumerate(zip(prompts, responses)):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([p + r])).logits[0]
        expected = torch.log_softmax(logits[len(p) - 1 : len(p) + len(r) - 1], dim=-1)[torch.arange(len(r)), r]
        assert logp[i, : len(r)].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
        assert (logp[i, len(r):] == 0).all()
    logp.sum().backward()  # the gradient reaches the weights
    assert model.transformer.wte.weight.grad is not None
    with pytest.raises(ValueError, match="row 1"):
        response_log_probs(model, [[1], []], [[2], [2]])
