"""Honest compute accounting for search: wrap the policy and the PRM and count what they really did.

Methods are compared at equal *compute*, not equal N, so every search result carries the policy
tokens generated, the PRM tokens actually run (after any prefix-cache reuse, when the scorer reports
it), the number of PRM calls and the wall time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmkit.generation import Generator
from prmkit.models import Scorer, ScoringItem
from prmkit.types import Completion

__all__ = ["Budget", "CountingGenerator", "CountingScorer"]


@dataclass
class Budget:
    """What one search run spent.

    Attributes:
        policy_tokens: tokens the policy generated (sum of ``Completion.num_tokens``).
        policy_calls: ``Generator.complete`` calls.
        prm_tokens: tokens the PRM actually ran, when the scorer exposes a ``tokens_run`` counter
            (prmkit's transformers backend does); ``None`` when unknown.
        prm_calls: ``Scorer.score`` calls.
        prm_items: (question, steps) items scored.
        wall_seconds: elapsed time of the whole run.
    """

    policy_tokens: int = 0
    policy_calls: int = 0
    prm_tokens: int | None = None
    prm_calls: int = 0
    prm_items: int = 0
    wall_seconds: float = 0.0
    _start: float = field(default_factory=time.perf_counter, repr=False)

    def stop(self) -> Budget:
        self.wall_seconds = time.perf_counter() - self._start
        return self

    def flops(self, policy_params: int, prm_params: int | None = None) -> float:
        """Approximate FLOPs = 2 * params * tokens (forward only), policy plus PRM when known."""
        total = 2.0 * policy_params * self.policy_tokens
        if prm_params is not None and self.prm_tokens is not None:
            total += 2.0 * prm_params * self.prm_tokens
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_tokens": self.policy_tokens,
            "policy_calls": self.policy_calls,
            "prm_tokens": self.prm_tokens,
            "prm_calls": self.prm_calls,
            "prm_items": self.prm_items,
            "wall_seconds": round(self.wall_seconds, 4),
        }


class CountingGenerator:
    """A :class:`Generator` proxy that adds every call's generated tokens to a :class:`Budget`."""

    def __init__(self, inner: Generator, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def complete(self, prompts: Sequence[str], **kwargs: Any) -> list[list[Completion]]:
        if not prompts:
            return []
        out = self.inner.complete(prompts, **kwargs)
        self.budget.policy_calls += 1
        self.budget.policy_tokens += sum(c.num_tokens for row in out for c in row)
        return out


class CountingScorer:
    """A :class:`Scorer` proxy that counts calls, items and (when reported) PRM tokens run."""

    def __init__(self, inner: Scorer, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def score(self, items: Sequence[ScoringItem]) -> list[list[float | None]]:
        if not items:
            return []
        before = getattr(self.inner, "tokens_run", None)
        out = self.inner.score(items)
        after = getattr(self.inner, "tokens_run", None)
        self.budget.prm_calls += 1
        self.budget.prm_items += len(items)
        if before is not None and after is not None:
            self.budget.prm_tokens = (self.budget.prm_tokens or 0) + after - before
        return out
