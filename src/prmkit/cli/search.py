"""`prmkit search`: Test-time search (best-of-N, beam, DVTS, MCTS) with a policy and a PRM."""

from __future__ import annotations

from prmkit.cli._common import not_built

NAME = "search"
HELP = "Test-time search (best-of-N, beam, DVTS, MCTS) with a policy and a PRM."


def run() -> None:
    not_built(NAME, 5)
