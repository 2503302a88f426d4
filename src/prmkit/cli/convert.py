"""`prmkit convert`: Convert between step-labelled dataset formats."""

from __future__ import annotations

from prmkit.cli._common import not_built

NAME = "convert"
HELP = "Convert between step-labelled dataset formats."


def run() -> None:
    not_built(NAME, 2)
