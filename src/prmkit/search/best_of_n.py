"""Best-of-N: sample N full solutions per problem, score each once, pick by PRM / vote / weighted vote."""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.search._budget import Budget
from prmkit.search._stepwise import SearchResult, finalize, sample_solutions, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["best_of_n"]


def best_of_n(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """N samples per problem in one generator call, all steps scored in one scorer call."""
    partials, _ = sample_solutions(
        task, generator, problems, n=config.n, max_new_tokens=config.max_new_tokens,
        temperature=config.temperature, seed=config.seed,
    )
    score_partials(scorer, [(p, part) for p, row in zip(problems, partials) for part in row])
    budget.stop()
    return [
        finalize(task, p, "best_of_n", row, budget, selection=config.selection, aggregation=config.aggregation)
        for p, row in zip(problems, partials)
    ]
