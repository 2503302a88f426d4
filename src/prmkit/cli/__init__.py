"""The ``prmkit`` command: one sub-command per stage of a PRM's life.

User errors of every sub-command are reported in one place, :mod:`prmkit.cli._errors`: one line,
exit code 2; anything else is a bug and keeps its traceback.

Each stage lives in its own module of this package and imports its heavy dependencies (torch,
transformers) only when its command actually runs, so ``prmkit --help`` is instant.
"""

from __future__ import annotations

import typer

from prmkit.cli import annotate, convert, demo, evaluate, score, search, serve, train, view
from prmkit.cli._errors import RootGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="prmkit",
    cls=RootGroup,
    help="Process reward models: score steps, synthesize labels, train, evaluate, search, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show transformers' own logs and weight-loading "
                                 "bars (hidden by default; PRMKIT_VERBOSE=1 does the same)."),
) -> None:
    """Process reward models: score steps, synthesize labels, train, evaluate, search, serve."""
    from prmkit.cli._quiet import quiet_transformers

    quiet_transformers(verbose)


app.add_typer(evaluate.app, name="eval")
app.add_typer(train.app, name="train")
app.add_typer(annotate.app, name="annotate")
for module in (score, convert, search, serve, view, demo):
    app.command(name=module.NAME, help=module.HELP)(module.run)


def main() -> None:
    from prmkit._memory import keep_freed_memory

    keep_freed_memory()
    app()
