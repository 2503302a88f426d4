"""The one configuration of every search method (each field says which methods read it)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from prmkit.models.aggregate import AGGREGATIONS
from prmkit.search.vote import SELECTIONS

__all__ = ["SearchConfig"]


@dataclass
class SearchConfig:
    """Settings of a search run; defaults suit the arith demo.

    Attributes:
        n: candidate budget — full samples for best_of_n / early_reject, beams kept x width for
            beam, subtrees x width for dvts, expansions per problem for mcts,
            particles per problem for particle_filtering.
        beam_width: next steps proposed per active beam (beam, dvts); children per expansion (mcts).
        max_steps: maximum number of steps in a solution (step-wise methods).
        max_step_tokens: token cap of one step (step-wise methods).
        max_new_tokens: token cap of one full solution (best_of_n, early_reject, rollouts).
        temperature: sampling temperature of the policy.
        aggregation: how step scores rank candidates (min, last, product, mean, softmin).
        selection: how the final answer is chosen (best, majority, weighted).
        lookahead: beam: extra greedy steps rolled out before scoring a proposal (0 = off).
        c_puct: mcts exploration constant of PUCT.
        widen_below: mcts: a step whose value is below this fraction of its parent's is *broken*: it
            is not continued, and a node whose children are all broken is expanded again (more
            samples, up to 4 expansions per node) instead of descending into them (0 = off: fixed
            width, every leaf continued).
        rollout_weight: mcts: weight of a full rollout's aggregated PRM score mixed into a new
            node's value (0 = PRM value only, as in ReST-MCTS*; >0 adds rStar-style rollouts).
        prefix_tokens: early_reject: tokens generated before the partial solutions are scored.
        keep_fraction: early_reject: fraction of candidates kept after the partial scoring.
        resample_temperature: particle_filtering: particles are drawn with probability
            softmax(aggregated PRM score / resample_temperature); small = greedy, large = uniform
            (0.2: a particle scored 1 is e^5 ~ 150x likelier to be drawn than one scored 0).
        seed: base random seed (the same seed gives the same run).
    """

    n: int = 16
    beam_width: int = 4
    max_steps: int = 10
    max_step_tokens: int = 32
    max_new_tokens: int = 256
    temperature: float = 0.8
    aggregation: str = "min"
    selection: str = "weighted"
    lookahead: int = 0
    c_puct: float = 1.0
    widen_below: float = 0.5
    rollout_weight: float = 0.0
    prefix_tokens: int = 16
    keep_fraction: float = 0.5
    resample_temperature: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        errors = []
        if self.n < 1:
            errors.append(f"n must be >= 1 (got {self.n})")
        for name in ("beam_width", "max_steps", "max_step_tokens", "max_new_tokens", "prefix_tokens"):
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        for name in ("temperature", "lookahead", "c_puct"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.aggregation not in AGGREGATIONS:
            errors.append(f"aggregation {self.aggregation!r} is not one of {AGGREGATIONS}")
        if self.selection not in SELECTIONS:
            errors.append(f"selection {self.selection!r} is not one of {SELECTIONS}")
        if self.resample_temperature <= 0:
            errors.append(f"resample_temperature must be > 0 (got {self.resample_temperature})")
        if not 0.0 < self.keep_fraction <= 1.0:
            errors.append(f"keep_fraction must be in (0, 1] (got {self.keep_fraction})")
        if not 0.0 <= self.widen_below <= 1.0:
            errors.append(f"widen_below must be in [0, 1] (got {self.widen_below})")
        if not 0.0 <= self.rollout_weight <= 1.0:
            errors.append(f"rollout_weight must be in [0, 1] (got {self.rollout_weight})")
        if errors:
            raise ValueError("invalid SearchConfig: " + "; ".join(errors))

    def check_width(self, method: str) -> None:
        """Step-wise methods spend N = (n / beam_width) x beam_width: refuse an n that would silently differ."""
        if self.n < self.beam_width or self.n % self.beam_width:
            raise ValueError(
                f"{method}: n = {self.n} must be a multiple of beam_width = {self.beam_width} (and at least it), "
                "otherwise the compute spent is not N; set n to a multiple of beam_width"
            )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
