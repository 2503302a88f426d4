"""Getting step scores for benchmark records: from a scores JSONL file or from a live Scorer."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prmkit.io._jsonl import FormatError, read_jsonl, require
from prmkit.types import LabelledSolution

__all__ = ["ShardScorer", "score_items", "score_labelled", "score_sharded", "read_scores", "check_scores"]


def score_items(
    scorer: Any,
    items: Sequence[tuple[str, Sequence[str]]],
    batch_size: int = 32,
    description: str = "scoring",
    progress: bool = True,
    ids: Sequence[str] | None = None,
) -> list[list[float | None]]:
    """Score ``(question, steps)`` items with ``scorer`` in batches of ``batch_size``, showing a progress bar.

    Args:
        scorer: any :class:`~prmkit.models.Scorer`.
        items: the solutions to score.
        batch_size: items per ``scorer.score`` call.
        description: label of the progress bar (drawn on stderr, removed when done).
        progress: draw the progress bar.
        ids: names of the items for error messages (default: their index).

    Returns:
        One list of step scores per item, in input order.

    Raises:
        ValueError: ``batch_size < 1``, or the scorer returned the wrong number of items or steps
            (the message names the item).
        InputError: an item the scorer cannot take (empty step, too long ...); names its id.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out: list[list[float | None]] = []
    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not progress) as bar:
        task = bar.add_task(description, total=len(items))
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            try:
                scores = scorer.score(batch)
            except ValueError as err:
                raise _culprit(scorer, batch, ids, start, err) from None
            if len(scores) != len(batch):
                raise ValueError(f"the scorer returned {len(scores)} results for a batch of {len(batch)} solutions")
            for offset, ((_, steps), row) in enumerate(zip(batch, scores)):
                name = repr(ids[start + offset]) if ids is not None else f"item {start + offset}"
                if len(row) != len(steps):
                    raise ValueError(f"the scorer returned {len(row)} scores for {name} with {len(steps)} steps")
                out.append(_as_scores(row, name, "the scorer returned"))
            bar.advance(task, len(batch))
    return out


