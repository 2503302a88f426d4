"""`prmkit eval`: Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Evaluate PRMs: ProcessBench, PRMBench, best-of-N, step metrics."""
