"""From PRM step scores to a dense per-token reward tensor.

1. :func:`step_rewards_from_scores` turns each step's P(correct) ``p`` into a reward: ``"p"`` keeps
   ``p`` (in [0, 1]); ``"p_minus_n"`` gives ``p+ - p-`` = ``2p - 1`` (in [-1, 1]; PURE's choice for
   a two-class PRM, ``softmax[1] - softmax[0]``), and pads the ragged lists into ``[batch, steps]``
   with a validity mask — the input of every rule in :mod:`prmkit.rl.credit`.
2. :func:`place_on_tokens` puts each (shaped) step reward on its step's last token, giving the
   ``[batch, response_len]`` tensor that PPO-style trainers consume.
3. :func:`add_at_eos` adds the verifiable (outcome) reward, times its coefficient, at each
   response's last valid token.

Example:
    >>> r, m = step_rewards_from_scores([[0.9, 0.2], [1.0]], kind="p_minus_n")
    >>> r.tolist(), m.tolist()
    ([[0.8..., -0.6...], [1.0, 0.0]], [[True, True], [True, False]])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["REWARD_KINDS", "add_at_eos", "place_on_tokens", "step_rewards_from_scores"]

REWARD_KINDS = ("p", "p_minus_n")


def step_rewards_from_scores(
    scores: Sequence[Sequence[float | None]], kind: str = "p", *, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert per-step P(correct) lists into padded step rewards and a validity mask.

    Args:
        scores: one list per response, one P(correct) in [0, 1] per step (a :class:`Scorer`'s output).
        kind: ``"p"`` (reward = p) or ``"p_minus_n"`` (reward = p+ - p- = 2p - 1).
        dtype: float dtype of the rewards.

    Returns:
        ``(rewards [batch, max_steps], mask [batch, max_steps])``; padding is 0 / False.

    Raises:
        ValueError: unknown ``kind``; a score that is None or outside [0, 1] (names response and step).
    """
    if kind not in REWARD_KINDS:
        raise ValueError(f"Unknown reward kind {kind!r}; choose one of {', '.join(REWARD_KINDS)}")
    width = max((len(row) for row in scores), default=0)
    rewards = torch.zeros(len(scores), width, dtype=dtype)
    mask = torch.zeros(len(scores), width, dtype=torch.bool)
    for i, row in enumerate(scores):
        for k, p in enumerate(row):
            if p is None or not 0.0 <= float(p) <= 1.0:
                raise ValueError(
                    f"response {i} step {k}: score {p!r} is not a probability in [0, 1]; RL rewards need "
                    "a PRM score for every step (an outcome-only scorer gives None for inner steps)"
                )
            rewards[i, k] = float(p) if kind == "p" else 2.0 * float(p) - 1.0
            mask[i, k] = True
    return rewards, mask


def place_on_tokens(
    step_rewards: torch.Tensor, mask: torch.Tensor, ends: Sequence[Sequence[int]], response_len: int
) -> torch.Tensor:
    """Put each valid step's reward on its step-end token.

    Args:
        step_rewards: ``[batch, steps]`` (shaped) step rewards.
        mask: ``[batch, steps]`` bool validity mask.
        ends: per response, the token index of each step's last token (``TokenSteps.ends``);
            ``len(ends[i])`` must equal the number of valid steps of row ``i``.
        response_len: the padded response length ``L``.

    Returns:
        ``[batch, L]`` float tensor, zero except at step-end tokens.

    Raises:
        ValueError: step counts disagree or an end index is outside ``[0, L)``.
    """
    if len(ends) != step_rewards.shape[0]:
        raise ValueError(f"got step ends for {len(ends)} responses but rewards for {step_rewards.shape[0]}")
    dense = torch.zeros(step_rewards.shape[0], response_len, dtype=step_rewards.dtype)
    for i, row_ends in enumerate(ends):
        valid = int(mask[i].sum())
        if len(row_ends) != valid:
            raise ValueError(f"response {i}: {len(row_ends)} step ends but {valid} valid step rewards")
        for k, pos in enumerate(row_ends):
            if not 0 <= pos < response_len:
                raise ValueError(f"response {i} step {k}: end token {pos} is outside [0, {response_len})")
            dense[i, pos] += step_rewards[i, k]
    return dense


def add_at_eos(
    token_rewards: torch.Tensor, response_mask: torch.Tensor, outcome: torch.Tensor, coef: float = 1.0
) -> torch.Tensor:
    """Return ``token_rewards`` plus ``coef * outcome`` on each response's last valid token.

    Args:
        token_rewards: ``[batch, L]`` dense rewards.
        response_mask: ``[batch, L]`` bool/0-1 mask of valid response tokens (right-padded).
        outcome: ``[batch]`` verifiable rewards (e.g. 1.0 correct, 0.0 wrong).
        coef: the verifiable reward's coefficient.

    Raises:
        ValueError: a response with no valid token.
    """
    lengths = response_mask.long().sum(dim=1)
    if (lengths == 0).any():
        row = int((lengths == 0).nonzero()[0, 0])
        raise ValueError(f"response {row} has no valid token; cannot place its verifiable reward at EOS")
    out = token_rewards.clone()
    rows = torch.arange(out.shape[0])
    out[rows, lengths - 1] += coef * outcome.to(out.dtype)
    return out
