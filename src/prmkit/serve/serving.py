"""The scoring logic behind ``prmkit serve``: a fair dynamic batcher with a bounded queue.

Each request becomes a job holding its items. One worker builds every ``scorer.score`` call: it
waits up to ``max_wait_ms`` for a batch to fill, then takes items from all waiting jobs in turn
(an equal share each, the rest to whoever still has items), so a 1-item request that arrives while
a 5,000-item request is being scored rides in the very next batch instead of waiting behind it.
The queue is bounded in items: a request that does not fit is refused at once (503, Retry-After).

A job can be cancelled (client gone, deadline passed): its items not yet taken are dropped, so at
most the batch already running is wasted. When a batch fails, only the guilty job fails: an error
that names ``item k`` (prmkit's scorers do) fails the job owning that position, naming the item by
its index in that request, and the rest is scored again at once; any other error splits the batch
in two and retries each half, so a bad item costs O(log n) extra calls, not one call per request.
The scorer runs in a worker thread, one call at a time (it need not be thread-safe), under
``scorer_lock``, which the token guard also holds while it tokenizes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.models import Scorer, ScoringItem
from prmkit.serve.errors import ApiError

__all__ = ["Job", "ItemError", "ScorerOutputError", "ScoringService"]

logger = logging.getLogger("prmkit.serve")

_NAMED_ITEM = re.compile(r"\bitem (\d+)\b")
Scores = list[list[float | None]]


class ScorerOutputError(RuntimeError):
    """The scorer returned the wrong number of scores or a non-finite one (a server-side bug: 500)."""


class ItemError(ValueError):
    """The scorer rejected one item of a request; ``index`` is its position in that request."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(eq=False)
class Job:
    """One request's items on their way through the batcher."""

    request_id: str
    items: list[ScoringItem]
    future: asyncio.Future[Scores] = field(repr=False)
    results: list[list[float | None] | None] = field(default_factory=list, repr=False)
    taken: int = 0  # items handed to a batch so far
    scored: int = 0  # items with results
    cancelled: bool = False
    tokens_run: int = 0  # PRM tokens run for this job (its share of each batch; 0 if the scorer does not count)

    @property
    def remaining(self) -> int:
        return len(self.items) - self.taken


@dataclass(eq=False)
class _Piece:
    """A contiguous run ``items[start:end]`` of one job inside a batch."""

    job: Job
    start: int
    end: int

    @property
    def items(self) -> list[ScoringItem]:
        return self.job.items[self.start : self.end]


