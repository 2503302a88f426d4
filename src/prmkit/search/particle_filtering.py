"""Particle filtering over reasoning steps, weighted by a PRM (batched across problems).

Reference: Puri et al. 2025, "A Probabilistic Inference Approach to Inference-Time Scaling of LLMs
using Particle-Based Monte Carlo Methods" (arXiv 2502.01618), Algorithm 1; its_hub's
``ParticleFiltering`` is an implementation of it. Search treats the PRM as an (approximate)
likelihood of "this prefix leads to a correct answer" and keeps a population of ``n`` particles
that approximates the policy's distribution re-weighted by it, instead of greedily keeping the top
beams (which collapses onto few paths):

1. ``n`` empty particles per problem.
2. Every live (unfinished) particle is extended by ONE step (one generator call for all problems).
3. The PRM scores every particle's steps (one scorer call); a particle's weight is
   ``softmax(aggregate(scores) / resample_temperature)`` over the problem's ``n`` particles
   (``aggregation`` from the config; finished particles keep their final weight and compete too).
4. ``n`` particles are drawn with replacement in proportion to the weights (multinomial
   resampling); a drawn finished particle stays finished and costs no more tokens.
5. Repeat 2-4 until every particle has finished or ``max_steps`` rounds have run; the answer is the
   PRM-weighted vote (``selection``, default ``"weighted"``) over the final ``n`` particles, duplicates
   included: a path drawn k times is k members of the population.

Each round spends about ``n`` proposed steps per problem, the same as DVTS / beam at budget ``n``,
so the methods compare at equal policy tokens. Resampling draws are reproducible: problem ``i``'s
round ``d`` uses ``random.Random(f"{seed}|{problem.id}|{d}")`` (not its position in the batch), ``n`` calls of ``random()`` mapped through
the weights' cumulative sum (inverse CDF), so a hand computation can check them.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.models.aggregate import aggregate
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, expand, finalize, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["particle_filtering", "resampling_weights", "resample"]


def resampling_weights(values: Sequence[float], temperature: float) -> list[float]:
    """``softmax(values / temperature)``: the probability of drawing each particle.

    Example:
        >>> [round(w, 4) for w in resampling_weights([1.0, 0.0], 1.0)]
        [0.7311, 0.2689]
    """
    if temperature <= 0:
        raise ValueError(f"resample_temperature must be > 0, got {temperature}")
    top = max(values)
    exps = [math.exp((v - top) / temperature) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def resample(weights: Sequence[float], rng: random.Random, k: int) -> list[int]:
    """``k`` indices drawn with replacement with probabilities ``weights`` (inverse CDF of ``rng.random()``)."""
    cumulative = list(itertools.accumulate(weights))
    return [min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(weights) - 1) for _ in range(k)]


def _copy(partial: Partial) -> Partial:
    return Partial(list(partial.steps), list(partial.scores), partial.num_tokens, partial.finished)


def particle_filtering(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """``n`` particles per problem, extended a step at a time and resampled by PRM weight (see module docstring)."""
    particles = [[Partial() for _ in range(config.n)] for _ in problems]
    history: list[list[dict]] = [[] for _ in problems]  # per round: weights and ancestors (the result's meta)
    for depth in range(config.max_steps):
        live = [(i, k) for i, row in enumerate(particles) for k, part in enumerate(row) if not part.finished]
        if not live:
            break
        children = expand(
            task, generator, [(problems[i], particles[i][k], 1) for i, k in live],
            temperature=config.temperature, max_step_tokens=config.max_step_tokens, seed=config.seed + 1000 * depth,
        )
        for (i, k), (child,) in zip(live, children):
            particles[i][k] = child
        score_partials(scorer, [(problems[i], particles[i][k]) for i, k in live])
        for i, row in enumerate(particles):
            values = [aggregate(part.scores, config.aggregation) for part in row]
            weights = resampling_weights(values, config.resample_temperature)
            ancestors = resample(weights, random.Random(f"{config.seed}|{problems[i].id}|{depth}"), config.n)
            particles[i] = [_copy(row[a]) for a in ancestors]
            history[i].append({"weights": [round(w, 6) for w in weights], "ancestors": ancestors})
    budget.stop()
    return [
        finalize(
            task, p, "particle_filtering", particles[i], budget, selection=config.selection,
            aggregation=config.aggregation,
            meta={"rounds": len(history[i]), "distinct_final": len({tuple(q.steps) for q in particles[i]}),
                  "resampling": history[i]},
        )
        for i, p in enumerate(problems)
    ]
