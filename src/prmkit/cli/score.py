"""`prmkit score`: score the steps of every solution in a file with any registered scorer.

Input: a file or a folder (e.g. ProcessBench's, or a ``prmkit annotate`` output) in any format of
:mod:`prmkit.io.convert` (``--format``), or ``auto`` (the default), which tells it from the first
record: prmkit JSONL (``LabelledSolution.to_dict()`` per line), plain JSONL (``{"id", "question",
"steps"}`` per line), ProcessBench, PRMBench and the other :mod:`prmkit.io` formats. Output: one ``{"id", "scores"}`` line per solution, in
input order — the file ``prmkit eval processbench --scores`` reads. The ``id`` is the problem id
(suffixed ``/k`` for the k-th solution when a problem has several); PRMBench's key fields ``idx`` and
``classification`` are copied from the solution's meta when present. The output appears only once
every solution is scored (written atomically); until then finished shards wait in ``<output>.shards/``,
so a rerun of an interrupted command scores only the rest. ``--engine ray`` scores the shards on a
Ray actor pool (each actor loads the scorer once) and writes the same bytes.

Example:
    prmkit score --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --input pb_gsm8k.json \\
        --format processbench --output scores.jsonl --batch-size 8
    prmkit score --model http --input steps.jsonl --output scores.jsonl --option url=http://127.0.0.1:8000
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prmkit.cli._common import console, fail, output_file, parse_options
from prmkit.cli._engine import (
    Address,
    EngineFlags,
    EngineName,
    GpusPerWorker,
    ShardSize,
    ThreadsPerWorker,
    Workers,
    cli_scorer,
)

__all__ = ["NAME", "HELP", "run", "read_items"]

NAME = "score"
HELP = (
    "Score the steps of solutions in a file with any registered PRM.\n\n"
    "Writes one {id, scores} JSON line per solution (the file `prmkit eval ... --scores` reads); the output "
    "appears only once every solution is scored.\n\n"
    "Examples:\n\n"
    "    prmkit score --model dummy --input steps.jsonl --output scores.jsonl --option value=0.7\n\n"
    "    prmkit score --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --input gsm8k.json "
    "--format processbench --output scores.jsonl --batch-size 8\n\n"
    "    prmkit score --model http --option url=http://127.0.0.1:8000 --input steps.jsonl --output scores.jsonl"
)

_KEY_FIELDS = ("idx", "classification")


def read_items(path: Path, fmt: str) -> list[dict[str, Any]]:
    """Read ``path`` (a file or folder, any format) into ``[{"id", "question", "steps", **key fields}]``, in file order.

    :func:`prmkit.io.solutions.read_solutions` reads it: the same records and ids that ``prmkit
    view`` and the evaluators match on (PRMBench's ``idx`` and ``classification`` are kept too).

    Raises:
        FormatError: malformed records (the message names file, line and field).
    """
    from prmkit.io.solutions import read_solutions

    rows: list[dict[str, Any]] = []
    for key, record in read_solutions(path, fmt):
        row = {"id": key, "question": record.problem.question, "steps": list(record.solution.steps)}
        row.update({k: record.solution.meta[k] for k in _KEY_FIELDS if k in record.solution.meta})
        rows.append(row)
    return rows


def run(
    model: Annotated[str, typer.Option(help="Registered scorer name (qwen2.5-math-prm, token-cls, judge, http, dummy, ...).")],
    input: Annotated[Path, typer.Option("--input", help="Solutions to score: a file or a folder of them (see --format).")],  # noqa: A002
    output: Annotated[Path, typer.Option(help="Scores JSONL: one {id, scores} per solution.")] = Path("scores.jsonl"),
    path: Annotated[str | None, typer.Option(help="Checkpoint directory or hub id of the scorer.")] = None,
    backend: Annotated[str | None, typer.Option(help="transformers, vllm or http (families only).")] = None,
    format: Annotated[str, typer.Option("--format", help="Input format: auto (told from the first record), plain, or a prmkit convert format (processbench, prmbench, prmkit, trl, ...).")] = "auto",  # noqa: A002
    batch_size: Annotated[int, typer.Option(help="Solutions per scorer call.")] = 16,
    option: Annotated[list[str], typer.Option(help="Scorer option as key=value (JSON values); repeatable.")] = [],  # noqa: B006
    shard_size: ShardSize = 256,
    engine: EngineName = "local",
    address: Address = None,
    workers: Workers = 2,
    threads_per_worker: ThreadsPerWorker = 1,
    num_gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Score every solution in --input and write one {id, scores} line per solution to --output.

    Shards of --shard-size solutions are kept in ``<output>.shards/`` until the output is written,
    so rerunning an interrupted command scores only what is missing.

    Example:
        prmkit score --model dummy --input steps.jsonl --output scores.jsonl --option value=0.7
    """
    from prmkit._registry import UnknownNameError
    from prmkit.distributed._jobs import shards_folder
    from prmkit.evaluate._scoring import score_sharded
    from prmkit.io._jsonl import FormatError

    if batch_size < 1 or shard_size < 1:
        fail(f"--batch-size and --shard-size must be >= 1, got {batch_size}, {shard_size}")
    flags = EngineFlags(engine, address, workers, threads_per_worker, num_gpus_per_worker)
    flags.check()
    if not input.exists():
        fail(f"--input {input} does not exist")
    output_file(output, "--output")
    try:
        rows = read_items(input, format)
    except (FormatError, UnknownNameError, ValueError) as err:
        fail(str(err))
    scorer = cli_scorer(model, path, backend, option, engine)
    console.print(f"scoring {len(rows)} solutions from {input} with {model}")
    config = {"scorer": {"name": model, "path": path, "backend": backend, "options": parse_options(option)}}
    try:
        with flags.running() as running:
            done = score_sharded(scorer, rows, output, batch_size=batch_size, shard_size=shard_size, config=config,
                                 engine=running)
    except ValueError as err:
        kept = shards_folder(output)
        fail(f"{err}" + (f" (finished shards are kept in {kept}; a rerun resumes from them)" if kept.exists() else ""))
    if done.shards_skipped:
        console.print(f"resumed: {done.shards_skipped} finished shard(s) skipped")
    console.print(f"wrote {len(rows)} score lines to {output}")
    if done.report.workers:
        console.print(done.report.table(f"per worker ({engine} engine)"))