class ScoringService:
    """Wraps a :class:`~prmkit.models.Scorer` with fair dynamic batching and a bounded queue.

    Args:
        scorer: any scorer (``load_scorer(...)``).
        name: what ``/health`` reports as the scorer.
        max_batch_items: most items per ``scorer.score`` call (merged across requests).
        chunk_items: most items of ONE request per call (default: ``max_batch_items``). Smaller
            chunks bound how long a newcomer waits behind the call in flight (fairness) at some
            cost in the throughput of a lone large request.
        chunk_ms: time budget of one request's chunk: its size is also capped at the measured
            items/s times this (so a chunk takes about this long whatever the model and hardware);
            0 turns the cap off. Calls merging many requests are still up to ``max_batch_items``.
        max_wait_ms: how long the first request of a batch waits for others to join it.
        max_queue_items: most items waiting to be scored; a request beyond it gets 503.
        stall_after_s: a batch running longer than this makes :meth:`ready` false.

    Example:
        >>> service = ScoringService(load_scorer("dummy", value=0.7))          # doctest: +SKIP
        >>> await service.score([("1+1?", ["1+1=2"])])                        # doctest: +SKIP
        [[0.7]]
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        name: str = "scorer",
        max_batch_items: int = 64,
        max_wait_ms: float = 5.0,
        chunk_items: int | None = None,
        chunk_ms: float = 0.0,
        max_queue_items: int = 16384,
        stall_after_s: float = 60.0,
    ) -> None:
        if max_batch_items < 1:
            raise ValueError(f"max_batch_items must be >= 1, got {max_batch_items}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_queue_items < 1:
            raise ValueError(f"max_queue_items must be >= 1, got {max_queue_items}")
        self.scorer = scorer
        self.name = name
        self.max_batch_items = max_batch_items
        self.chunk_items = min(chunk_items or max_batch_items, max_batch_items)
        if self.chunk_items < 1:
            raise ValueError(f"chunk_items must be >= 1, got {chunk_items}")
        if chunk_ms < 0:
            raise ValueError(f"chunk_ms must be >= 0, got {chunk_ms}")
        self.chunk_s = chunk_ms / 1000.0
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_items = max_queue_items
        self.stall_after = stall_after_s
        self.batches = 0  # scorer.score calls made
        self.requests = 0  # jobs finished (scored or failed)
        self.queued_items = 0  # items accepted but not yet handed to a batch
        self.batch_started: float | None = None  # monotonic start of the batch in flight
        self.on_batch: Any = None  # callback(items, seconds) for metrics
        self._jobs: list[Job] = []
        self._arrived: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rate = 0.0  # items per second, moving average (for Retry-After)
        # held around every scorer call; the token guard takes it too, since tokenizers are not thread-safe
        self.scorer_lock = threading.Lock()

    # -- requests -------------------------------------------------------------------------------

    def submit(self, items: Sequence[ScoringItem], request_id: str = "-") -> Job:
        """Queue one request's (already validated) items and return its job; await ``job.future``.

        Raises:
            ApiError: 503 ``queue_full`` with ``Retry-After`` when the items do not fit the queue.
        """
        self._ensure_worker()
        if self.queued_items + len(items) > self.max_queue_items:
            wait = max(1, math.ceil(self.queued_items / self._rate)) if self._rate > 0 else 1
            raise ApiError(
                503,
                "queue_full",
                f"the server has {self.queued_items} items waiting (limit {self.max_queue_items}); retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        loop = asyncio.get_running_loop()
        job = Job(request_id, [(q, list(s)) for q, s in items], loop.create_future())
        job.results = [None] * len(job.items)
        if not job.items:
            job.future.set_result([])
            return job
        self._jobs.append(job)
        self.queued_items += len(job.items)
        assert self._arrived is not None
        self._arrived.set()
        return job

    async def score(self, items: Sequence[ScoringItem], request_id: str = "-") -> Scores:
        """Score one request's items, batched fairly with whatever else is waiting."""
        job = self.submit(items, request_id)
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            self.cancel(job)
            raise

    def cancel(self, job: Job) -> None:
        """Drop the job's items not yet taken (its client left or its deadline passed)."""
        if job.cancelled:
            return
        job.cancelled = True
        if job in self._jobs:
            self._jobs.remove(job)
            self.queued_items -= job.remaining
        if not job.future.done():
            job.future.cancel()

    def ready(self) -> tuple[bool, str]:
        """Whether the worker can take work: alive, the queue not full, no batch stuck past ``stall_after_s``."""
        if self._worker is not None and self._worker.done():
            return False, "the batching worker has stopped"
        if self.queued_items >= self.max_queue_items:
            return False, f"the queue is full ({self.queued_items} items waiting)"
        if self.batch_started is not None:
            running = time.monotonic() - self.batch_started
            if running > self.stall_after:
                return False, f"a scorer call has been running for {running:.0f} s (stall limit {self.stall_after:g} s)"
        return True, "ok"

    async def close(self) -> None:
        """Stop the worker; requests still waiting fail with 503 ``shutting_down``."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, RuntimeError):
                pass
        self._worker = None
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(ApiError(503, "shutting_down", "the server is shutting down; retry elsewhere"))
        self._jobs.clear()
        self.queued_items = 0

    # -- the batching worker --------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._loop is not loop:
            self._loop = loop
            self._arrived = asyncio.Event()
            self._jobs = [job for job in self._jobs if not job.future.done()]
            self._worker = loop.create_task(self._run_forever())

    async def _wait_for_batch(self) -> None:
        """Block until there is work, then up to ``max_wait`` more while the batch is not full."""
        assert self._arrived is not None
        while not self._jobs:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while self.queued_items < self.max_batch_items and (left := deadline - loop.time()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                break

    def _take(self) -> list[_Piece]:
        """Fill one batch with equal shares of every waiting job, then rotate the job order."""
        space = self.max_batch_items
        chunk = self.chunk_items
        if self.chunk_s > 0 and self._rate > 0:
            chunk = max(1, min(chunk, int(self._rate * self.chunk_s)))
        pieces: dict[Job, _Piece] = {}
        active = [job for job in self._jobs if job.remaining > 0]
        while space > 0 and active:
            share = max(1, space // len(active))
            for job in list(active):
                piece = pieces.get(job)
                already = 0 if piece is None else piece.end - piece.start
                n = min(share, job.remaining, space, chunk - already)
                if piece is None:
                    pieces[job] = _Piece(job, job.taken, job.taken + n)
                else:
                    piece.end += n
                job.taken += n
                space -= n
                if job.remaining == 0 or already + n >= chunk:
                    active.remove(job)
                if space == 0:
                    break
        taken = sum(p.end - p.start for p in pieces.values())
        self.queued_items -= taken
        self._jobs = [job for job in self._jobs if job.remaining > 0]
        if len(self._jobs) > 1:  # whoever went first this time goes last next time
            self._jobs.append(self._jobs.pop(0))
        return list(pieces.values())

    async def _run_forever(self) -> None:
        while True:
            await self._wait_for_batch()
            pieces = self._take()
            if not pieces:
                continue
            size = sum(p.end - p.start for p in pieces)
            self.batch_started = time.monotonic()
            try:
                outcomes = await asyncio.to_thread(self._score_isolating, pieces)
            finally:
                elapsed = time.monotonic() - self.batch_started
                self.batch_started = None
            self._rate = size / elapsed if self._rate == 0 else 0.8 * self._rate + 0.2 * size / max(elapsed, 1e-6)
            if self.on_batch is not None:
                self.on_batch(size, elapsed)
            for piece, outcome in zip(pieces, outcomes):
                self._deliver(piece, outcome)

    def _deliver(self, piece: _Piece, outcome: Scores | BaseException) -> None:
        job = piece.job
        if job.future.done():  # cancelled or already failed: its results are dropped
            return
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
            self.cancel_remaining(job)
            self.requests += 1
            return
        job.results[piece.start : piece.end] = outcome
        job.scored += piece.end - piece.start
        if job.scored == len(job.items):
            job.future.set_result(job.results)  # type: ignore[arg-type]
            self.requests += 1

    def cancel_remaining(self, job: Job) -> None:
        """Drop a failed job's items still waiting (its answer is already decided)."""
        if job in self._jobs:
            self._jobs.remove(job)
            self.queued_items -= job.remaining
        job.cancelled = True

    # -- in the worker thread -------------------------------------------------------------------

    def _score_isolating(self, pieces: list[_Piece]) -> list[Scores | BaseException]:
        """Score the pieces in one call; on failure, fail only the guilty piece (see module docstring)."""
        live = [p for p in pieces if not p.job.cancelled]
        outcomes: dict[_Piece, Scores | BaseException] = {
            p: ApiError(499, "cancelled", "the request was cancelled") for p in pieces if p.job.cancelled
        }
        self._score_into(live, outcomes)
        return [outcomes[p] for p in pieces]

    def _score_into(self, pieces: list[_Piece], outcomes: dict[_Piece, Scores | BaseException]) -> None:
        if not pieces:
            return
        flat = [item for p in pieces for item in p.items]
        try:
            self.batches += 1
            with self.scorer_lock:
                before = getattr(self.scorer, "tokens_run", None)
                out = self.scorer.score(flat)
                after = getattr(self.scorer, "tokens_run", None)
        except Exception as err:
            guilty = self._named_piece(pieces, err)
            if guilty is not None:
                piece, index = guilty
                outcomes[piece] = ItemError(index, _rename_item(str(err), index))
                self._score_into([p for p in pieces if p is not piece], outcomes)
            elif len(pieces) == 1:
                outcomes[pieces[0]] = err
            else:
                half = len(pieces) // 2
                self._score_into(pieces[:half], outcomes)
                self._score_into(pieces[half:], outcomes)
            return
        if len(out) != len(flat):
            bad = ScorerOutputError(f"scorer {self.name!r} returned {len(out)} score lists for {len(flat)} items")
            outcomes.update({p: bad for p in pieces})
            return
        if isinstance(before, int) and isinstance(after, int):
            _share_tokens(pieces, after - before)
        offset = 0
        for piece in pieces:
            n = piece.end - piece.start
            outcomes[piece] = self._check_rows(piece, out[offset : offset + n])
            offset += n

    def _named_piece(self, pieces: list[_Piece], err: Exception) -> tuple[_Piece, int] | None:
        """The piece and in-request index of the item a ``ValueError("item k: ...")`` names, if any."""
        match = _NAMED_ITEM.search(str(err)) if isinstance(err, ValueError) else None
        if match is None:
            return None
        position = int(match.group(1))
        for piece in pieces:
            n = piece.end - piece.start
            if position < n:
                return piece, piece.start + position
            position -= n
        return None

    def _check_rows(self, piece: _Piece, rows: Sequence[Sequence[Any]]) -> Scores | BaseException:
        checked: Scores = []
        for k, ((_, steps), row) in enumerate(zip(piece.items, rows)):
            if len(row) != len(steps):
                return ScorerOutputError(
                    f"scorer {self.name!r} returned {len(row)} scores for items[{piece.start + k}] with {len(steps)} steps"
                )
            values = [None if s is None else float(s) for s in row]
            if any(v is not None and not math.isfinite(v) for v in values):
                return ScorerOutputError(
                    f"scorer {self.name!r} returned a non-finite score {values} for items[{piece.start + k}]"
                )
            checked.append(values)
        return checked


def _share_tokens(pieces: list[_Piece], tokens: int) -> None:
    """Split one call's PRM tokens over its pieces by their text length (exact for a call of one piece)."""
    sizes = [sum(len(q) + sum(len(s) for s in steps) for q, steps in p.items) or 1 for p in pieces]
    total, given = sum(sizes), 0
    for k, (piece, size) in enumerate(zip(pieces, sizes)):
        share = tokens - given if k == len(pieces) - 1 else tokens * size // total
        piece.job.tokens_run += share
        given += share


def _rename_item(message: str, index: int) -> str:
    """Replace the scorer's batch position (``item 16``) by the item's index in its request (``items[80]``)."""
    return _NAMED_ITEM.sub(f"items[{index}]", message, count=1)
