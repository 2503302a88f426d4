"""The ``transformers`` backend: run any PRM family in process, on CPU or GPU.

    >>> from prmkit.models import load_scorer                                   # doctest: +SKIP
    >>> scorer = load_scorer("qwen2.5-math-prm", path="Qwen/Qwen2.5-Math-PRM-7B")  # doctest: +SKIP
    >>> scorer.score([("What is 1+1?", ["1+1=2.", "The answer is \\\\boxed{2}."])])  # doctest: +SKIP
    [[0.98, 0.97]]

How it runs: every item is encoded by its family's format; items are sorted by length and packed
into right-padded batches of at most ``max_batch_tokens`` padded tokens; one body forward per batch
under ``torch.inference_mode``; only the hidden states at step positions go through the head; the
results come back in input order. With ``prefix_cache=True`` (causal bodies) items whose token
prefix was scored recently reuse that prefix's key/value cache and run only their new tokens (see
:mod:`prmkit.models.backends._prefix_cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prmkit.models.families import FamilySpec

__all__ = ["TransformersScorer"]

Truncation = Literal["error", "keep_last_steps"]


@dataclass
class _Prepared:
    """One encoded item: token ids, read positions and which input step each position scores."""

    ids: list[int]
    positions: list[int]
    steps: list[int]


class TransformersScorer:
    """A :class:`~prmkit.models.Scorer` running a PRM family with Hugging Face transformers.

    Args:
        spec: the family (see :mod:`prmkit.models.families`).
        path: checkpoint directory or hub id.
        tokenizer: tokenizer object or path (default: the checkpoint's).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default cuda when available.
        dtype: ``"float32"``, ``"bfloat16"``, ``"float16"``; default float32 on CPU, bfloat16 on GPU.
        max_batch_tokens: padded tokens per forward batch (memory bound; default 16384 on GPU, 2048 on CPU).
        max_length: longest input in tokens; default the model's ``max_position_embeddings``.
        truncation: ``"error"`` (default) rejects a too-long item, naming its index and length;
            ``"keep_last_steps"`` drops the oldest steps until it fits and returns None for them.
        progress: show a progress bar when scoring more than 64 items.
        prefix_cache: reuse key/value caches of recently scored token prefixes (beam search, MCTS).
        prefix_cache_tokens: how many tokens of scored items the LRU prefix cache keeps (memory bound).
        step_separator: token-cls / orm only: override the checkpoint's ``config.step_separator``.

    Raises:
        ValueError: bad options, or a checkpoint/tokenizer that does not fit the family (at load time).
    """

    def __init__(
        self,
        spec: FamilySpec,
        path: str,
        *,
        tokenizer: Any = None,
        device: str | None = None,
        dtype: str | None = None,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        truncation: Truncation = "error",
        progress: bool = True,
        prefix_cache: bool = False,
        prefix_cache_tokens: int = 65536,
        step_separator: str | None = None,
    ) -> None:
        from prmkit.models.backends._loading import (
            load_prm,
            resolve_batch_tokens,
            resolve_device,
            resolve_dtype,
        )
        from prmkit.models.backends._truncation import check_truncation

        check_truncation(truncation)
        self.device = resolve_device(device)
        max_batch_tokens = resolve_batch_tokens(max_batch_tokens, self.device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._prm = load_prm(
            spec,
            path,
            tokenizer=tokenizer,
            device=self.device,
            dtype=self.dtype,
            step_separator=step_separator,
        )
        self.spec = self._prm.spec
        self.tokenizer = self._prm.tokenizer
        self.max_batch_tokens = max_batch_tokens
        self.max_length = max_length or self._prm.max_length
        self.truncation = truncation
        self.progress = progress
        # tokens actually fed through the body (benchmarks and tests read it)
        self.tokens_run = 0
        self._cache = None
        if prefix_cache:
            from prmkit.models.backends._prefix_cache import PrefixCache

            self._cache = PrefixCache(
                self._prm,
                capacity_tokens=prefix_cache_tokens,
                max_batch_tokens=max_batch_tokens,
            )
            self._cache.check_causal()

    # ------------------------------------------------------------------ encoding
    def encode(self, question: str, steps: Sequence[str]) -> Any:
        """The family's :class:`~prmkit.models.formats.EncodedItem` for one item (no truncation)."""
        return self.spec.encode(self.tokenizer, question, list(steps))

    def _prepare(self, index: int, question: str, steps: Sequence[str]) -> _Prepared:
        from prmkit.models.backends._truncation import encode_within

        item, first = encode_within(
            self.encode, index, question, steps, self.max_length, self.truncation
        )
        if item.input_ids and max(item.input_ids) >= self._prm.vocab_size:
            raise ValueError(
                f"item {index}: token id {max(item.input_ids)} is outside the model's vocabulary "
                f"({self._prm.vocab_size}); the tokenizer does not belong to this checkpoint"
            )
        positions = list(item.step_positions)
        scored = list(range(first, len(steps)))
        if self.spec.head == "sequence":  # an ORM scores the whole solution once
            positions, scored = positions[-1:], scored[-1:]
        return _Prepared(ids=list(item.input_ids), positions=positions, steps=scored)

    # ------------------------------------------------------------------ scoring
    def score(
        self, items: Sequence[tuple[str, Sequence[str]]]
    ) -> list[list[float | None]]:
        """P(step correct) for every step of every item, in input order.

        Args:
            items: ``(question, steps)`` pairs.

        Returns:
            One list per item, one float in [0, 1] per step (None for steps dropped by
            ``truncation="keep_last_steps"`` and for an ORM's non-final steps).

        Raises:
            ValueError: an item is malformed or too long (names the item index).
        """
        import torch

        from prmkit.models.backends._progress import progress_bar

        results: list[list[float | None]] = [[None] * len(steps) for _, steps in items]
        todo = [i for i, (_, steps) in enumerate(items) if len(steps) > 0]
        prepared = {i: self._prepare(i, items[i][0], items[i][1]) for i in todo}
        with (
            torch.inference_mode(),
            progress_bar(
                len(todo), self.progress, f"scoring ({self.spec.name})"
            ) as advance,
        ):
            if self._cache is not None:
                scores = self._cache.score(
                    [prepared[i].ids for i in todo],
                    [prepared[i].positions for i in todo],
                )
                self.tokens_run += self._cache.last_tokens_run
                for i, values in zip(todo, scores):
                    for step, value in zip(prepared[i].steps, values):
                        results[i][step] = value
                advance(len(todo))
                return results
            lengths = [len(prepared[i].ids) for i in todo]
            from prmkit.models.backends._batching import token_budget_batches

            for batch in token_budget_batches(lengths, self.max_batch_tokens):
                members = [prepared[todo[b]] for b in batch]
                values = self._forward(members)
                for b, member, row in zip(batch, members, values):
                    for step, value in zip(member.steps, row):
                        results[todo[b]][step] = value
                advance(len(batch))
        return results

    def _forward(self, members: list[_Prepared]) -> list[list[float]]:
        """One padded forward of a batch; returns each member's step probabilities."""
        import torch

        from prmkit.models.backends._batching import pad_right

        ids, mask = pad_right([m.ids for m in members], self._prm.pad_id, self.device)
        self.tokens_run += sum(len(m.ids) for m in members)
        # right padding + a causal body: real tokens never attend to the padding after them, so no
        # mask is needed and SDPA runs its fused causal kernel (an explicit mask materialises B*T*T)
        mask = None if self._prm.causal else mask
        hidden = self._prm.body(
            input_ids=ids, attention_mask=mask, use_cache=False
        ).last_hidden_state  # (B, T, H)
        rows = torch.tensor(
            [r for r, m in enumerate(members) for _ in m.positions], device=self.device
        )
        cols = torch.tensor(
            [p for m in members for p in m.positions], device=self.device
        )
        probs = self._prm.head(hidden[rows, cols]).tolist()  # (N,)
        out: list[list[float]] = []
        start = 0
        for m in members:
            out.append(probs[start : start + len(m.positions)])
            start += len(m.positions)
        return out
