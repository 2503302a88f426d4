"""Concurrent searches share the policy's batches: one thread merges their ``complete`` calls.

Each request of the search gateway runs its search in its own thread, and a search calls
``Generator.complete`` once per round. :class:`BatchingGenerator` queues every call; one worker
thread takes all the calls waiting (the oldest waits until ``max_wait_ms`` after it was queued, unless
the batch is full, so calls that queued during the previous batch go at once), groups
those with the same sampling settings (``n``, ``stop``, ``max_new_tokens``, ``temperature``,
``seed``), and makes ONE inner ``complete`` call per group over all their prompts, up to
``max_batch_sequences`` (prompts x n) per call; each caller gets its own rows back. While the
policy runs one batch, the next calls pile up and go together in the next one, as the scorer
server's dynamic batching (:mod:`prmkit.serve.serving`) does for PRM items.

A call with no company goes through unchanged, so a lone request gets exactly the samples an
in-process search gets. Merged calls share the batch's random stream (the transformers backend
seeds a whole call), so concurrent answers are as good but not sample for sample the same.
A failing inner call fails every call of its group with that error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from prmkit.generation import Generator
from prmkit.types import Completion

__all__ = ["BatchingGenerator"]

logger = logging.getLogger("prmkit.serve")

Rows = list[list[Completion]]


@dataclass(eq=False)
class _Call:
    prompts: list[str]
    kwargs: dict[str, Any]
    future: Future[Rows] = field(default_factory=Future)
    queued: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple:
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.kwargs.items()))

    @property
    def sequences(self) -> int:
        return len(self.prompts) * int(self.kwargs.get("n", 1))


class BatchingGenerator:
    """A :class:`~prmkit.generation.Generator` for many threads at once, merging their calls (module docstring).

    Args:
        inner: the policy (any generator; it is only ever called from the worker thread).
        max_wait_ms: how long after it was queued a call waits for others to join its batch.
        max_batch_sequences: most sequences (prompts x n) per inner call; a larger single call
            still goes alone.
        on_batch: ``callback(calls, sequences, seconds)`` after each inner call (metrics).

    Example:
        >>> shared = BatchingGenerator(load_generator("transformers", model=DIR))   # doctest: +SKIP
        >>> # threads call shared.complete(...) as they would the inner generator
    """

    def __init__(
        self,
        inner: Generator,
        *,
        max_wait_ms: float = 5.0,
        max_batch_sequences: int = 512,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        if max_wait_ms < 0 or max_batch_sequences < 1:
            raise ValueError(
                f"BatchingGenerator: need max_wait_ms >= 0 and max_batch_sequences >= 1, got {max_wait_ms}, {max_batch_sequences}"
            )
        self.inner = inner
        self.max_wait = max_wait_ms / 1000.0
        self.max_batch_sequences = max_batch_sequences
        self.on_batch = on_batch
        self.batches = 0  # inner complete() calls made
        self.merged = 0  # callers' calls served by them
        self._queue: list[_Call] = []
        self._cond = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    def complete(self, prompts: Sequence[str], **kwargs: Any) -> Rows:
        """Queue this call, wait for its batch, return its rows (raises what the inner call raised)."""
        if not prompts:
            return []
        call = _Call(list(prompts), dict(kwargs))
        with self._cond:
            if self._closed:
                raise RuntimeError("the policy batcher is closed (the server is shutting down)")
            self._ensure_worker()
            self._queue.append(call)
            self._cond.notify_all()
        return call.future.result()

    def close(self) -> None:
        """Stop the worker after the batch in flight; calls still queued fail."""
        with self._cond:
            self._closed = True
            pending, self._queue = self._queue, []
            self._cond.notify_all()
        for call in pending:
            call.future.set_exception(RuntimeError("the policy batcher closed before this call ran"))

    # -- the worker thread ----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="prmkit-policy-batcher", daemon=True)
            self._worker.start()

    def _take(self) -> list[_Call] | None:
        """The next group to run: same settings, up to ``max_batch_sequences``; None once closed."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            # the oldest call waits up to max_wait (since it was queued) for others, unless the batch is full
            deadline = self._queue[0].queued + self.max_wait
            while (not self._closed and sum(c.sequences for c in self._queue) < self.max_batch_sequences
                   and (left := deadline - time.monotonic()) > 0):
                self._cond.wait(left)
            if self._closed or not self._queue:
                return None if self._closed else []
            first = self._queue[0]
            group, size = [], 0
            for call in list(self._queue):
                if call.key != first.key or (group and size + call.sequences > self.max_batch_sequences):
                    continue
                group.append(call)
                size += call.sequences
                self._queue.remove(call)
            return group

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            if group:
                self._run_group(group)

    def _run_group(self, group: list[_Call]) -> None:
        live = [call for call in group if call.future.set_running_or_notify_cancel()]
        if not live:
            return
        prompts = [p for call in live for p in call.prompts]
        started = time.perf_counter()
        try:
            rows = self.inner.complete(prompts, **live[0].kwargs)
            if len(rows) != len(prompts):
                raise RuntimeError(f"the policy returned {len(rows)} rows for {len(prompts)} prompts")
        except BaseException as err:  # every caller of the group gets the error
            for call in live:
                call.future.set_exception(err)
            return
        finally:
            self.batches += 1
            self.merged += len(live)
            if self.on_batch is not None:
                self.on_batch(len(live), sum(c.sequences for c in live), time.perf_counter() - started)
        offset = 0
        for call in live:
            call.future.set_result(rows[offset : offset + len(call.prompts)])
            offset += len(call.prompts)
