"""Advantage estimators for PRM-rewarded RL: GRPO, RLOO, PURE's token-level RLOO, PRIME.

All estimators work on groups of responses to the same prompt. ``groups`` is either an ``int`` ``n``
(the batch is made of consecutive blocks of ``n`` responses per prompt, the TRL/OpenRLHF layout) or
a sequence with one group id per response (verl's ``uid`` array).

Token-level tensors are ``[batch, response_len]`` with a right-padded ``response_mask`` (True/1 on
the response's tokens). A response's last valid token is its EOS position.

Example:
    >>> import torch
    >>> grpo(torch.tensor([1.0, 0.0, 1.0, 1.0]), groups=2).tolist()
    [0.707..., -0.707..., 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

__all__ = [
    "discounted_returns",
    "group_members",
    "grpo",
    "prime_advantages",
    "pure_advantages",
    "pure_token_rewards",
    "rloo",
    "to_tokens",
    "whiten",
]

Groups = int | Sequence[Hashable]


def group_members(groups: Groups, batch_size: int) -> list[list[int]]:
    """Indices of the responses in each group, groups in order of first appearance.

    Raises:
        ValueError: ``batch_size`` is not a multiple of an int ``groups``; ids of the wrong length.
    """
    if isinstance(groups, int):
        if groups < 1 or batch_size % groups:
            raise ValueError(f"batch of {batch_size} responses cannot be cut into groups of {groups}")
        return [list(range(s, s + groups)) for s in range(0, batch_size, groups)]
    ids = list(groups)
    if len(ids) != batch_size:
        raise ValueError(f"got {len(ids)} group ids for a batch of {batch_size} responses")
    members: dict[Hashable, list[int]] = {}
    for i, gid in enumerate(ids):
        members.setdefault(gid, []).append(i)
    return list(members.values())


def _leave_one_out_mean(values: torch.Tensor, groups: Groups) -> torch.Tensor:
    """``mean_{j != i, j in group(i)} values_j`` for each i; needs groups of at least 2."""
    out = torch.empty_like(values)
    for idx in group_members(groups, values.shape[0]):
        if len(idx) < 2:
            raise ValueError(f"leave-one-out baselines need >= 2 responses per group; group {idx} has 1")
        members = torch.tensor(idx)
        total = values[members].sum(dim=0)
        out[members] = (total - values[members]) / (len(idx) - 1)
    return out


def grpo(rewards: torch.Tensor, groups: Groups, *, scale: bool = True, eps: float = 1e-6) -> torch.Tensor:
    """GRPO's group-normalised advantage for scalar rewards: ``(r_i - mean_g) / (std_g + eps)``.

    Reference: Shao et al. 2024, "DeepSeekMath" (arXiv:2402.03300), outcome supervision:
    ``A_i = (r_i - mean(r)) / std(r)`` within each prompt's group (std with Bessel's correction, as
    in TRL's and verl's GRPO). A group of one response gets advantage 0.

    Args:
        rewards: ``[batch]`` scalar rewards (e.g. a PRM's min step score, or correctness).
        groups: group size or per-response group ids.
        scale: divide by the group std (False gives Dr. GRPO-style mean-centring only).
        eps: added to the std.

    Returns:
        ``[batch]`` advantages.
    """
    out = torch.zeros_like(rewards)
    for idx in group_members(groups, rewards.shape[0]):
        if len(idx) < 2:
            continue
        members = torch.tensor(idx)
        group = rewards[members]
        centred = group - group.mean()
        out[members] = centred / (group.std() + eps) if scale else centred
    return out


def rloo(rewards: torch.Tensor, groups: Groups) -> torch.Tensor:
    """RLOO advantage ``r_i - mean_{j != i} r_j`` within each group (Ahmadian et al. 2024, arXiv:2402.14740).

    Args:
        rewards: ``[batch]`` scalar rewards.
        groups: group size or per-response group ids (every group needs >= 2 responses).

    Returns:
        ``[batch]`` advantages.
    """
    return rewards - _leave_one_out_mean(rewards, groups)


def discounted_returns(token_rewards: torch.Tensor, response_mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """``G_t = sum_{s >= t} gamma^(s-t) r_s`` over valid tokens; zero on padding. Shapes ``[batch, L]``."""
    mask = response_mask.to(token_rewards.dtype)
    rewards = token_rewards * mask
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out * mask


def whiten(values: torch.Tensor, mask: torch.Tensor, *, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Normalise ``values`` to zero mean, unit variance over the masked entries of the whole batch.

    Unbiased variance, like verl's ``masked_whiten`` (which PRIME's recipe uses); padding is left 0.

    Raises:
        ValueError: fewer than two masked entries.
    """
    weights = mask.to(values.dtype)
    count = weights.sum()
    if count < 2:
        raise ValueError(f"whitening needs at least 2 valid entries, got {int(count)}")
    mean = (values * weights).sum() / count
    var = (((values - mean) ** 2) * weights).sum() / (count - 1)
    out = (values - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * weights


def to_tokens(advantages: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Broadcast per-response advantages ``[batch]`` to every valid token ``[batch, L]``."""
    return advantages[:, None] * response_mask.to(advantages.dtype)


def _eos_mask(response_mask: torch.Tensor) -> torch.Tensor:
    lengths = response_mask.long().sum(dim=1)
    if (lengths == 0).any():
        raise ValueError(f"response {int((lengths == 0).nonzero()[0, 0])} has no valid token")
    eos = torch.zeros_like(response_mask, dtype=torch.bool)
    eos[torch.arange(eos.shape[0]), lengths - 1] = True
    return eos


def pure_token_rewards(
    token_rewards: torch.Tensor,
    step_end_mask: torch.Tensor,
    response_mask: torch.Tensor,
    groups: Groups,
    *,
    verifiable: torch.Tensor | None = None,
    verifiable_coef: float = 1.0,
) -> torch.Tensor:
    """PURE's baselined token rewards (before returns); see :func:`pure_advantages` for the formula.

    Returns:
        ``[batch, L]`` rewards: ``r_k - b_i * n_k`` on step ends, plus the verifiable RLOO term at EOS.
    """
    valid = response_mask.bool()
    eos = _eos_mask(valid)
    ends = (step_end_mask.bool() | eos) & valid
    rewards = token_rewards * valid
    totals = rewards.sum(dim=1)
    lengths = valid.sum(dim=1).to(rewards.dtype)
    per_token = torch.empty_like(totals)
    for idx in group_members(groups, rewards.shape[0]):
        if len(idx) < 2:
            raise ValueError(f"PURE's leave-one-out baseline needs >= 2 responses per group; group {idx} has 1")
        members = torch.tensor(idx)
        per_token[members] = (totals[members].sum() - totals[members]) / (lengths[members].sum() - lengths[members])
    positions = torch.arange(rewards.shape[1]).expand_as(rewards)
    # n_k = e_k - e_{k-1}: distance from the previous step end (or from -1 for the first step)
    previous_end = torch.where(ends, positions, torch.full_like(positions, -1)).cummax(dim=1).values
    previous_end = torch.cat([torch.full_like(previous_end[:, :1], -1), previous_end[:, :-1]], dim=1)
    step_tokens = (positions - previous_end).to(rewards.dtype) * ends
    shaped = rewards - per_token[:, None] * step_tokens
    if verifiable is not None:
        outcome = rloo(verifiable.to(rewards.dtype), groups) * verifiable_coef
        shaped = shaped + outcome[:, None] * eos
    return shaped * valid


def pure_advantages(
    token_rewards: torch.Tensor,
    step_end_mask: torch.Tensor,
    response_mask: torch.Tensor,
    groups: Groups,
    *,
    verifiable: torch.Tensor | None = None,
    verifiable_coef: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PURE's RLOO with a token-level baseline, for (min-form) process rewards on step-end tokens.

    Reference: Cheng et al. 2025, "Stop Summation" (arXiv:2504.15275), PURE's ``process_experiences``
    (default ``reward_baseline``): with ``R_j`` the summed process reward and ``L_j`` the length of
    response ``j``, each response's baseline per token is ``b_i = sum_{j != i} R_j / sum_{j != i} L_j``
    (leave-one-out over its group), and step ``k`` of response ``i`` (``n_k`` tokens) gets
    ``r_k - b_i * n_k`` on its end token. The verifiable reward gets its own RLOO baseline,
    ``v_i - mean_{j != i} v_j``, times ``verifiable_coef``, at EOS. Returns are the undiscounted
    reverse cumulative sums, and advantages equal returns.

    One deliberate difference: PURE's code counts a step's tokens without its final (separator)
    token; here ``n_k`` includes it, so ``sum_k n_k = L_i`` and the trajectory's total baseline is
    exactly ``b_i * L_i``. The last valid token always ends a step (as in PURE, EOS closes the final
    step), even if ``step_end_mask`` misses it.

    Args:
        token_rewards: ``[batch, L]`` process rewards, non-zero only at step ends (e.g. from
            :func:`prmkit.rl.rewards.place_on_tokens` after :func:`prmkit.rl.credit.min_form`).
        step_end_mask: ``[batch, L]`` bool, True on each step's last token.
        response_mask: ``[batch, L]`` bool/0-1 mask of valid tokens (right-padded).
        groups: group size or per-response group ids (>= 2 responses per group).
        verifiable: optional ``[batch]`` outcome rewards (e.g. 1.0 correct, 0.0 wrong).
        verifiable_coef: weight of the verifiable reward.

    Returns:
        ``(advantages, returns)``, both ``[batch, L]``, zero on padding.
    """
    shaped = pure_token_rewards(
        token_rewards, step_end_mask, response_mask, groups, verifiable=verifiable, verifiable_coef=verifiable_coef
    )
    returns = discounted_returns(shaped, response_mask.bool(), gamma=1.0)
    return returns.clone(), returns


def prime_advantages(
    process_rewards: torch.Tensor,
    outcome: torch.Tensor,
    response_mask: torch.Tensor,
    groups: Groups,
    *,
    process_coef: float = 1.0,
    outcome_coef: float = 1.0,
    gamma: float = 1.0,
    whiten_advantages: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PRIME: separate leave-one-out baselines for implicit process rewards and the outcome, summed.

    Reference: Cui et al. 2025, "Process Reinforcement through Implicit Rewards" (arXiv:2502.01456),
    Eq. for the RLOO advantage with process rewards::

        A_t^i = sum_{s>=t} gamma^(s-t) [ r_s^i - 1/(K-1) sum_{j!=i} r(y^j)/|y^j| ]
                + r_o(y^i) - 1/(K-1) sum_{j!=i} r_o(y^j)

    where ``r_s^i`` is the implicit process reward of token ``s`` (``beta * log pi/pi_ref``) and
    ``r(y^j)/|y^j|`` is response ``j``'s mean process reward per token. The outcome term is placed at
    EOS and enters the same discounted return. Advantages are then whitened over all valid tokens
    of the batch, as in PRIME's verl recipe. (That recipe computes the process baseline as
    ``x * K/(K-1) - sum_j mean_j/(K-1)``, which differs from the paper's formula by
    ``(x - mean_i)/(K-1)``; prmkit follows the paper.)

    Args:
        process_rewards: ``[batch, L]`` per-token implicit process rewards.
        outcome: ``[batch]`` outcome rewards (e.g. 1.0 correct / 0.0 wrong).
        response_mask: ``[batch, L]`` bool/0-1 valid-token mask (right-padded).
        groups: group size or per-response group ids (>= 2 per group).
        process_coef: weight of the process part (verl recipe's ``dpo_coef``).
        outcome_coef: weight of the outcome part (verl recipe's ``gt_coef``).
        gamma: discount of the return.
        whiten_advantages: whiten the advantages over the batch.

    Returns:
        ``(advantages, returns)``, both ``[batch, L]``, zero on padding.
    """
    valid = response_mask.bool()
    rewards = process_rewards * valid
    per_token_mean = rewards.sum(dim=1) / valid.sum(dim=1).clamp(min=1).to(rewards.dtype)
    baseline = _leave_one_out_mean(per_token_mean, groups)
    process = (rewards - baseline[:, None]) * valid
    outcome_adv = rloo(outcome.to(rewards.dtype), groups)
    total = process_coef * process + outcome_coef * outcome_adv[:, None] * _eos_mask(valid)
    returns = discounted_returns(total, valid, gamma=gamma)
    advantages = whiten(returns, valid) if whiten_advantages else returns.clone()
    return advantages, returns
