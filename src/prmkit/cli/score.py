"""`prmkit score`: score the steps of every solution in a file with any registered scorer.

Input: a file or a folder (e.g. ProcessBench's, or a ``prmkit annotate`` output) in any format of
:mod:`prmkit.io.convert` (``--format``), or ``auto`` (the default), which tells it from the first
record: prmkit JSONL (``LabelledSolution.to_dict()`` per line), plain JSONL (``{"id", "question",
"steps"}`` per line), ProcessBench, PRMBench and the other :mod:`prmkit.io` formats. Output: one ``{"id", "scores"}`` line per solution, in
input order — the file ``prmkit eval processbench --scores`` reads. The ``id`` is the problem id
(suffixed ``/k`` for the k-th solution when a problem has several); PRMBench's key fields ``idx`` and
``classification`` are copied from the solution's meta when present. The output appears only once
every solution is scored (written atomically).

Example:
    prmkit score --model qwen2.5-math-prm --path Qwen/Qwen2.5-Math-PRM-7B --input pb_gsm8k.json \\
        --format processbench --output scores.jsonl --batch-size 8
    prmkit score --model http --input steps.jsonl --output scores.jsonl --option url=http://127.0.0.1:8000
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from prmkit.cli._common import console, fail, load_cli_scorer, output_file

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
) -> None:
    """Score every solution in --input and write one {id, scores} line per solution to --output.

    Example:
        prmkit score --model dummy --input steps.jsonl --output scores.jsonl --option value=0.7
    """
    from prmkit._registry import UnknownNameError
    from prmkit.io._jsonl import FormatError, atomic_writer

    if batch_size < 1:
        fail(f"--batch-size must be >= 1, got {batch_size}")
    if not input.exists():
        fail(f"--input {input} does not exist")
    output_file(output, "--output")
    try:
        rows = read_items(input, format)
    except (FormatError, UnknownNameError, ValueError) as err:
        fail(str(err))
    scorer = load_cli_scorer(model, path, backend, option)
    console.print(f"scoring {len(rows)} solutions from {input} with {model}")
    from prmkit.evaluate._scoring import score_items

    try:
        scores = score_items(scorer, [(row["question"], row["steps"]) for row in rows], batch_size,
                             description="scoring", ids=[row["id"] for row in rows])
    except ValueError as err:
        fail(str(err))
    with atomic_writer(output) as handle:
        for row, row_scores in zip(rows, scores):
            record = {"id": row["id"], **{k: row[k] for k in _KEY_FIELDS if k in row}, "scores": row_scores}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    console.print(f"wrote {len(rows)} score lines to {output}")
