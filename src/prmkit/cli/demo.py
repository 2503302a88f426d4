"""`prmkit demo`: Run the whole PRM life cycle on the arith task on this CPU."""

from __future__ import annotations

from prmkit.cli._common import not_built

NAME = "demo"
HELP = "Run the whole PRM life cycle on the arith task on this CPU."


def run() -> None:
    not_built(NAME, 4)
