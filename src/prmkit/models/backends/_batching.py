"""Length-sorted, token-budget batching and right padding (pure Python + torch on use).

Sorting by length and packing each batch up to ``max_batch_tokens`` *padded* tokens keeps padding
small (neighbours in sorted order have similar lengths) and bounds activation memory per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["pad_right", "token_budget_batches"]


def token_budget_batches(
    lengths: Sequence[int], max_batch_tokens: int, min_fill: float = 0.0
) -> list[list[int]]:
    """Group item indices into batches of at most ``max_batch_tokens`` padded tokens.

    Items are taken longest first; a batch's cost is ``len(batch) * longest_in_batch``. An item
    longer than the budget gets a batch of its own.

    Args:
        lengths: token count of each item.
        max_batch_tokens: budget per batch (> 0).
        min_fill: also start a new batch when an item is shorter than ``min_fill`` times the batch's
            longest item (bounds padding when lengths vary widely; 0 disables).

    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.

    Example:
        >>> token_budget_batches([3, 10, 4, 9], max_batch_tokens=20)
        [[1, 3], [2, 0]]
    """
    if max_batch_tokens <= 0:
        raise ValueError(f"max_batch_tokens must be > 0, got {max_batch_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for index in order:
        if current and (
            (len(current) + 1) * width > max_batch_tokens
            or lengths[index] < min_fill * width
        ):
            batches.append(current)
            current = []
        if not current:
            width = lengths[index]
        current.append(index)
    if current:
        batches.append(current)
    return batches


def pad_right(
    sequences: Sequence[Sequence[int]], pad_id: int, device: Any = "cpu"
) -> tuple[Any, Any]:
    """Right-pad token id lists into ``(input_ids, attention_mask)``, both ``(batch, max_len)`` long tensors.

    Right padding leaves every real token at its unpadded position, so the model's default
    position ids (0..T-1) are right and step positions need no shifting.
    """
    import torch

    width = max(len(seq) for seq in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)
