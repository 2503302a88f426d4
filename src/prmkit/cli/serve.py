"""`prmkit serve`: Serve a scorer over HTTP."""

from __future__ import annotations

from prmkit.cli._common import not_built

NAME = "serve"
HELP = "Serve a scorer over HTTP."


def run() -> None:
    not_built(NAME, 3)