@dataclass
class ShardScorer:
    """Scores one shard of rows wherever it runs (a worker of :func:`score_sharded`).

    A row is ``{"id", "question", "steps", **key fields}``; its record is the row without
    ``question`` and ``steps``, plus ``"scores"``. Sent to Ray workers by pickle: give it a
    :class:`~prmkit.distributed.LazyScorer` so each worker loads its own PRM, once.
    """

    scorer: Any
    batch_size: int

    def __call__(self, item: tuple[int, tuple[Any, list[dict[str, Any]]]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(shard, (_, rows)) -> (records, stats)``; stats count records, steps and the PRM tokens run (when known)."""
        _, (_, rows) = item
        before = getattr(self.scorer, "tokens_run", None)
        scores = score_items(self.scorer, [(row["question"], row["steps"]) for row in rows], self.batch_size,
                             progress=False, ids=[row["id"] for row in rows])
        after = getattr(self.scorer, "tokens_run", None)
        records = [{**{k: v for k, v in row.items() if k not in ("question", "steps")}, "scores": row_scores}
                   for row, row_scores in zip(rows, scores)]
        tokens = after - before if before is not None and after is not None else 0
        return records, {"records": len(records), "steps": sum(map(len, scores)), "tokens": tokens}


def score_sharded(
    scorer: Any,
    rows: Sequence[dict[str, Any]],
    output: str | os.PathLike[str],
    *,
    batch_size: int = 16,
    shard_size: int = 256,
    config: dict[str, Any] | None = None,
    engine: Any = None,
    max_shards: int | None = None,
    progress: bool = True,
) -> Any:
    """Score ``rows`` shard by shard on ``engine`` and write one ``{id, ..., scores}`` line per row to ``output``.

    Shards go to ``<output>.shards/`` as they finish, so a rerun after an interrupt scores only the
    rest; the output file appears (atomically) once every row is scored, in input order, the same
    bytes on every engine (:func:`prmkit.distributed._jobs.run_merged`).

    Args:
        scorer: any :class:`~prmkit.models.Scorer` (a ``LazyScorer`` for the ray engine).
        rows: ``{"id", "question", "steps", **key fields}`` per solution (``prmkit score``'s ``read_items``).
        output: the scores JSONL.
        batch_size: rows per ``scorer.score`` call.
        shard_size: rows per shard.
        config: what else determines the scores (the scorer's name, path, options); a rerun
            resumes only with the same config, rows, batch and shard size.
        engine: where shards run; default: the local engine (this process).
        max_shards: score at most this many new shards, then stop (no output yet).
        progress: draw the job's progress bar.

    Returns:
        A :class:`~prmkit.distributed._jobs.MergedRun` (``complete``, shards written / skipped, report).

    Raises:
        ValueError / InputError: as :func:`score_items` (a row the scorer cannot take names its id);
            shards finished before it stay for the rerun.
    """
    from prmkit.distributed._jobs import Part, carry, item_key, run_merged
    from prmkit.distributed._local import LocalEngine

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    part = Part({**(config or {}), "batch_size": batch_size}, rows, [item_key(i, row) for i, row in enumerate(rows)])
    return run_merged(
        engine if engine is not None else LocalEngine(), carry(ShardScorer(scorer, batch_size)), [part], output,
        shard_size=shard_size, description="scoring", dumps=lambda row: json.dumps(row, ensure_ascii=False),
        max_shards=max_shards, progress=progress,
    )  # fmt: skip


def _culprit(scorer: Any, batch: Sequence[tuple[str, Sequence[str]]], ids: Sequence[str] | None, start: int,
             err: ValueError) -> ValueError:
    """The batch's failure, named by the record that causes it.

    Backends encode a whole batch before scoring, so their message says "item 22" (a position in
    the batch). Scoring the items one at a time (only on failure) finds the record; its id goes into
    an :class:`~prmkit._errors.InputError`. When no single item fails, the original error is kept.
    """
    from prmkit._errors import InputError

    for offset, item in enumerate(batch):
        try:
            scorer.score([item])
        except ValueError as single:
            name = repr(ids[start + offset]) if ids is not None else f"item {start + offset}"
            message = str(single).removeprefix("item 0: ")
            return InputError(f"record {name} cannot be scored: {message}")
    return err


def _as_scores(row: Sequence[float | None], name: str, source: str) -> list[float | None]:
    """``row`` as floats (``None`` kept); NaN and values outside [0, 1] are refused: NaN would count as
    "not below any threshold", and a raw reward against probability thresholds gives a wrong number."""
    out = [None if s is None else float(s) for s in row]
    for step, value in enumerate(out):
        if value is not None and math.isnan(value):
            raise ValueError(f"{source} NaN for step {step} of {name}; use None (null) for a step without a score")
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{source} {value} for step {step} of {name}, outside [0, 1]; step scores are "
                             "probabilities (map raw rewards into [0, 1], e.g. with a sigmoid)")
    return out


def score_labelled(
    items: Sequence[LabelledSolution], scorer: Any, batch_size: int, description: str, progress: bool,
    skip_empty: bool = False,
) -> dict[str, list[float | None]]:
    """Score labelled benchmark records with :func:`score_items`: ``{problem.id: step scores}``.

    Args:
        skip_empty: do not send steps without text to the scorer (no format can mark one); their
            score is ``None``. For benchmarks that leave such steps unlabelled (PRMBench).
    """
    kept = [[k for k, step in enumerate(item.solution.steps) if not skip_empty or step.strip()] for item in items]
    rows = score_items(
        scorer,
        [(item.problem.question, [item.solution.steps[k] for k in keep]) for item, keep in zip(items, kept)],
        batch_size=batch_size,
        description=description,
        progress=progress,
        ids=[item.problem.id for item in items],
    )
    out: dict[str, list[float | None]] = {}
    for item, keep, row in zip(items, kept, rows):
        full: list[float | None] = [None] * len(item.solution.steps)
        for k, score in zip(keep, row):
            full[k] = score
        out[item.problem.id] = full
    return out


def read_scores(path: str | os.PathLike[str], key_fields: Sequence[str]) -> dict[str, list[float | None]]:
    """Read a scores JSONL file into ``{key: scores}``.

    Each line holds the ``key_fields`` (strings) and ``"scores"``: a list of numbers (or null).
    The key is the key fields' values joined with ``"_"`` (``["classification", "idx"]`` gives
    PRMBench's ``"<classification>_<idx>"``).

    Raises:
        FormatError: bad JSON, a missing/mistyped field, a score that is not a number in [0, 1],
            or a repeated key.
    """
    out: dict[str, list[float | None]] = {}
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        parts = [str(require(record, field, (str, int), where)) for field in key_fields]
        key = "_".join(parts)
        scores = require(record, "scores", list, where)
        for i, s in enumerate(scores):
            if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= 1):
                raise FormatError(f"{where}: scores[{i}] = {s!r} for {key!r} is not a probability in [0, 1] or null "
                                  "(step scores are P(step is correct); squash raw rewards, e.g. with a sigmoid)")
        if key in out:
            raise FormatError(f"{where}: scores for {key!r} appear twice; keep one line per record")
        out[key] = [None if s is None else float(s) for s in scores]
    return out


def check_scores(
    keys: Sequence[str],
    step_counts: Sequence[int],
    scores: Mapping[str, Sequence[float | None]] | Sequence[Sequence[float | None]],
    what: str = "record",
) -> list[list[float | None]]:
    """Align ``scores`` (mapping key -> scores, or a list in record order) with the records.

    Raises:
        ValueError: a record has no scores, or a different number of scores than steps (names the key).
    """
    if isinstance(scores, Mapping):
        aligned = []
        for key in keys:
            if key not in scores:
                raise ValueError(f"no scores for {what} {key!r}; every {what} needs one score per step")
            aligned.append(scores[key])
    else:
        if len(scores) != len(keys):
            raise ValueError(f"got {len(scores)} score lists for {len(keys)} {what}s; pass one per {what}, in order")
        aligned = list(scores)
    out = []
    for key, count, row in zip(keys, step_counts, aligned):
        if len(row) != count:
            raise ValueError(f"{what} {key!r} has {count} steps but {len(row)} scores; pass one score per step")
        out.append(_as_scores(row, f"{what} {key!r}", "scores hold"))
    return out
