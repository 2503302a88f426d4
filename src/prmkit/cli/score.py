"""`prmkit score`: Score the steps of solutions in a file with any registered PRM."""

from __future__ import annotations

from prmkit.cli._common import not_built

NAME = "score"
HELP = "Score the steps of solutions in a file with any registered PRM."


def run() -> None:
    not_built(NAME, 3)
