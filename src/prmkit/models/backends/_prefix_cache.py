"""Incremental prefix scoring for causal PRMs: reuse the key/value cache of recently scored prefixes.

Beam search and MCTS score ``(question, steps[:k] + [new])`` over and over; everything before the new
step was already run. A causal body's hidden state at position t depends only on tokens <= t, so
for a new item we find the stored item sharing the longest token prefix with it, take that item's
per-layer keys/values for the shared prefix, run only the remaining tokens, and read positions that
fall inside the shared prefix from the head outputs stored with that item.

Lookup is by chained hashes of 16-token blocks (as in vLLM's prefix caching) and then token by token
inside the last matching block, so the match is the exact longest common prefix with one stored item.
Formats whose earlier render is not a strict prefix (Qwen2.5-Math-PRM ends with ``<|im_end|>``) still
share everything up to the divergence.

Batched incremental forward: the rows of a batch have different cached lengths ``P_i`` and new lengths
``N_i``. Past keys/values are left-padded to ``P = max P_i`` and new tokens right-padded to
``N = max N_i``; the 2-D attention mask marks the real slots and ``position_ids = P_i + j`` keep RoPE
positions exact, so every real token sees exactly its own prefix.

Memory: each stored token costs ``layers * 2 * kv_heads * head_dim`` values: 57 KB in bf16 for a 7B
Qwen2 PRM, so ``prefix_cache_tokens=65536`` holds ~3.7 GB there. Entries are views into their batch's
cache tensors (no copies), so a batch's tensors live until its last entry is evicted; the real
footprint can exceed the token budget by the padding and shared prefixes of those batches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["BLOCK", "MIN_FILL", "PrefixCache"]

BLOCK = 16
MIN_FILL = 0.7  # new parts vary a lot (one step vs a whole item): cap padding at ~1/0.7 of real tokens


@dataclass
class _Entry:
    ids: list[int]
    keys: list[
        torch.Tensor
    ]  # per layer (kv_heads, L, head_dim): views into a batch's cache tensors
    values: list[torch.Tensor]
    probs: list[float]  # the head's output at every position (L,)
    hashes: list[int]
    key: int = 0


def _block_hashes(ids: Sequence[int]) -> list[int]:
    hashes, chain = [], 0
    for start in range(0, len(ids) - len(ids) % BLOCK, BLOCK):
        chain = hash((chain, tuple(ids[start : start + BLOCK])))
        hashes.append(chain)
    return hashes


class PrefixCache:
    """An LRU store of (token ids -> per-layer KV + hidden states) and the incremental scorer using it.

    Args:
        prm: the loaded PRM (:class:`prmkit.models.backends._loading.LoadedPRM`); its body must be a
            causal decoder that accepts ``cache=`` (transformers >= 5) or ``past_key_values=``.
        capacity_tokens: total stored tokens before the least recently used items are evicted.
        max_batch_tokens: budget of (rows x longest new part) per incremental forward.
    """

    def __init__(
        self, prm: Any, capacity_tokens: int = 65536, max_batch_tokens: int = 16384
    ) -> None:
        if capacity_tokens <= 0:
            raise ValueError(f"prefix_cache_tokens must be > 0, got {capacity_tokens}")
        self.prm = prm
        self.capacity_tokens = capacity_tokens
        self.max_batch_tokens = max_batch_tokens
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._index: dict[int, int] = {}  # block-chain hash -> entry id
        self._next_id = 0
        self._stored_tokens = 0
        self.last_tokens_run = 0
        self.hits = 0

    def check_causal(self) -> None:
        """Raise ``ValueError`` unless the body is causal (prefix hidden states ignore later tokens).

        A bidirectional body (e.g. a BERT token classifier) would make cached prefixes wrong.
        """
        if not self.prm.causal:
            raise ValueError(
                f"prefix_cache=True needs a causal (decoder) model, but {type(self.prm.model).__name__}'s "
                "hidden states depend on later tokens; drop prefix_cache for this checkpoint"
            )

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ store
    def _lookup(self, ids: Sequence[int]) -> tuple[_Entry | None, int]:
        """The stored entry sharing the longest token prefix with ``ids``, and that prefix's length."""
        best: _Entry | None = None
        matched = 0
        for block, chain in enumerate(_block_hashes(ids)):
            entry_id = self._index.get(chain)
            entry = None if entry_id is None else self._entries.get(entry_id)
            if entry is None or entry.ids[: (block + 1) * BLOCK] != list(
                ids[: (block + 1) * BLOCK]
            ):
                break
            best, matched = entry, (block + 1) * BLOCK
        if (
            best is None
        ):  # no whole block in common: try the most recent entries for a short prefix
            candidates = list(self._entries.values())[-8:]
        else:
            candidates = [best]
        for entry in candidates:
            n = matched
            limit = min(len(entry.ids), len(ids))
            while n < limit and entry.ids[n] == ids[n]:
                n += 1
            if n > matched or (best is None and n > 0):
                best, matched = entry, n
        if best is not None:
            self._entries.move_to_end(best.key)
        return best, matched

    def _store(
        self,
        ids: list[int],
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        probs: list[float],
    ) -> None:
        entry_id = self._next_id
        entry = _Entry(
            ids=ids,
            keys=keys,
            values=values,
            probs=probs,
            hashes=_block_hashes(ids),
            key=entry_id,
        )
        self._next_id += 1
        self._entries[entry_id] = entry
        for chain in entry.hashes:
            self._index[chain] = entry_id
        self._stored_tokens += len(ids)
        while self._stored_tokens > self.capacity_tokens and len(self._entries) > 1:
            old_id, old = self._entries.popitem(last=False)
            self._stored_tokens -= len(old.ids)
            for chain in old.hashes:
                if self._index.get(chain) == old_id:
                    del self._index[chain]

    # ------------------------------------------------------------------ scoring
    def score(
        self, sequences: Sequence[list[int]], positions: Sequence[list[int]]
    ) -> list[list[float]]:
        """Score items (token ids + read positions), reusing cached prefixes; stores every item.

        Returns:
            Per item, the head's probability at each of its positions (same as a full forward).
        """
        from prmkit.models.backends._batching import token_budget_batches

        self.last_tokens_run = 0
        plans = []
        for ids in sequences:
            entry, shared = self._lookup(ids)
            shared = min(
                shared, len(ids) - 1
            )  # run at least one token (it also refreshes the store)
            if entry is not None and shared > 0:
                self.hits += 1
            plans.append((entry if shared > 0 else None, shared))
        probs_of: list[list[float]] = [[] for _ in sequences]
        news = [len(ids) - shared for ids, (_, shared) in zip(sequences, plans)]
        for batch in token_budget_batches(
            news, self.max_batch_tokens, min_fill=MIN_FILL
        ):
            rows = self._forward(
                [sequences[i] for i in batch], [plans[i] for i in batch]
            )
            for i, probs in zip(batch, rows):
                probs_of[i] = probs
        return [[probs_of[i][p] for p in pos] for i, pos in enumerate(positions)]

    def _forward(
        self, sequences: list[list[int]], plans: list[tuple[_Entry | None, int]]
    ) -> list[list[float]]:
        """Run the new parts of a batch on top of their cached prefixes; store them; return per-token head outputs.

        The head runs on every new token (one batched call), so later items read positions inside a
        cached prefix from the stored outputs instead of hidden states. Tensor ops per batch are kept
        to O(layers) allocations plus O(layers * rows) copies: on a busy CPU each small op costs
        milliseconds of thread synchronisation.
        """
        from transformers import DynamicCache

        body, device = self.prm.body, self.prm.body.device
        past = max(shared for _, shared in plans)
        new = max(len(ids) - shared for ids, (_, shared) in zip(sequences, plans))
        batch = len(sequences)
        input_ids = torch.full((batch, new), self.prm.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, past + new), dtype=torch.long)
        starts = torch.tensor([shared for _, shared in plans])
        for row, (ids, (_, shared)) in enumerate(zip(sequences, plans)):
            tail = ids[shared:]
            input_ids[row, : len(tail)] = torch.as_tensor(tail)
            mask[row, past - shared : past + len(tail)] = 1
        position_ids = (
            starts[:, None] + torch.arange(new)[None, :]
        )  # (B, new): exact RoPE positions
        input_ids, mask, position_ids = (
            input_ids.to(device),
            mask.to(device),
            position_ids.to(device),
        )
        self.last_tokens_run += sum(
            len(ids) - shared for ids, (_, shared) in zip(sequences, plans)
        )
        if past > 0:
            like = next(entry for entry, _ in plans if entry is not None)
            layers = []
            for layer in range(len(like.keys)):
                kv = []
                for tensors in (
                    [e.keys[layer] if e else None for e, _ in plans],
                    [e.values[layer] if e else None for e, _ in plans],
                ):
                    # each row's cached prefix as (shared, kv_heads, head_dim); one left-padding op per layer
                    rows = [
                        t[:, :shared].transpose(0, 1)
                        if t is not None
                        else like.keys[layer][:, :0].transpose(0, 1)
                        for t, (_, shared) in zip(tensors, plans)
                    ]
                    padded = torch.nn.utils.rnn.pad_sequence(
                        rows, batch_first=True, padding_side="left"
                    )
                    kv.append(padded.transpose(1, 2))  # (B, kv_heads, past, head_dim)
                layers.append((kv[0], kv[1]))
            cache = DynamicCache(ddp_cache_data=layers, config=body.config)
        else:
            cache = DynamicCache(config=body.config)
        output = body(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            use_cache=True,
            cache=cache,
        )
        cache = (
            output.cache
            if getattr(output, "cache", None) is not None
            else output.past_key_values
        )
        hidden = output.last_hidden_state  # (B, new, H)
        new_probs = (
            self.prm.head(hidden.reshape(batch * new, -1)).view(batch, new).tolist()
        )
        results = []
        for row, (ids, (entry, shared)) in enumerate(zip(sequences, plans)):
            n = len(ids) - shared
            slots = slice(past - shared, past + n)
            keys = [
                layer.keys[row, :, slots] for layer in cache.layers
            ]  # views, no copies
            values = [layer.values[row, :, slots] for layer in cache.layers]
            probs = (entry.probs[:shared] if entry is not None else []) + new_probs[
                row
            ][:n]
            self._store(list(ids), keys, values, probs)
            results.append(probs)
        return results
