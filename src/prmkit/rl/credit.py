"""Credit assignment: reshape per-step PRM rewards before they become returns.

Every rule takes ``step_rewards`` (float tensor ``[batch, steps]``) and ``mask`` (bool tensor of the
same shape, True on valid steps, valid steps first in each row, padding on the right) and returns
shaped step rewards of the same shape, with zeros at masked positions. Rules are registered by name
in :data:`prmkit.rl.CREDIT_RULES` (``"sum"``, ``"min_form"``, ``"clip"``, ``"delta"``,
``"clip_delta"``); :func:`shape` applies one by name.

Why reshape at all: with the usual summed return ``G_k = sum_{j>=k} r_j`` a policy can raise its
return by adding steps the PRM likes (repeating correct-looking steps) — the reward hacking reported
by Gao et al. 2024 and Cheng et al. 2025. Min-form, clip and delta all bound the return.

Example:
    >>> import torch
    >>> r = torch.tensor([[0.9, 0.2, 0.8]]); m = torch.ones_like(r, dtype=torch.bool)
    >>> returns(min_form(r, m, temperature=1e-4), m)[0, 0].item()    # ~ min step reward
    0.2...
"""

from __future__ import annotations

from typing import Any

import torch

from prmkit.rl import CREDIT_RULES

__all__ = ["CREDIT_RULES", "clip", "clip_delta", "delta", "min_form", "returns", "shape", "sum_form"]


