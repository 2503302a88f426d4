"""The scoring logic behind ``prmkit serve``: validation and dynamic batching.

Requests that arrive within ``max_wait_ms`` of each other are merged into one ``scorer.score`` call
(up to ``max_batch_items`` items), and each request gets its own slice of the results back. When a
merged call fails, each request is scored again on its own, so one bad request (say, a too-long
solution) fails alone instead of failing every client that happened to share its batch. The
scorer runs in a worker thread, one call at a time, so a scorer need not be thread-safe and the
event loop keeps accepting requests while a batch is being scored.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from prmkit.models import Scorer, ScoringItem

__all__ = ["RequestError", "ScorerOutputError", "ScoringService"]


class RequestError(ValueError):
    """The request itself is wrong (an empty step, too many items); answered with HTTP 400."""


class ScorerOutputError(RuntimeError):
    """The scorer returned the wrong number of scores; answered with HTTP 500."""


@dataclass
class _Pending:
    items: list[ScoringItem]
    future: asyncio.Future[list[list[float | None]]] = field(repr=False)


class ScoringService:
    """Wraps a :class:`~prmkit.models.Scorer` with request validation and dynamic batching.

    Args:
        scorer: any scorer (``load_scorer(...)``).
        name: what ``/health`` reports as the scorer.
        max_batch_items: most items per ``scorer.score`` call; a single larger request is scored
            in chunks of this size.
        max_wait_ms: how long the first request of a batch waits for others to join it.

    Example:
        >>> service = ScoringService(load_scorer("dummy", value=0.7))          # doctest: +SKIP
        >>> await service.score([("1+1?", ["1+1=2"])])                        # doctest: +SKIP
        [[0.7]]
    """

    def __init__(self, scorer: Scorer, *, name: str = "scorer", max_batch_items: int = 64, max_wait_ms: float = 5.0) -> None:
        if max_batch_items < 1:
            raise ValueError(f"max_batch_items must be >= 1, got {max_batch_items}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        self.scorer = scorer
        self.name = name
        self.max_batch_items = max_batch_items
        self.max_wait = max_wait_ms / 1000.0
        self.batches = 0  # scorer.score calls made
        self.requests = 0  # requests answered
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._carry: _Pending | None = None

    @staticmethod
    def validate(items: Sequence[ScoringItem]) -> None:
        """Reject empty steps up front, naming the item and step.

        Raises:
            RequestError: an item without steps or with a blank step.
        """
        for i, (_, steps) in enumerate(items):
            if not steps:
                raise RequestError(f"items[{i}].steps is empty; send at least one step per item")
            for k, step in enumerate(steps):
                if not step.strip():
                    raise RequestError(f"items[{i}].steps[{k}] is blank; every step must be non-empty text")

    async def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        """Score one request's items, batched with whatever other requests arrive meanwhile.

        Raises:
            RequestError: invalid items (see :meth:`validate`).
            ScorerOutputError: the scorer returned the wrong number of scores.
            Exception: whatever the scorer raised.
        """
        self.validate(items)
        self._ensure_worker()
        assert self._queue is not None
        future: asyncio.Future[list[list[float | None]]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending([(q, list(s)) for q, s in items], future))
        return await future

    async def close(self) -> None:
        """Stop the batching worker (pending requests are cancelled)."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, RuntimeError):
                pass
        self._worker = None

    # -- the batching worker --------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._loop is not loop:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._carry = None
            self._worker = loop.create_task(self._run_forever())

    async def _collect(self) -> list[_Pending]:
        """Take the next request, then others arriving within ``max_wait`` up to ``max_batch_items``."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        first = self._carry if self._carry is not None else await self._queue.get()
        self._carry = None
        batch, count = [first], len(first.items)
        deadline = loop.time() + self.max_wait
        while count < self.max_batch_items:
            remaining = deadline - loop.time()
            try:
                nxt = self._queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(self._queue.get(), remaining)
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if count + len(nxt.items) > self.max_batch_items:
                self._carry = nxt  # starts the next batch
                break
            batch.append(nxt)
            count += len(nxt.items)
        return batch

    async def _run_forever(self) -> None:
        while True:
            batch = await self._collect()
            flat = [item for pending in batch for item in pending.items]
            try:
                scores = await asyncio.to_thread(self._score_chunks, flat)
            except Exception as err:
                if len(batch) == 1:
                    if not batch[0].future.done():
                        batch[0].future.set_exception(err)
                    continue
                # one request may have broken the merged call: score each alone so only it fails
                for pending in batch:
                    try:
                        alone = await asyncio.to_thread(self._score_chunks, pending.items)
                    except Exception as own_err:
                        if not pending.future.done():
                            pending.future.set_exception(own_err)
                    else:
                        if not pending.future.done():
                            pending.future.set_result(alone)
                self.requests += len(batch)
                continue
            start = 0
            for pending in batch:
                end = start + len(pending.items)
                if not pending.future.done():
                    pending.future.set_result(scores[start:end])
                start = end
            self.requests += len(batch)

    def _score_chunks(self, flat: list[ScoringItem]) -> list[list[float | None]]:
        scores: list[list[float | None]] = []
        for start in range(0, len(flat), self.max_batch_items):
            chunk = flat[start : start + self.max_batch_items]
            self.batches += 1
            out = self.scorer.score(chunk)
            if len(out) != len(chunk):
                raise ScorerOutputError(f"scorer {self.name!r} returned {len(out)} score lists for {len(chunk)} items")
            for k, ((_, steps), item_scores) in enumerate(zip(chunk, out)):
                if len(item_scores) != len(steps):
                    raise ScorerOutputError(
                        f"scorer {self.name!r} returned {len(item_scores)} scores for an item with {len(steps)} steps "
                        f"(batch position {start + k})"
                    )
            for k, item_scores in enumerate(out):
                row = [None if s is None else float(s) for s in item_scores]
                if any(s is not None and not math.isfinite(s) for s in row):
                    raise ScorerOutputError(
                        f"scorer {self.name!r} returned a non-finite score {row} (batch position {start + k}); "
                        "scores must be numbers in [0, 1] or null"
                    )
                scores.append(row)
        return scores

