"""Run a sharded job on an engine: workers compute shards, this process writes each as it comes back.

Why the driver writes: a cluster then needs no shared file system, a shard retried after a crash is
written once (the engine yields each item once), and a driver killed mid-job leaves only whole
shards behind (each is written atomically), so a rerun skips them and does exactly the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from prmkit.distributed._base import WorkerFactory
from prmkit.distributed._report import JobReport
from prmkit.io._shards import ShardStore

__all__ = ["carry", "write_shards"]


def _same(value: Any) -> Any:
    return value


def carry(worker: Any) -> WorkerFactory:
    """A picklable factory for a worker built here (whose models load lazily where it runs)."""
    return functools.partial(_same, worker)


def write_shards(
    engine: Any,
    make_worker: WorkerFactory,
    work: Sequence[tuple[ShardStore, int, Any]],
    report: JobReport,
) -> Iterator[tuple[ShardStore, int, dict[str, Any]]]:
    """Run ``(store, shard, payload)`` items through ``engine``; write each result into its store.

    The worker gets ``(shard, payload)`` and returns ``(records, stats)``; ``stats`` may count
    ``rollouts``, ``samples`` and ``tokens``, which go into ``report`` with the shard's units.
    Items of several stores (e.g. one per search method) share one engine run, so a Ray job builds
    its actor pool (and loads its models) once.

    Yields:
        ``(store, shard, stats)`` of each shard once it is on disk, in completion order.
    """
    items = [(shard, payload) for _, shard, payload in work]
    for done in engine.map(make_worker, items):
        store, shard, _ = work[done.index]
        records, stats = done.value
        store.write(shard, records, stats)
        report.add(done, units=len(store.units_of(shard)), rollouts=int(stats.get("rollouts", 0)) +
                   int(stats.get("samples", 0)), tokens=int(stats.get("tokens", 0)))
        yield store, shard, stats
