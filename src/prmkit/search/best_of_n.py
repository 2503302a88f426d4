"""Best-of-N: sample N full solutions per problem, score each once, pick by PRM / vote / weighted vote."""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, finalize, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["best_of_n"]


def best_of_n(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """N samples per problem in one generator call, all steps scored in one scorer call."""
    prompts = [task.prompt(p) for p in problems]
    rows = generator.complete(
        prompts, n=config.n, stop=None, max_new_tokens=config.max_new_tokens,
        temperature=config.temperature, seed=config.seed,
    )
    partials = [
        [Partial(steps=task.split_steps(c.text), num_tokens=c.num_tokens, finished=c.finish_reason != "length") for c in row]
        for row in rows
    ]
    score_partials(scorer, [(p, part) for p, row in zip(problems, partials) for part in row])
    budget.stop()
    return [
        finalize(task, p, "best_of_n", row, budget, selection=config.selection, aggregation=config.aggregation)
        for p, row in zip(problems, partials)
    ]
