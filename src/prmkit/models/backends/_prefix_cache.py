"""Incremental prefix scoring for causal PRMs: reuse the key/value cache of recently scored prefixes.

Beam search and MCTS score ``(question, steps[:k] + [new])`` over and over; everything before the new
step was already run. A causal body's hidden state at position t depends only on tokens <= t, so
for a new item we find the stored item sharing the longest token prefix with it, take that item's
per-layer keys/values and hidden states for the shared prefix, and run only the remaining tokens.

Lookup is by chained hashes of 16-token blocks (as in vLLM's prefix caching) and then token by token
inside the last matching block, so the match is the exact longest common prefix with one stored item.
Formats whose earlier render is not a strict prefix (Qwen2.5-Math-PRM ends with ``<|im_end|>``) still
share everything up to the divergence.

Batched incremental forward: the rows of a batch have different cached lengths ``P_i`` and new lengths
``N_i``. Past keys/values are left-padded to ``P = max P_i`` and new tokens right-padded to
``N = max N_i``; the 2-D attention mask marks the real slots and ``position_ids = P_i + j`` keep RoPE
positions exact, so every real token sees exactly its own prefix.

Memory: each stored token costs ``layers * 2 * kv_heads * head_dim`` values (+ ``hidden`` for the
hidden state): 57 KB in bf16 for a 7B Qwen2 PRM, so ``prefix_cache_tokens=65536`` holds ~3.7 GB there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PrefixCache", "BLOCK"]

BLOCK = 16


@dataclass
class _Entry:
    ids: list[int]
    keys: list[torch.Tensor]  # per layer (kv_heads, L, head_dim)
    values: list[torch.Tensor]
    hidden: torch.Tensor  # (L, H)
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

    def __init__(self, prm: Any, capacity_tokens: int = 65536, max_batch_tokens: int = 16384) -> None:
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

        A bidirectional body (e.g. a BERT token classifier) would make cached prefixes wrong, so this
        runs once at load time: hidden states of 4 tokens alone must equal those inside 8 tokens.
        """
        body = self.prm.body
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(0, self.prm.vocab_size, (1, 8), generator=generator).to(body.device)
        with torch.inference_mode():
            long = body(input_ids=ids).last_hidden_state[0, :4].float()
            short = body(input_ids=ids[:, :4]).last_hidden_state[0].float()
        if not torch.allclose(long, short, atol=1e-3, rtol=1e-2):
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
            if entry is None or entry.ids[: (block + 1) * BLOCK] != list(ids[: (block + 1) * BLOCK]):
                break
            best, matched = entry, (block + 1) * BLOCK
        if best is None:  # no whole block in common: try the most recent entries for a short prefix
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

    def _store(self, ids: list[int], keys: list[torch.Tensor], values: list[torch.Tensor], hidden: torch.Tensor) -> None:
        entry_id = self._next_id
        entry = _Entry(ids=ids, keys=keys, values=values, hidden=hidden, hashes=_block_hashes(ids), key=entry_id)
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
    def score(self, sequences: Sequence[list[int]], positions: Sequence[list[int]]) -> list[list[float]]:
        """Score items (token ids + read positions), reusing cached prefixes; stores every item.

        Returns:
            Per item, the head's probability at each of its positions (same as a full forward).
        """
        from prmkit.models.backends._batching import token_budget_batches

        self.last_tokens_run = 0
        plans = []
        for ids in sequences:
            entry, shared = self._lookup(ids)
            shared = min(shared, len(ids) - 1)  # run at least one token (it also refreshes the store)
            if entry is not None and shared > 0:
                self.hits += 1
            plans.append((entry if shared > 0 else None, shared))
        hidden_of: list[torch.Tensor | None] = [None] * len(sequences)
        news = [len(ids) - shared for ids, (_, shared) in zip(sequences, plans)]
        for batch in token_budget_batches(news, self.max_batch_tokens):
            rows = self._forward([sequences[i] for i in batch], [plans[i] for i in batch])
            for i, hidden in zip(batch, rows):
                hidden_of[i] = hidden
        out: list[list[float]] = []
        gathered = [hidden_of[i][torch.as_tensor(positions[i], device=hidden_of[i].device)] for i in range(len(sequences))]
        flat = self.prm.head(torch.cat(gathered)).tolist() if gathered else []
        start = 0
        for pos in positions:
            out.append(flat[start : start + len(pos)])
            start += len(pos)
        return out

    def _forward(self, sequences: list[list[int]], plans: list[tuple[_Entry | None, int]]) -> list[torch.Tensor]:
        """Run the new parts of a batch on top of their cached prefixes; store and return full hidden states."""
        from transformers import DynamicCache

        body, device = self.prm.body, self.prm.body.device
        past = max(shared for _, shared in plans)
        new = max(len(ids) - shared for ids, (_, shared) in zip(sequences, plans))
        batch = len(sequences)
        input_ids = torch.full((batch, new), self.prm.pad_id, dtype=torch.long, device=device)
        position_ids = torch.zeros((batch, new), dtype=torch.long, device=device)
        mask = torch.zeros((batch, past + new), dtype=torch.long, device=device)
        for row, (ids, (_, shared)) in enumerate(zip(sequences, plans)):
            tail = ids[shared:]
            input_ids[row, : len(tail)] = torch.as_tensor(tail, device=device)
            position_ids[row] = shared + torch.arange(new, device=device)
            mask[row, past - shared : past + len(tail)] = 1
        self.last_tokens_run += sum(len(ids) - shared for ids, (_, shared) in zip(sequences, plans))
        kwargs: dict[str, Any] = {}
        if past > 0:
            like = next(entry for entry, _ in plans if entry is not None)
            layers = []
            for layer in range(len(like.keys)):
                ks, vs = [], []
                for entry, shared in plans:
                    k = entry.keys[layer][:, :shared] if entry is not None else None
                    v = entry.values[layer][:, :shared] if entry is not None else None
                    ks.append(_left_pad(k, past, like.keys[layer]))
                    vs.append(_left_pad(v, past, like.values[layer]))
                layers.append((torch.stack(ks), torch.stack(vs)))  # (B, kv_heads, past, head_dim)
            kwargs["cache"] = DynamicCache(ddp_cache_data=layers, config=body.config)
        else:
            kwargs["cache"] = DynamicCache(config=body.config)
        output = body(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, use_cache=True, **kwargs)
        cache = output.cache if getattr(output, "cache", None) is not None else output.past_key_values
        hidden_new = output.last_hidden_state  # (B, new, H)
        results = []
        for row, (ids, (entry, shared)) in enumerate(zip(sequences, plans)):
            n = len(ids) - shared
            slots = slice(past - shared, past + n)
            keys = [cache.layers[layer].keys[row, :, slots].clone() for layer in range(len(cache.layers))]
            values = [cache.layers[layer].values[row, :, slots].clone() for layer in range(len(cache.layers))]
            prefix_hidden = entry.hidden[:shared] if entry is not None else hidden_new.new_zeros((0, hidden_new.shape[-1]))
            hidden = torch.cat([prefix_hidden, hidden_new[row, :n]])
            self._store(list(ids), keys, values, hidden)
            results.append(hidden)
        return results


def _left_pad(tensor: torch.Tensor | None, length: int, like: torch.Tensor) -> torch.Tensor:
    """``(heads, L, dim)`` -> ``(heads, length, dim)`` with zeros in front (masked slots); None -> zeros."""
    if tensor is None:
        return like.new_zeros((like.shape[0], length, like.shape[2]))
    if tensor.shape[1] == length:
        return tensor
    pad = tensor.new_zeros((tensor.shape[0], length - tensor.shape[1], tensor.shape[2]))
    return torch.cat([pad, tensor], dim=1)
