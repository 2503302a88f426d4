"""Search many problems with several methods and budgets as one resumable sharded job, on any engine.

    >>> from prmkit.search import SearchConfig, search_sharded      # doctest: +SKIP
    >>> run = search_sharded([("beam", SearchConfig(n=4), {"n": 4})], task, policy, prm, problems,
    ...                      "search.jsonl", shard_size=32)        # doctest: +SKIP
    >>> run.complete, len(run.rows[0])                             # doctest: +SKIP
    (True, 100)

Each (method, config) is one part of the job; its problems are split into shards of
``shard_size`` that are searched together (one generator and one scorer call per round, as
:func:`~prmkit.search.run_search` does), so a result's ``budget`` is its shard's and
``budget["problems"]`` says how many problems shared it. Seeds come from the config and the shard's
problems, never from the worker, so every engine writes the same records (``budget.wall_seconds``,
a clock reading, aside).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.search.config import SearchConfig
from prmkit.types import Problem

__all__ = ["ShardSearcher", "search_sharded"]


@dataclass
class ShardSearcher:
    """Searches one shard of problems wherever it runs (a worker of :func:`search_sharded`).

    Sent to Ray workers by pickle: give it a :class:`~prmkit.distributed.LazyGenerator` and a
    :class:`~prmkit.distributed.LazyScorer` so each worker loads its own policy and PRM, once.
    """

    task: Any
    generator: Any
    scorer: Any

    def __call__(self, item: tuple[int, tuple[tuple[str, SearchConfig, dict[str, Any]], list[Problem]]]) -> tuple[
        list[dict[str, Any]], dict[str, Any]
    ]:
        """``(shard, ((method, config, meta), problems)) -> (SearchResult records with meta added, stats)``."""
        from prmkit.search import run_search

        _, ((method, config, meta), problems) = item
        results = run_search(method, self.task, self.generator, self.scorer, problems, config)
        records = []
        for result in results:
            record = result.to_dict()
            record["meta"].update(meta)
            records.append(record)
        budget = results[0].budget if results else {}
        return records, {"records": len(records), "tokens": int(budget.get("policy_tokens", 0)),
                         "prm_calls": int(budget.get("prm_calls", 0))}


def search_sharded(
    runs: Sequence[tuple[str, SearchConfig, dict[str, Any]]],
    task: Any,
    generator: Any,
    scorer: Any,
    problems: Sequence[Problem],
    output: str | os.PathLike[str],
    *,
    shard_size: int = 32,
    job: dict[str, Any] | None = None,
    engine: Any = None,
    max_shards: int | None = None,
    progress: bool = True,
) -> Any:
    """Run every ``(method, config, meta)`` of ``runs`` on ``problems``; write one record per line to ``output``.

    Shards go to ``<output>.shards/`` as they finish (a rerun after an interrupt searches only the
    rest); ``output`` appears once all are done: the records of ``runs[0]`` in problem order, then
    ``runs[1]``'s, and so on, each ``SearchResult.to_dict()`` with ``meta`` updated by the run's
    ``meta`` (e.g. ``{"n": 16, "prm": "runs/prm"}``). All shards of all runs share one engine run.

    Args:
        runs: ``(method, SearchConfig, meta)`` per part of the job.
        task: the task (picklable for the ray engine).
        generator: the policy (a ``LazyGenerator`` for the ray engine).
        scorer: the PRM (a ``LazyScorer`` for the ray engine).
        problems: the problems every run searches; ids must be unique.
        output: the results JSONL (`prmkit eval bon` reads it).
        shard_size: problems searched together in one shard.
        job: what else determines the results (task, policy, PRM); a rerun resumes only with the
            same job, runs, problems and shard size.
        engine: where shards run; default: the local engine (this process).
        max_shards: search at most this many new shards, then stop (no output yet).
        progress: draw the job's progress bar (units: problem x run).

    Returns:
        A :class:`~prmkit.distributed._jobs.MergedRun`; ``rows[k]`` are ``runs[k]``'s records.
    """
    from prmkit.distributed._jobs import Part, carry, item_key, run_merged
    from prmkit.distributed._local import LocalEngine

    keys = [item_key(i, problem.to_dict()) for i, problem in enumerate(problems)]
    parts = [
        Part({"method": method, "search": dataclasses.asdict(config), "meta": meta, "job": job or {}}, problems, keys,
             (method, config, meta))
        for method, config, meta in runs
    ]  # fmt: skip
    return run_merged(
        engine if engine is not None else LocalEngine(), carry(ShardSearcher(task, generator, scorer)), parts, output,
        shard_size=shard_size, description="search", max_shards=max_shards, progress=progress,
    )  # fmt: skip
