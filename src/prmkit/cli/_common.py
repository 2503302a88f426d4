"""Small helpers shared by the CLI stage modules."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def not_built(stage: str, issue: int) -> None:
    """Refuse clearly (exit 2) for a stage that is not implemented yet — never fake output."""
    console.print(f"[red]prmkit {stage}: not built yet[/red] (tracked in issue #{issue}).")
    raise typer.Exit(code=2)


def fail(message: str) -> None:
    """Print an error a person can act on and exit 1."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)
