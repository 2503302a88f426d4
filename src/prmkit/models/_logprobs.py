"""Per-token log-probabilities of a causal LM over the response tokens of encoded items.

Shared by the scorers that read a causal LM's next-token distribution rather than a head: the
implicit PRM (``log pi - log pi_ref`` per token) and the likelihood verifier (min / mean log-prob and
margin per step). Items use the implicit layout
(:func:`prmkit.models.formats.implicit.encode_implicit`): token t of the response is predicted by
the logits at t - 1. The vocabulary-sized log-softmax is computed ``LOGIT_CHUNK`` rows at a time, so
memory never holds a ``(B, T, V)`` tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmkit.models.formats.implicit import ImplicitEncodedItem

__all__ = ["LOGIT_CHUNK", "response_positions", "token_log_probs"]

LOGIT_CHUNK = 1024  # rows of the vocabulary-sized log-softmax computed at once (bounds memory)


def response_positions(members: Sequence[ImplicitEncodedItem], device: Any) -> tuple[Any, Any, Any]:
    """``(rows, cols, targets)`` long tensors: every response token of every member, in order.

    ``rows[i]`` is the member's batch row, ``cols[i] = t - 1`` the position whose logits predict
    token ``t``, ``targets[i]`` that token's id.
    """
    import torch

    rows, cols, targets = [], [], []
    for row, member in enumerate(members):
        for t in range(member.response_start, len(member.input_ids)):
            rows.append(row)
            cols.append(t - 1)
            targets.append(member.input_ids[t])
    return tuple(torch.tensor(v, dtype=torch.long, device=device) for v in (rows, cols, targets))


def token_log_probs(
    model: Any, ids: Any, mask: Any, rows: Any, cols: Any, targets: Any, *, margins: bool = False
) -> tuple[Any, Any | None]:
    """``log model(targets | prefix)`` read at ``(rows, cols)`` as ``(N,)`` float32, and with
    ``margins`` also each target's margin ``log p(target) - max_{v != target} log p(v)`` (negative
    where the model prefers another token: the signature of a token it believes is wrong).
    """
    import torch

    body = getattr(model, model.base_model_prefix)
    hidden = body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state[rows, cols]
    lm_head = model.get_output_embeddings()
    chosen, margin = [], []
    for start in range(0, hidden.shape[0], LOGIT_CHUNK):
        log_p = lm_head(hidden[start : start + LOGIT_CHUNK]).float().log_softmax(-1)
        target = targets[start : start + LOGIT_CHUNK, None]
        picked = log_p.gather(-1, target)[:, 0]
        chosen.append(picked)
        if margins:
            margin.append(picked - log_p.scatter(-1, target, float("-inf")).max(-1).values)
    empty = torch.zeros(0, device=ids.device)
    return (torch.cat(chosen) if chosen else empty), ((torch.cat(margin) if margin else empty) if margins else None)
