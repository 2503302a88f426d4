"""The local engine: one worker in this process, items in order (what prmkit always did)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from prmkit.distributed._base import Done, WorkerFactory

__all__ = ["LocalEngine"]


class LocalEngine:
    """Run every item in this process, one after another, with a single worker.

    Args:
        threads: if given, ``torch.set_num_threads(threads)`` before the worker is built (0 or
            ``None`` leaves torch's setting alone).
    """

    name = "local"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def map(self, make_worker: WorkerFactory, items: Sequence[Any]) -> Iterator[Done]:
        if not items:
            return
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        start = time.perf_counter()
        worker = make_worker()
        setup = time.perf_counter() - start
        for index, item in enumerate(items):
            begin = time.perf_counter()
            value = worker(item)
            yield Done(index, value, "local", time.perf_counter() - begin, setup if index == 0 else 0.0)
