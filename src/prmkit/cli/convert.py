"""`prmkit convert`: convert between step-labelled dataset formats.

Examples:
    prmkit convert --from math-shepherd --to trl math_shepherd.jsonl trl.jsonl
    prmkit convert --from prm800k --to trl --neutral 0.0 phase2_train.jsonl prm800k_trl.jsonl
    prmkit convert --from gsm8k-solutions --to prmkit example_model_solutions.jsonl bon.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmkit.cli._common import fail
from prmkit.io.convert import FORMATS

__all__ = ["NAME", "HELP", "run"]

NAME = "convert"
HELP = (
    "Convert between step-labelled dataset formats. Read and write: "
    + ", ".join(name for name, fmt in FORMATS.items() if fmt.writer)
    + "; read only: "
    + ", ".join(name for name, fmt in FORMATS.items() if not fmt.writer)
    + ".\n\n"
    + "Examples:\n\n"
    + "    prmkit convert --from math-shepherd --to trl math_shepherd.jsonl trl.jsonl\n\n"
    + "    prmkit convert --from prm800k --to trl --neutral 0.0 phase2_train.jsonl prm800k_trl.jsonl\n\n"
    + "    prmkit convert --from processbench --to prmkit gsm8k.json gsm8k.jsonl"
)


def run(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="File to read.", exists=True, dir_okay=False)],
    output_path: Annotated[Path, typer.Argument(metavar="OUTPUT", help="File to write (replaced only on success).")],
    source: Annotated[str, typer.Option("--from", help="Input format: " + ", ".join(FORMATS) + ".")],
    target: Annotated[str, typer.Option("--to", help="Output format: " + ", ".join(n for n, f in FORMATS.items() if f.writer) + ".")],
    threshold: Annotated[
        float | None, typer.Option(help="Writers with hard labels: a step is correct when its label >= this (0.5).")
    ] = None,
    neutral: Annotated[
        float | None, typer.Option(help="prm800k reader: label for steps rated 0 (neutral); default 1.0.")
    ] = None,
) -> None:
    """Read INPUT as --from, write OUTPUT as --to; print where it went and how many records."""
    from rich.console import Console

    from prmkit._registry import UnknownNameError
    from prmkit.io._jsonl import FormatError
    from prmkit.io.convert import ConversionError, convert

    reader_options = {} if neutral is None else {"neutral": neutral}
    writer_options = {} if threshold is None else {"threshold": threshold}
    try:
        count = convert(
            source,
            target,
            input_path,
            output_path,
            reader_options=reader_options,
            writer_options=writer_options,
            show_progress=True,
        )
    except (UnknownNameError, ConversionError, FormatError, ValueError) as err:
        fail(str(err))
        return
    Console().print(f"wrote {count} records ({source} -> {target}) to {output_path}")
