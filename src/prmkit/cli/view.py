"""`prmkit view`: one self-contained HTML page of solutions, their step scores and labels.

Example:
    prmkit view --input steps.jsonl --scores prm=scores.jsonl --scores other.jsonl \\
        --labels labelled.jsonl --threshold 0.5 --output view.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmkit.cli._common import console, fail, output_file

__all__ = ["NAME", "HELP", "run", "parse_scores_flag"]

NAME = "view"
HELP = (
    "Write one self-contained HTML page (no network needed to open it) showing every solution's steps "
    "coloured by each PRM's score, side by side, with the predicted first error (at --threshold) and the "
    "true one (from labels) marked, filters, sorting, search by id and a per-PRM summary.\n\n"
    "Examples:\n\n"
    "    prmkit view --input steps.jsonl --scores scores.jsonl --output view.html\n\n"
    "    prmkit view --input labelled.jsonl --scores prm=a.jsonl --scores judge=b.jsonl --threshold 0.4 --output view.html\n\n"
    "    prmkit view --input gsm8k.json --format processbench --scores pb_scores.jsonl --output view.html"
)


def parse_scores_flag(value: str) -> tuple[str, Path]:
    """``"name=path"`` or ``"path"`` (named after the file's stem) -> ``(name, path)``."""
    name, sep, path = value.partition("=")
    if sep and name and not Path(value).exists():
        return name, Path(path)
    return Path(value).stem, Path(value)


def run(
    input: Annotated[Path, typer.Option("--input", help="Solutions, as for `prmkit score --input` (see --format).")],  # noqa: A002
    scores: Annotated[list[str], typer.Option("--scores", help="Scores JSONL from `prmkit score` ([NAME=]PATH); one per PRM, repeatable.")],
    output: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("view.html"),
    labels: Annotated[Path | None, typer.Option(help="Step-labelled solutions (prmkit JSONL, e.g. `prmkit annotate`'s "
                                                     "output) matched by id; default: the labels --input carries, if any.")] = None,
    threshold: Annotated[float, typer.Option(help="A step scored below this is predicted wrong.")] = 0.5,
    format: Annotated[str, typer.Option("--format", help="Input format: auto (prmkit or plain JSONL), plain, or a prmkit convert format.")] = "auto",  # noqa: A002
    title: Annotated[str | None, typer.Option(help="Page title (default: the input file name).")] = None,
) -> None:
    """Join --input, each --scores file and the labels into one HTML page at --output."""
    from prmkit.evaluate._scoring import read_scores
    from prmkit.io.solutions import read_solutions
    from prmkit.view import PRMScores, attach_labels, write_view

    if not 0.0 <= threshold <= 1.0:
        fail(f"--threshold {threshold} is outside [0, 1]; scores are probabilities, so pick a value in [0, 1]")
    output_file(output, "--output")
    columns = []
    for flag in scores:
        name, path = parse_scores_flag(flag)
        if not path.is_file():
            fail(f"--scores {path}: {'is a folder' if path.is_dir() else 'no such file'}; give a scores JSONL file")
        columns.append(PRMScores(name, read_scores(path, ["id"]), threshold, str(path)))
    solutions = read_solutions(input, format)
    if labels is not None:
        solutions = attach_labels(solutions, read_solutions(labels), f"--labels {labels}")
    write_view(output, solutions, columns, title or f"prmkit view: {input.name}")
    console.print(f"wrote {output}: {len(solutions)} solutions x {len(columns)} PRM(s)")
