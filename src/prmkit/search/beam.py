"""Step-level beam search and diverse verifier tree search (DVTS), both batched across problems.

References: Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally..." (beam search with a
PRM, lookahead) and Beeching et al. 2024, HF "search-and-learn" (DVTS: N/M independent subtrees,
each expanded greedily by the PRM). Both are one routine here: every problem holds ``groups``
independent groups of beams; each active beam proposes ``beam_width`` next steps, the PRM scores
them, and each group keeps its ``keep`` best. Beam search is 1 group keeping N/M; DVTS is N/M groups
keeping 1. Proposals that finish (EOS or a final answer) and survive are set aside as candidates;
every round a group still spends its ``beam_width * keep`` proposals, spread over its live beams.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.models.aggregate import aggregate
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, expand, finalize, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["beam_search", "dvts"]


def beam_search(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """Keep the N / beam_width best distinct step prefixes per problem; each proposes beam_width next steps."""
    config.check_width("beam")
    keep = config.n // config.beam_width
    return _grouped_search("beam", task, generator, scorer, problems, config, budget, groups=1, keep=keep)


def dvts(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """N / beam_width independent subtrees per problem, each greedily following the PRM."""
    config.check_width("dvts")
    groups = config.n // config.beam_width
    return _grouped_search("dvts", task, generator, scorer, problems, config, budget, groups=groups, keep=1)


def _best_distinct(kids: list[Partial], values: list[float], keep: int) -> list[Partial]:
    """The ``keep`` best proposals, skipping exact duplicates of a step prefix already kept
    (identical beams waste the budget; search-and-learn filters them the same way)."""
    seen: set[tuple[str, ...]] = set()
    kept: list[Partial] = []
    for k in sorted(range(len(kids)), key=lambda k: -values[k]):
        key = tuple(kids[k].steps)
        if key not in seen:
            seen.add(key)
            kept.append(kids[k])
        if len(kept) == keep:
            break
    return kept


def _spread(proposals: int, beams: int) -> list[int]:
    """How many next steps each of a group's live beams (best first) proposes: the group's whole
    budget of ``beam_width * keep`` proposals every round, so that beams which finished early hand
    their share to the live ones (as search-and-learn refills its active beams to N)."""
    share, extra = divmod(proposals, beams) if beams else (0, 0)
    return [share + (b < extra) for b in range(beams)]


def _rank_value(partial: Partial, config: SearchConfig) -> float:
    return aggregate(partial.scores, config.aggregation)


def _grouped_search(
    method: str,
    task: Task,
    generator: Generator,
    scorer: Scorer,
    problems: Sequence[Problem],
    config: SearchConfig,
    budget: Budget,
    *,
    groups: int,
    keep: int,
) -> list[SearchResult]:
    # active[i][g]: the live prefixes of group g of problem i; done[i]: finished survivors
    active = [[[Partial()] for _ in range(groups)] for _ in problems]
    done: list[list[Partial]] = [[] for _ in problems]
    for depth in range(config.max_steps):
        requests, owners = [], []
        for i, problem in enumerate(problems):
            for g, beams in enumerate(active[i]):
                for beam, width in zip(beams, _spread(config.beam_width * keep, len(beams))):
                    requests.append((problem, beam, width))
                    owners.append((i, g))
        if not requests:
            break
        children = expand(
            task, generator, requests, temperature=config.temperature,
            max_step_tokens=config.max_step_tokens, seed=config.seed + 1000 * depth,
        )
        proposals: dict[tuple[int, int], list[Partial]] = {}
        for owner, kids in zip(owners, children):
            proposals.setdefault(owner, []).extend(kids)
        ranked = _lookahead_values(task, generator, scorer, problems, proposals, config, depth)
        for (i, g), kids in proposals.items():
            survivors = _best_distinct(kids, ranked[(i, g)], keep)
            done[i].extend(s for s in survivors if s.finished)
            active[i][g] = [s for s in survivors if not s.finished]
    for i in range(len(problems)):  # out of steps: unfinished beams still count as candidates
        for beams in active[i]:
            done[i].extend(beams)
    budget.stop()
    return [
        finalize(task, p, method, done[i], budget, selection=config.selection, aggregation=config.aggregation)
        for i, p in enumerate(problems)
    ]


def _lookahead_values(
    task: Task,
    generator: Generator,
    scorer: Scorer,
    problems: Sequence[Problem],
    proposals: dict[tuple[int, int], list[Partial]],
    config: SearchConfig,
    depth: int,
) -> dict[tuple[int, int], list[float]]:
    """Score all proposals (one scorer call); with lookahead, rank by a greedy k-step rollout's score."""
    flat = [(problems[i], kid) for (i, _), kids in proposals.items() for kid in kids]
    score_partials(scorer, flat)
    probes = {key: list(kids) for key, kids in proposals.items()}
    for step in range(config.lookahead):
        live = [(key, k) for key, kids in probes.items() for k, kid in enumerate(kids) if not kid.finished]
        if not live:
            break
        rolled = expand(
            task, generator, [(problems[key[0]], probes[key][k], 1) for key, k in live],
            temperature=0.0, max_step_tokens=config.max_step_tokens, seed=config.seed + 1000 * depth + step,
        )
        for (key, k), (child,) in zip(live, rolled):
            probes[key][k] = child
        score_partials(scorer, [(problems[key[0]], probes[key][k]) for key, k in live])
    return {key: [_rank_value(kid, config) for kid in kids] for key, kids in probes.items()}
