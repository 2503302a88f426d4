"""Early rejection: score partial solutions after a fixed token prefix and stop the weakest early.

Reference: "Partial Reward Modeling" / early rejection (Sun et al. 2024, "Fast Best-of-N Decoding
via Speculative Rejection"): a PRM's score of a partial solution already ranks candidates well, so
generating all N to the end wastes tokens on candidates that will lose. Here every candidate gets
``prefix_tokens`` tokens, the PRM scores the steps completed so far, the best ``keep_fraction`` continue to the end, and the result reports the policy
tokens saved versus finishing all N (estimated with the survivors' mean continuation length).
A step cut off by the token limit is not scored (a truncated "8+11=1" would look wrong); only the
steps completed within the prefix rank the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from prmkit.generation import Generator
from prmkit.models import Scorer
from prmkit.models.aggregate import aggregate
from prmkit.search._budget import Budget
from prmkit.search._stepwise import Partial, SearchResult, finalize, sample_solutions, score_partials
from prmkit.search.config import SearchConfig
from prmkit.tasks import Task
from prmkit.types import Problem

__all__ = ["early_reject"]


def early_reject(
    task: Task, generator: Generator, scorer: Scorer, problems: Sequence[Problem], config: SearchConfig, budget: Budget
) -> list[SearchResult]:
    """N prefixes per problem, keep the best ``ceil(keep_fraction * N)``, finish only those."""
    partials, heads = sample_solutions(
        task, generator, problems, n=config.n, max_new_tokens=config.prefix_tokens,
        temperature=config.temperature, seed=config.seed,
    )
    for row, head_row in zip(partials, heads):  # a step cut off by the token limit is not scored
        for part, head in zip(row, head_row):
            if not part.finished and not head.text.endswith(task.step_separator) and part.steps:
                part.steps = part.steps[:-1]
    score_partials(scorer, [(p, part) for p, row in zip(problems, partials) for part in row])
    keep = max(1, math.ceil(config.keep_fraction * config.n))
    survivors = []
    for row, head_row in zip(partials, heads):
        order = sorted(range(len(row)), key=lambda k: -aggregate(row[k].scores, config.aggregation))[:keep]
        survivors.append([(row[k], head_row[k].text) for k in sorted(order)])
    unfinished = [(i, j) for i, row in enumerate(survivors) for j, (part, _) in enumerate(row) if not part.finished]
    tails = generator.complete(
        [task.prompt(problems[i]) + survivors[i][j][1] for i, j in unfinished], n=1, stop=None,
        max_new_tokens=max(1, config.max_new_tokens - config.prefix_tokens),
        temperature=config.temperature, seed=config.seed + 1,
    )
    finals: list[list[Partial]] = [[part for part, _ in row] for row in survivors]
    continuation_tokens = []
    for (i, j), (tail,) in zip(unfinished, tails):
        head_text = survivors[i][j][1]
        finals[i][j] = Partial(
            steps=task.split_steps(head_text + tail.text),
            num_tokens=finals[i][j].num_tokens + tail.num_tokens,
            finished=tail.finish_reason != "length",
        )
        continuation_tokens.append(tail.num_tokens)
    score_partials(scorer, [(p, part) for p, row in zip(problems, finals) for part in row])
    budget.stop()
    mean_tail = sum(continuation_tokens) / len(continuation_tokens) if continuation_tokens else 0.0
    kept_ids = {(i, id(part)) for i, row in enumerate(survivors) for part, _ in row}
    rejected_open = sum(  # only rejected heads that had not finished would have cost more tokens
        1 for i, row in enumerate(partials) for part in row if (i, id(part)) not in kept_ids and not part.finished
    )
    saved = rejected_open * mean_tail
    spent = budget.policy_tokens
    meta = {
        "kept": keep,
        "rejected_per_problem": config.n - keep,
        "estimated_tokens_saved": round(saved),
        "estimated_saved_fraction": round(saved / (spent + saved), 4) if spent + saved else 0.0,
    }
    return [
        finalize(task, p, "early_reject", row, budget, selection=config.selection, aggregation=config.aggregation, meta=meta)
        for p, row in zip(problems, finals)
    ]
