"""`prmkit train`: Train PRMs (token classification, implicit), ORMs and tiny policies."""

from __future__ import annotations

import typer

app = typer.Typer(help="Train PRMs (token classification, implicit), ORMs and tiny policies.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Train PRMs (token classification, implicit), ORMs and tiny policies."""
