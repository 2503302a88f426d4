"""The policy-gradient loss RL frameworks use: clipped ratio, KL to a reference, token-mean.

For response token ``t`` with advantage ``A_t``, current log-prob ``l_t``, the log-prob ``o_t`` of
the policy that sampled it and the reference policy's ``r_t``::

    rho_t  = exp(l_t - o_t)
    pg_t   = -min(rho_t * A_t, clip(rho_t, 1 - eps, 1 + eps) * A_t)          (PPO, Schulman et al. 2017)
    kl_t   = exp(r_t - l_t) - (r_t - l_t) - 1                                (k3, Schulman 2020; GRPO eq. 4)
    loss   = sum_t mask_t * (pg_t + beta * kl_t) / sum_t mask_t              (token mean over the batch)

Why each piece: the ratio makes several optimizer passes over one batch of rollouts correct (the
first pass, with ``l == o``, is plain REINFORCE), and the clip stops a pass from moving the policy
far from the one that sampled the batch; the KL term (an unbiased, always non-negative estimate of
``KL(pi || pi_ref)`` per token) keeps the policy near the model RL started from, which is what stops
a reward from dragging it into degenerate text; the token mean over the whole batch (DAPO's choice,
verl's ``"token-mean"``) weighs every token alike, so a batch where few groups carry signal does not
get a larger step. All three are computed on log-probs taken with dropout off (``model.eval()``):
with dropout on, ``l`` is a random perturbation of the policy that sampled the tokens.

Shapes: every tensor is ``[batch, response_len]``, right-padded, with ``mask`` True on response tokens.

Example:
    >>> import torch
    >>> l = torch.zeros(1, 2, requires_grad=True)
    >>> loss, stats = clipped_policy_loss(l, l.detach(), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2, dtype=torch.bool))
    >>> round(loss.item(), 3), stats["clip_fraction"]
    (-1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["clipped_policy_loss", "kl_k3", "response_log_probs"]


def response_log_probs(
    model: Any, prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of every response token under a causal LM, batched.

    Each row is ``prompt + response``, right-padded; token ``t`` of the response is read from the
    logits at the position before it. Gradients flow when called outside ``torch.no_grad``; the
    model's train/eval mode is the caller's (RL calls it in eval mode: no dropout).

    Args:
        model: a causal LM returning ``.logits`` of shape ``[B, T, V]``.
        prompts: per row, the prompt token ids (>= 1 token: the first response token needs a context).
        responses: per row, the response token ids (>= 1 token).
        pad_id: id written into padding (its log-probs are masked out).

    Returns:
        ``(log_probs [B, L], mask [B, L])`` with ``L`` the longest response; padding is 0 / False.

    Raises:
        ValueError: row counts differ, or a row has an empty prompt or response.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts for {len(responses)} responses")
    for i, (p, r) in enumerate(zip(prompts, responses)):
        if not p or not r:
            raise ValueError(f"row {i}: prompt has {len(p)} tokens and response {len(r)}; both need >= 1")
    device = next(model.parameters()).device
    rows = [list(p) + list(r) for p, r in zip(prompts, responses)]
    width = max(map(len, rows))
    length = max(map(len, responses))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
    ids, attention = ids.to(device), attention.to(device)
    logits = model(input_ids=ids, attention_mask=attention).logits  # (B, T, V)
    offsets = torch.arange(length, device=device)
    starts = torch.tensor([len(p) for p in prompts], device=device)
    mask = offsets[None, :] < torch.tensor([len(r) for r in responses], device=device)[:, None]  # (B, L)
    targets = (starts[:, None] + offsets[None, :]).clamp(max=width - 1)  # position of response token t
    rows_index = torch.arange(len(rows), device=device)[:, None]
    picked = logits[rows_index, targets - 1].float()  # (B, L, V): logits that predict response token t
    log_probs = torch.log_softmax(picked, dim=-1).gather(-1, ids[rows_index, targets][..., None]).squeeze(-1)
    return log_probs * mask, mask


def kl_k3(log_probs: torch.Tensor, ref_log_probs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of ``KL(pi || pi_ref)``: ``exp(r - l) - (r - l) - 1`` (>= 0, 0 iff equal).

    Unbiased for tokens sampled from ``pi`` and never negative, unlike the naive ``l - r``; its
    gradient in ``l`` is ``1 - exp(r - l)``, so descending it pulls ``l`` toward ``r`` from either side.
    """
    delta = ref_log_probs - log_probs
    return (torch.expm1(delta) - delta).clamp(min=0.0)  # expm1: no cancellation near 0; clamp: rounding only


def clipped_policy_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_eps: float = 0.2,
    ref_log_probs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped-ratio policy loss plus ``kl_coef`` times the k3 KL, token mean over ``mask``.

    Args:
        log_probs: ``[B, L]`` log-probs under the policy being updated (with gradient).
        old_log_probs: ``[B, L]`` log-probs under the policy that sampled the tokens (no gradient).
        advantages: ``[B, L]`` token advantages.
        mask: ``[B, L]`` bool, True on tokens that count (False on padding and masked rollouts).
        clip_eps: PPO's epsilon; ``float("inf")`` disables clipping.
        ref_log_probs: ``[B, L]`` log-probs under the reference policy; needed when ``kl_coef > 0``.
        kl_coef: the KL coefficient beta (GRPO's default is 0.04).

    Returns:
        ``(loss, stats)``; stats: ``pg_loss``, ``kl`` (mean k3 over counted tokens), ``clip_fraction``
        (share of counted tokens whose ratio the clip cut off), ``ratio_max``.

    Raises:
        ValueError: ``kl_coef > 0`` without ``ref_log_probs``, or a negative ``clip_eps`` / ``kl_coef``.
    """
    if clip_eps < 0 or kl_coef < 0:
        raise ValueError(f"clip_eps and kl_coef must be >= 0, got {clip_eps} and {kl_coef}")
    if kl_coef > 0 and ref_log_probs is None:
        raise ValueError("kl_coef > 0 needs ref_log_probs (the reference policy's log-probs of the same tokens)")
    weights = mask.to(log_probs.dtype)
    count = weights.sum().clamp(min=1.0)
    ratio = torch.exp(log_probs - old_log_probs.detach())
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * advantages
    pg = -torch.minimum(unclipped, clipped)
    loss_tokens = pg
    kl_mean = 0.0
    if ref_log_probs is not None:
        kl = kl_k3(log_probs, ref_log_probs.detach())
        kl_mean = float((kl.detach() * weights).sum() / count)
        if kl_coef > 0:
            loss_tokens = pg + kl_coef * kl
    loss = (loss_tokens * weights).sum() / count
    with torch.no_grad():
        cut = (clipped < unclipped) & mask.bool()  # the min picked the clipped term: no gradient there
        stats = {
            "pg_loss": float((pg.detach() * weights).sum() / count),
            "kl": kl_mean,
            "clip_fraction": float(cut.sum() / count),
            "ratio_max": float(ratio[mask.bool()].max()) if mask.any() else 1.0,
        }
    return loss, stats
