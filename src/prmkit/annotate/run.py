"""Run an annotator over many problems, shard by shard, resuming where a previous run stopped.

    >>> from prmkit.annotate import MCAnnotator, SolutionSampler, AnnotationUnit, run_sharded  # doctest: +SKIP
    >>> run = run_sharded(MCAnnotator(gen, task, n=8), [AnnotationUnit(p) for p in problems],   # doctest: +SKIP
    ...                   "labels/mc", sampler=SolutionSampler(gen, task, samples=4))
    >>> run.shards[0], run.rollouts                                                          # doctest: +SKIP
    (PosixPath('labels/mc/shard-00000.jsonl'), 5120)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.annotate._base import AnnotationUnit, Annotator
from prmkit.annotate._shards import ShardStore
from prmkit.annotate.sample import SolutionSampler

__all__ = ["AnnotationRun", "run_sharded"]


@dataclass
class AnnotationRun:
    """What a (possibly resumed) labelling job produced.

    Attributes:
        out_dir: the output folder.
        shards: every finished shard file, in order (this run's and earlier runs').
        records: labelled solutions in all finished shards.
        rollouts: label rollouts spent on all finished shards (earlier runs included).
        samples: solutions sampled for all finished shards.
        shards_written: shards this run wrote.
        shards_skipped: shards found finished and skipped.
        calls: ``Generator.complete`` calls this run made (sampling and labelling).
        complete: whether every shard is finished.
    """

    out_dir: Path
    shards: list[Path] = field(default_factory=list)
    records: int = 0
    rollouts: int = 0
    samples: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    calls: int = 0
    complete: bool = False


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[object]:
    if not enabled:
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda advance=1: bar.advance(task_id, advance)


def run_sharded(
    annotator: Annotator,
    units: Sequence[AnnotationUnit],
    out_dir: str | os.PathLike[str],
    *,
    shard_size: int = 16,
    sampler: SolutionSampler | None = None,
    max_shards: int | None = None,
    progress: bool = True,
    job: dict[str, Any] | None = None,
) -> AnnotationRun:
    """Label ``units`` shard by shard into ``out_dir``; finished shards are skipped on a rerun.

    Each shard's units are labelled together (their rollouts share ``complete`` calls); units
    without solutions get them from ``sampler`` first when the annotator needs them. Sampling and
    rollout seeds derive from the shard number, so a resumed run writes what an uninterrupted one
    would have (given a generator that is deterministic per seed).

    Args:
        annotator: e.g. :class:`~prmkit.annotate.MCAnnotator`.
        units: problems (and optionally their solutions); ids must be unique.
        out_dir: output folder (see :mod:`prmkit.annotate._shards` for its layout).
        shard_size: units per shard.
        sampler: writes solutions for units that have none.
        max_shards: write at most this many new shards, then stop (``complete`` tells if all are done).
        progress: show a progress bar over units.
        job: what else determines the labels (task, its options, policy path, split); stored in
            ``run.json`` and checked on resume like the annotator's settings.

    Returns:
        An :class:`AnnotationRun` with the shard paths and the rollouts spent.

    Raises:
        ValueError: ``out_dir`` holds a different run, duplicate problem ids, or units need
            solutions and no ``sampler`` was given.
    """
    config = annotator.config_dict()
    if job:
        config["job"] = job
    if sampler is not None and annotator.needs_solutions:
        config.update(sampler.config_dict())
    store = ShardStore(out_dir, config=config, unit_ids=[u.problem.id for u in units], shard_size=shard_size)
    if annotator.needs_solutions and sampler is None:
        missing = [u.problem.id for u in units if u.solutions is None]
        if missing:
            raise ValueError(
                f"{annotator.name}: {len(missing)} problem(s) have no solutions (first: {missing[0]!r}); "
                "pass sampler=SolutionSampler(generator, task) or give every unit its solutions"
            )
    run = AnnotationRun(out_dir=store.out_dir)
    calls_before = annotator.roller.calls + (sampler.roller.calls if sampler else 0)
    todo = [shard for shard in range(store.num_shards) if not store.is_done(shard)]
    run.shards_skipped = store.num_shards - len(todo)
    if max_shards is not None:
        todo = todo[:max_shards]
    done_units = len(units) - sum(len(store.units_of(s)) for s in range(store.num_shards) if not store.is_done(s))
    with _progress(progress, len(units), f"{annotator.name} labels") as advance:
        advance(done_units)  # type: ignore[operator]
        for shard in todo:
            # Copies: sampled solutions go into these, never into the caller's units.
            shard_units = [AnnotationUnit(units[i].problem, units[i].solutions) for i in store.units_of(shard)]
            rollouts_before = annotator.roller.rollouts
            samples_before = sampler.samples_drawn if sampler else 0
            if annotator.needs_solutions and sampler is not None:
                needing = [u for u in shard_units if u.solutions is None]
                for unit, solutions in zip(needing, sampler([u.problem for u in needing], key=shard)):
                    unit.solutions = solutions
            records = annotator.annotate(shard_units, key=shard, on_done=lambda _: advance())  # type: ignore[operator]
            store.write(
                shard,
                records,
                {
                    "rollouts": annotator.roller.rollouts - rollouts_before,
                    "samples": (sampler.samples_drawn if sampler else 0) - samples_before,
                    "records": len(records),
                },
            )
            run.shards_written += 1
    run.calls = annotator.roller.calls + (sampler.roller.calls if sampler else 0) - calls_before
    for shard in range(store.num_shards):
        if store.is_done(shard):
            stats = store.stats(shard)
            run.shards.append(store.path(shard))
            run.records += int(stats.get("records", 0))
            run.rollouts += int(stats.get("rollouts", 0))
            run.samples += int(stats.get("samples", 0))
    run.complete = len(run.shards) == store.num_shards
    return run
