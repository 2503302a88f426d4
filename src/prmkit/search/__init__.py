"""Test-time search with a policy (:class:`~prmkit.generation.Generator`) and a PRM (:class:`~prmkit.models.Scorer`).

Every method takes many problems at once and returns one :class:`SearchResult` per problem with
all final candidates, the chosen one and the compute spent (:class:`Budget`):

    >>> from prmkit.search import SearchConfig, run_search          # doctest: +SKIP
    >>> results = run_search("beam", task, policy, prm, problems, SearchConfig(n=16))  # doctest: +SKIP

Methods (registered by name in :data:`SEARCH_METHODS`): ``best_of_n``, ``beam``, ``dvts``,
``mcts``, ``early_reject``, ``particle_filtering``. :func:`search_sharded` runs several methods and
budgets over many problems as one resumable sharded job, on the local or the Ray engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmkit._registry import Registry
from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.search._budget import Budget, CountingGenerator, CountingScorer
from prmkit.search._sharded import search_sharded
from prmkit.search._stepwise import Candidate, SearchResult
from prmkit.search.config import SearchConfig
from prmkit.search.vote import answer_key, select
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = [
    "SEARCH_METHODS", "Budget", "Candidate", "SearchConfig", "SearchResult", "answer_key", "run_search",
    "search_sharded", "select",
]

SEARCH_METHODS = Registry("search method")
for _name, _target in {
    "best_of_n": "prmkit.search.best_of_n:best_of_n",
    "beam": "prmkit.search.beam:beam_search",
    "dvts": "prmkit.search.beam:dvts",
    "mcts": "prmkit.search.mcts:mcts",
    "early_reject": "prmkit.search.early_reject:early_reject",
    "particle_filtering": "prmkit.search.particle_filtering:particle_filtering",
}.items():
    SEARCH_METHODS.register(_name, _target)


def run_search(
    method: str,
    task: Task,
    generator: Generator,
    scorer: Scorer,
    problems: Sequence[Problem],
    config: SearchConfig | None = None,
) -> list[SearchResult]:
    """Run search ``method`` on all ``problems`` together, counting the compute it really spends.

    The budget in each result is the whole run's (all problems together); ``budget["problems"]``
    says how many problems shared it.
    """
    config = config or SearchConfig()
    budget = Budget()
    results = SEARCH_METHODS.get(method)(
        task, CountingGenerator(generator, budget), CountingScorer(scorer, budget), problems, config, budget
    )
    for result in results:
        result.budget["problems"] = len(problems)
    return results
