"""A weightless scorer for tests and dry runs (the lm-eval ``dummy`` model pattern)."""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.models import ScoringItem

__all__ = ["DummyScorer"]


class DummyScorer:
    """Gives every step the same score ``value``; counts calls and steps so tests can check batching."""

    def __init__(self, value: float = 0.5) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"DummyScorer value must be in [0, 1], got {value}")
        self.value = value
        self.calls = 0
        self.steps_scored = 0

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        self.calls += 1
        self.steps_scored += sum(len(steps) for _, steps in items)
        return [[self.value] * len(steps) for _, steps in items]
