"""`prmkit annotate`: Synthesize process labels (Monte Carlo, OmegaPRM)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Synthesize process labels (Monte Carlo, OmegaPRM).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Synthesize process labels (Monte Carlo, OmegaPRM)."""
