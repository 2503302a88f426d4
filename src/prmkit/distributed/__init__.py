"""Engines: where a job's work items run, in this process (``local``) or on a Ray cluster (``ray``).

An engine has one job: given a picklable ``make_worker`` (builds the thing that holds a model, e.g.
a shard labeller around one Generator) and a list of work items, run every item through a worker
and yield each result as it finishes. It knows nothing of annotation, scoring or search: the
callers decide what an item is (a shard of units, a batch of solutions, a chunk of problems) and
write the outputs, so ``--engine ray`` writes exactly what ``--engine local`` writes.

    >>> from prmkit.distributed import ENGINES, load_engine
    >>> ENGINES.names()
    ['local', 'ray']
    >>> engine = load_engine("ray", workers=2, threads_per_worker=1)   # doctest: +SKIP
    >>> for done in engine.map(make_worker, items): ...                # doctest: +SKIP

``import prmkit.distributed`` does not import ray; the ray engine imports it when it starts.
"""

from __future__ import annotations

from typing import Any

from prmkit._registry import Registry
from prmkit.distributed._base import Done, Engine, WorkerFactory
from prmkit.distributed._lazy import LazyGenerator, LazyScorer
from prmkit.distributed._report import JobReport

__all__ = ["ENGINES", "Done", "Engine", "JobReport", "LazyGenerator", "LazyScorer", "WorkerFactory", "load_engine"]

ENGINES = Registry("engine")
ENGINES.register("local", "prmkit.distributed._local:LocalEngine")
ENGINES.register("ray", "prmkit.distributed._ray:RayEngine")


def load_engine(name: str, **options: Any) -> Engine:
    """Build the engine registered as ``name`` (``"local"`` or ``"ray"``) with its options."""
    return ENGINES.get(name)(**options)
