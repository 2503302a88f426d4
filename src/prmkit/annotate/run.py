"""Run an annotator over many problems, shard by shard, resuming where a previous run stopped.

    >>> from prmkit.annotate import MCAnnotator, SolutionSampler, AnnotationUnit, run_sharded  # doctest: +SKIP
    >>> run = run_sharded(MCAnnotator(gen, task, n=8), [AnnotationUnit(p) for p in problems],   # doctest: +SKIP
    ...                   "labels/mc", sampler=SolutionSampler(gen, task, samples=4))
    >>> run.shards[0], run.rollouts                                                          # doctest: +SKIP
    (PosixPath('labels/mc/shard-00000.jsonl'), 5120)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmkit.annotate._base import AnnotationUnit, Annotator
from prmkit.annotate._shards import ShardStore
from prmkit.annotate.sample import SolutionSampler
from prmkit.distributed._jobs import carry, run_pending
from prmkit.distributed._local import LocalEngine

__all__ = ["AnnotationRun", "run_sharded"]


@dataclass
class AnnotationRun:
    """What a (possibly resumed) labelling job produced.

    Attributes:
        out_dir: the output folder.
        shards: every finished shard file, in order (this run's and earlier runs').
        records: labelled solutions in all finished shards.
        solutions: solutions given to the annotator in all finished shards (``records / solutions`` is
            the kept fraction of a filtering annotator such as ``consensus``; 0 for tree-mode OmegaPRM).
        rollouts: label rollouts spent on all finished shards (earlier runs included).
        samples: solutions sampled for all finished shards.
        shards_written: shards this run wrote.
        shards_skipped: shards found finished and skipped.
        calls: ``Generator.complete`` calls this run made (sampling and labelling).
        complete: whether every shard is finished.
        report: the :class:`~prmkit.distributed.JobReport` of this run (per-worker rollouts, tokens, time).
    """

    out_dir: Path
    shards: list[Path] = field(default_factory=list)
    records: int = 0
    solutions: int = 0
    rollouts: int = 0
    samples: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    calls: int = 0
    complete: bool = False
    report: Any = None


@dataclass
class ShardLabeller:
    """Labels one shard wherever it runs: samples missing solutions, then annotates.

    Its seeds come from the shard number and the configs only (never from the process or the
    worker), so any engine writes the same shard. Sent to Ray workers by pickle: give the annotator
    a :class:`~prmkit.distributed.LazyGenerator` so each worker loads its own policy.
    """

    annotator: Annotator
    sampler: SolutionSampler | None

    def __call__(self, item: tuple[int, list[AnnotationUnit]]) -> tuple[list[Any], dict[str, Any]]:
        """``(shard, units) -> (records, stats)``; stats count rollouts, samples, solutions, records, calls, tokens."""
        shard, shard_units = item
        annotator, sampler = self.annotator, self.sampler
        rollers = [annotator.roller] + ([sampler.roller] if sampler else [])
        before = [(r.calls, r.tokens) for r in rollers]
        rollouts_before = annotator.roller.rollouts
        samples_before = sampler.samples_drawn if sampler else 0
        if annotator.needs_solutions and sampler is not None:
            needing = [u for u in shard_units if u.solutions is None]
            for unit, solutions in zip(needing, sampler([u.problem for u in needing], key=shard)):
                unit.solutions = solutions
        records = annotator.annotate(shard_units, key=shard)
        return records, {
            "rollouts": annotator.roller.rollouts - rollouts_before,
            "samples": (sampler.samples_drawn if sampler else 0) - samples_before,
            "solutions": sum(len(u.solutions or []) for u in shard_units) if annotator.needs_solutions else 0,
            "records": len(records),
            "calls": sum(r.calls - c for r, (c, _) in zip(rollers, before)),
            "tokens": sum(r.tokens - t for r, (_, t) in zip(rollers, before)),
        }


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
    engine: Any = None,
) -> AnnotationRun:
    """Label ``units`` shard by shard into ``out_dir``; finished shards are skipped on a rerun.

    Each shard's units are labelled together (their rollouts share ``complete`` calls); units
    without solutions get them from ``sampler`` first when the annotator needs them. Sampling and
    rollout seeds derive from the shard number, so a resumed run writes what an uninterrupted one
    would have (given a generator that is deterministic per seed).

    Args:
        annotator: e.g. :class:`~prmkit.annotate.MCAnnotator`.
        units: problems (and optionally their solutions); ids must be unique.
        out_dir: output folder (see :mod:`prmkit.io._shards` for its layout).
        shard_size: units per shard.
        sampler: writes solutions for units that have none.
        max_shards: write at most this many new shards, then stop (``complete`` tells if all are done).
        progress: show a progress bar over units.
        job: what else determines the labels (task, its options, policy path, split); stored in
            ``run.json`` and checked on resume like the annotator's settings.
        engine: where shards run (:mod:`prmkit.distributed`); default: the local engine, in this
            process. Any engine writes the same shards; this process writes them as they finish.

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
    # Copies: sampled solutions go into these, never into the caller's units.
    pending = run_pending(
        engine if engine is not None else LocalEngine(), carry(ShardLabeller(annotator, sampler)), [store],
        lambda _, positions: [AnnotationUnit(units[i].problem, units[i].solutions) for i in positions],
        f"{annotator.name} labels", max_shards=max_shards, progress=progress,
    )  # fmt: skip
    run.shards_written, run.shards_skipped, run.report = len(pending.written), pending.skipped, pending.report
    run.calls = sum(stats["calls"] for stats in pending.written)
    for shard in range(store.num_shards):
        if store.is_done(shard):
            stats = store.stats(shard)
            run.shards.append(store.path(shard))
            run.records += int(stats.get("records", 0))
            run.solutions += int(stats.get("solutions", 0))
            run.rollouts += int(stats.get("rollouts", 0))
            run.samples += int(stats.get("samples", 0))
    run.complete = len(run.shards) == store.num_shards
    return run