def _check(step_rewards: torch.Tensor, mask: torch.Tensor) -> None:
    """Validate the ``[batch, steps]`` reward/mask pair; errors name the problem and the fix."""
    if step_rewards.dim() != 2:
        raise ValueError(f"step_rewards must be [batch, steps], got shape {tuple(step_rewards.shape)}")
    if not step_rewards.is_floating_point():
        raise ValueError(f"step_rewards must be a float tensor, got {step_rewards.dtype}")
    if mask.shape != step_rewards.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != step_rewards shape {tuple(step_rewards.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = valid step), got {mask.dtype}")
    if mask.shape[1] > 1:
        gaps = (mask[:, 1:] & ~mask[:, :-1]).any(dim=1)
        if gaps.any():
            row = int(gaps.nonzero()[0, 0])
            raise ValueError(
                f"mask row {row} has a valid step after a padded one ({mask[row].int().tolist()}); "
                "put each row's valid steps first and pad on the right"
            )


def sum_form(step_rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The baseline: step rewards unchanged (zeros where masked); summed returns add them all up.

    Args:
        step_rewards: ``[batch, steps]`` float rewards.
        mask: ``[batch, steps]`` bool, True on valid steps (valid steps first).

    Returns:
        ``[batch, steps]`` rewards, zero at masked positions.
    """
    _check(step_rewards, mask)
    return step_rewards.masked_fill(~mask, 0.0)


def min_form(step_rewards: torch.Tensor, mask: torch.Tensor, *, temperature: float = 0.1) -> torch.Tensor:
    """PURE's min-form credit assignment (soft-min weighting of the step rewards).

    Reference: Cheng et al. 2025, "Stop Summation: Min-Form Credit Assignment Is All Process Reward
    Model Needs for Reasoning" (arXiv:2504.15275): ``w_k = softmax_k(-r_k / T)`` over the valid
    steps of a response and ``r*_k = w_k * r_k`` (PURE's ``turn_process_reward_logits_to_reward``,
    T = 0.1). The summed return of the first step, ``sum_k r*_k``, is a soft minimum of the step
    rewards and becomes exactly ``min_k r_k`` as ``T -> 0`` (then all weight sits on the worst step,
    so steps after the worst one get a return near 0).

    Args:
        step_rewards: ``[batch, steps]`` float rewards.
        mask: ``[batch, steps]`` bool, True on valid steps.
        temperature: softmax temperature ``T > 0``.

    Returns:
        ``[batch, steps]`` weighted rewards ``w_k * r_k``; zero where masked and for rows without
        valid steps.

    Raises:
        ValueError: ``temperature <= 0`` or a malformed reward/mask pair.
    """
    _check(step_rewards, mask)
    if temperature <= 0:
        raise ValueError(f"min_form temperature must be > 0, got {temperature}")
    logits = (-step_rewards / temperature).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # rows with no valid step -> 0
    return (weights * step_rewards).masked_fill(~mask, 0.0)


def clip(step_rewards: torch.Tensor, mask: torch.Tensor, *, eta: float = 0.5) -> torch.Tensor:
    """The Clip mechanism: ``min(r_k - eta, 0)``, so no step earns a positive reward.

    Reference: Gao et al. 2024, "On Designing Effective RL Reward at Training Time for LLM
    Reasoning" (arXiv:2410.15115), Clip mechanism. With every shaped reward <= 0, adding steps can
    only lower the return, which removes the incentive to pad responses with extra steps.

    Args:
        step_rewards: ``[batch, steps]`` float rewards (e.g. P(correct) in [0, 1]).
        mask: ``[batch, steps]`` bool, True on valid steps.
        eta: the threshold subtracted before capping at 0 (prmkit's default 0.5 suits P(correct)
            rewards in [0, 1]; tune it to your PRM's scale).

    Returns:
        ``[batch, steps]`` rewards ``min(r - eta, 0)``, zero where masked.
    """
    _check(step_rewards, mask)
    return torch.clamp(step_rewards - eta, max=0.0).masked_fill(~mask, 0.0)


def delta(step_rewards: torch.Tensor, mask: torch.Tensor, *, last: str = "zero") -> torch.Tensor:
    """The Delta mechanism: each step is rewarded by how much better it is than the next one.

    Reference: Gao et al. 2024, "On Designing Effective RL Reward at Training Time for LLM
    Reasoning" (arXiv:2410.15115), Delta mechanism: ``d_k = r_k - r_{k+1}`` for every step but the
    last. The sum telescopes, so the return from step ``t`` is ``r_t - r_K`` and cannot be inflated
    by adding steps.

    The last step has no successor. ``last="zero"`` (default) drops its process reward, as in the
    paper's Figure 1 (the final step is then judged by the verifiable reward, placed at EOS);
    ``last="keep"`` gives it ``r_K``, so the return from step ``t`` is exactly ``r_t``.

    Args:
        step_rewards: ``[batch, steps]`` float rewards.
        mask: ``[batch, steps]`` bool, True on valid steps (valid steps first).
        last: ``"zero"`` or ``"keep"`` — what the last valid step gets.

    Returns:
        ``[batch, steps]`` delta rewards, zero where masked.

    Raises:
        ValueError: unknown ``last`` or a malformed reward/mask pair.
    """
    _check(step_rewards, mask)
    if last not in ("zero", "keep"):
        raise ValueError(f"delta last={last!r}; choose 'zero' or 'keep'")
    rewards = step_rewards.masked_fill(~mask, 0.0)
    following = torch.zeros_like(rewards)
    following[:, :-1] = rewards[:, 1:]
    has_next = torch.zeros_like(mask)
    has_next[:, :-1] = mask[:, 1:]
    shaped = torch.where(has_next, rewards - following, rewards if last == "keep" else torch.zeros_like(rewards))
    return shaped.masked_fill(~mask, 0.0)


def clip_delta(
    step_rewards: torch.Tensor, mask: torch.Tensor, *, eta: float = 0.5, last: str = "zero"
) -> torch.Tensor:
    """Clip, then Delta (Gao et al. 2024, arXiv:2410.15115, the combined "Clip + Delta" setting).

    Args:
        step_rewards: ``[batch, steps]`` float rewards.
        mask: ``[batch, steps]`` bool, True on valid steps.
        eta: see :func:`clip`.
        last: see :func:`delta`.

    Returns:
        ``[batch, steps]`` ``delta(clip(r, eta))``, zero where masked.
    """
    return delta(clip(step_rewards, mask, eta=eta), mask, last=last)


def returns(step_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, mode: str = "sum") -> torch.Tensor:
    """Per-step returns over the valid steps of each response.

    ``mode="sum"``: ``G_k = sum_{j >= k} gamma^(j-k) r_j`` (the usual discounted return).
    ``mode="min"``: ``G_k = min_{j >= k} r_j`` (PURE's min-form return; ``gamma`` must be 1).

    Args:
        step_rewards: ``[batch, steps]`` float rewards (raw or shaped by a credit rule).
        mask: ``[batch, steps]`` bool, True on valid steps (valid steps first).
        gamma: discount in (0, 1] for ``mode="sum"``.
        mode: ``"sum"`` or ``"min"``.

    Returns:
        ``[batch, steps]`` returns, zero where masked.

    Raises:
        ValueError: unknown mode, gamma outside (0, 1], gamma != 1 with ``mode="min"``.
    """
    _check(step_rewards, mask)
    if mode not in ("sum", "min"):
        raise ValueError(f"returns mode={mode!r}; choose 'sum' or 'min'")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if mode == "min" and gamma != 1.0:
        raise ValueError(f"mode='min' takes no discount; got gamma={gamma} (use gamma=1.0)")
    rewards = step_rewards.masked_fill(~mask, 0.0)
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    if mode == "min":
        running = torch.full_like(running, float("inf"))
    for k in range(rewards.shape[1] - 1, -1, -1):  # steps are few; a loop over them is cheap
        valid = mask[:, k]
        updated = running * gamma + rewards[:, k] if mode == "sum" else torch.minimum(running, rewards[:, k])
        running = torch.where(valid, updated, running)
        out[:, k] = torch.where(valid, running, torch.zeros_like(running))
    return out


def shape(rule: str, step_rewards: torch.Tensor, mask: torch.Tensor, **params: Any) -> torch.Tensor:
    """Apply the credit rule registered as ``rule`` (see :data:`prmkit.rl.CREDIT_RULES`).

    Raises:
        prmkit._registry.UnknownNameError: unknown ``rule`` (lists the valid names).
    """
    return CREDIT_RULES.get(rule)(step_rewards, mask, **params)
