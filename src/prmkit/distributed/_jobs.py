"""Run a sharded job on an engine: workers compute shards, this process writes each as it comes back.

Why the driver writes: a cluster then needs no shared file system, a shard retried after a crash is
written once (the engine yields each item once), and a driver killed mid-job leaves only whole
shards behind (each is written atomically), so a rerun skips them and does exactly the rest.

Two kinds of job use it:

- :func:`run_pending`: the shards are the output (``prmkit annotate``'s folder).
- :func:`run_merged`: one output file (``prmkit score``'s scores, ``prmkit search``'s results); the
  shards are a scratch folder ``<output>.shards/`` that lets a rerun after an interrupt skip the
  finished work. Once every shard is done their rows are merged in input order into the output,
  the same bytes on any engine, and the scratch folder is removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.distributed._base import WorkerFactory
from prmkit.distributed._report import JobReport
from prmkit.io._jsonl import atomic_writer
from prmkit.io._shards import ShardStore

__all__ = ["MergedRun", "Part", "PendingRun", "carry", "item_key", "run_merged", "run_pending", "shards_folder",
           "write_shards"]


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


@dataclass
class PendingRun:
    """What :func:`run_pending` did.

    Attributes:
        written: the stats of each shard this run wrote, in completion order.
        skipped: shards found finished (by an earlier run) and skipped.
        report: the job's :class:`JobReport` (per-worker units, rollouts, tokens, time).
    """

    written: list[dict[str, Any]]
    skipped: int
    report: JobReport


def run_pending(
    engine: Any,
    make_worker: WorkerFactory,
    stores: Sequence[ShardStore],
    payload: Callable[[int, range], Any],
    description: str,
    *,
    max_shards: int | None = None,
    progress: bool = True,
) -> PendingRun:
    """Run the unfinished shards of ``stores`` (one engine run for all) and write each as it finishes.

    Args:
        engine: where shards run (:mod:`prmkit.distributed`).
        make_worker: builds the worker, ``(shard, payload) -> (records, stats)``.
        stores: the shard stores; their finished shards are skipped.
        payload: ``(store index, unit positions of a shard) -> what the worker gets for that shard``.
        description: the progress bar's label.
        max_shards: write at most this many new shards, then stop.
        progress: draw the job's progress bar.
    """
    todo = [(k, store, shard) for k, store in enumerate(stores) for shard in range(store.num_shards)
            if not store.is_done(shard)]
    total = sum(len(store.unit_ids) for store in stores)
    left = sum(len(store.units_of(shard)) for _, store, shard in todo)
    skipped = sum(store.num_shards for store in stores) - len(todo)
    work = [(store, shard, payload(k, store.units_of(shard))) for k, store, shard in todo[:max_shards]]
    report = JobReport(total, description, done=total - left, progress=progress)
    with report:
        written = [stats for _, _, stats in write_shards(engine, make_worker, work, report)]
    return PendingRun(written, skipped, report)


def item_key(index: int, item: Any) -> str:
    """``"<index>:<16 hex of the item's SHA-256>"``: a unit id that names the unit's position and content.

    Example:
        >>> item_key(3, {"question": "1+1?", "steps": ["2"]})
        '3:01f2108ae2d97b8a'
    """
    text = json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)
    return f"{index}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def shards_folder(output: str | os.PathLike[str]) -> Path:
    """The scratch folder of a merged job writing ``output``: ``<output>.shards`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".shards")


@dataclass
class Part:
    """One piece of a merged job: its settings, its units, and what every shard of it carries.

    Attributes:
        config: the settings that determine the part's records (JSON values); a rerun resumes only
            where they, the units and the shard size are the same.
        units: what the worker gets for each unit (a scoring item, a problem), in output order.
        keys: one :func:`item_key` per unit (its position and content hash).
        context: sent with every shard of this part (e.g. the search method and its config).
    """

    config: dict[str, Any]
    units: Sequence[Any]
    keys: Sequence[str]
    context: Any = None


@dataclass
class MergedRun:
    """What :func:`run_merged` did.

    Attributes:
        output: the merged output file (written only when ``complete``).
        rows: each part's rows in unit order (empty unless ``complete``).
        complete: every shard of every part is finished (and ``output`` is written).
        shards_written: shards this run computed.
        shards_skipped: shards found finished by an interrupted earlier run, not recomputed.
        report: the job's :class:`JobReport`.
    """

    output: Path
    rows: list[list[dict[str, Any]]] = field(default_factory=list)
    complete: bool = False
    shards_written: int = 0
    shards_skipped: int = 0
    report: Any = None


def run_merged(
    engine: Any,
    make_worker: WorkerFactory,
    parts: Sequence[Part],
    output: str | os.PathLike[str],
    *,
    shard_size: int,
    description: str,
    dumps: Callable[[Any], str] = json.dumps,
    max_shards: int | None = None,
    progress: bool = True,
) -> MergedRun:
    """Compute ``parts`` shard by shard under ``<output>.shards/``, then merge them into ``output``.

    Each part's shards live in ``<output>.shards/<digest>/``, the digest being that of the part's
    config, unit keys and ``shard_size``: a rerun of the same job after an interrupt finds its
    finished shards and computes only the rest, and a job with other settings or inputs never
    mixes with them. The worker gets ``(shard, (part.context, units of the shard))`` and returns
    ``(records, stats)`` with one JSON record per unit-derived row.

    When every shard is done, ``output`` is written atomically: each part's rows in unit order,
    parts in the given order, one ``dumps(row)`` per line, and ``<output>.shards/`` is removed.
    Every engine yields the same shards, so the output is the same bytes on every engine.

    Args:
        engine: where shards run (default engine of callers: ``LocalEngine()``).
        make_worker: builds the worker (see :func:`carry`).
        parts: the job's parts (e.g. one per search method and N).
        output: the file to write.
        shard_size: units per shard.
        description: the progress bar's label.
        dumps: how a row becomes a line.
        max_shards: compute at most this many new shards, then stop (``output`` is then not written).
        progress: draw the job's progress bar.

    Raises:
        ValueError: ``shard_size < 1``.
    """
    folder = shards_folder(output)
    stores = []
    for part in parts:
        digest = hashlib.sha256(json.dumps([part.config, list(part.keys), shard_size], sort_keys=True).encode())
        stores.append(ShardStore(folder / digest.hexdigest()[:16], config=part.config, unit_ids=part.keys,
                                 shard_size=shard_size))
    pending = run_pending(engine, make_worker, stores,
                          lambda k, positions: (parts[k].context, [parts[k].units[i] for i in positions]),
                          description, max_shards=max_shards, progress=progress)
    run = MergedRun(Path(output), shards_written=len(pending.written), shards_skipped=pending.skipped,
                    report=pending.report)
    run.complete = all(store.is_done(shard) for store in stores for shard in range(store.num_shards))
    if run.complete:
        run.rows = [[row for shard in range(store.num_shards) for row in store.read_rows(shard)] for store in stores]
        with atomic_writer(output) as handle:
            for rows in run.rows:
                handle.writelines(dumps(row) + "\n" for row in rows)
        shutil.rmtree(folder, ignore_errors=True)
    return run
