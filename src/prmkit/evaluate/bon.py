"""Best-of-N evaluation: how accuracy grows with the number of sampled candidates N, per selection rule.

Input schema (what ``prmkit eval bon`` reads and the search stage writes), one JSON line per problem::

    {"problem_id": "gsm8k-17",
     "candidates": [{"answer": "42" | null,        # extracted final answer (null: none found)
                     "correct": true,               # is that answer right
                     "scores": [0.9, 0.7, ...],     # PRM score per step (null for an unscored step)
                     "num_tokens": 312},            # optional: policy tokens spent on it
                    ...]}

:func:`bon_record` builds one such line from a problem, its solutions and their step scores, and
:func:`write_bon` / :func:`read_bon` write and validate files of them.

Metrics, for k = 1, 2, 4, ..., N (and N itself), in percent, averaged over problems:

* ``pass@k``: some of k random candidates is correct — the unbiased estimator
  ``1 - C(n - c, k) / C(n, k)`` (Chen et al., 2021, "Evaluating Large Language Models Trained on
  Code", eq. 1), which is exactly the average over all k-subsets.
* ``majority@k``: the most frequent *equivalent answer* among k candidates is correct.
* ``best_of_k[agg]``: the candidate with the highest aggregated PRM score is correct.
* ``weighted_vote@k[agg]``: the answer with the largest sum of aggregated PRM scores is correct.

``agg`` is each of ``min, last, product, mean, softmin`` — :func:`prmkit.models.aggregate.aggregate`,
the same function search uses. Two answers are *equivalent* when
:func:`prmkit.search.vote.answer_key` maps them to the same normalised string (surrounding
whitespace, ``$`` and a trailing period dropped, thousands separators removed, numbers compared by
value: ``"3.0" == "3"``, ``"1,000" == "1000"``) — the rule search's votes use. Candidates without an
answer never win a vote.

Selection metrics are averaged over random k-subsets (not just the first k), drawn with a seeded
numpy generator; when there are at most ``samples`` distinct k-subsets, all of them are used, so the
result is exact. Ties (equal scores or vote totals) are counted as a uniformly random pick among the
tied candidates/answers, i.e. by the fraction of tied ones that are correct — the same expectation
as :func:`prmkit.search.vote.select`'s "earliest wins" over a randomly ordered subset. An answer
group's correctness is the fraction of its members marked correct (0 or 1 when, as expected,
equivalent answers share correctness). A subset where no candidate has an answer scores, for the
votes, the fraction of its candidates marked correct.

When problems have different numbers of candidates, k runs up to the smallest N (``prmkit eval bon``
says so, naming a problem with the fewest). Lines of several search runs (methods / N) are
evaluated per run: :func:`group_runs`.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from prmkit.io._jsonl import FormatError, read_jsonl, require, write_jsonl
from prmkit.models.aggregate import AGGREGATIONS, aggregate
from prmkit.search.vote import answer_key
from prmkit.types import Problem, Solution

__all__ = ["evaluate", "read_bon", "write_bon", "bon_record", "candidate_counts", "group_runs", "pass_at_k", "default_ks"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for ``c`` correct of ``n`` candidates: ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to ``n``, plus ``n`` itself when it is not a power of two."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks and ks[-1] != n:
        ks.append(n)
    return ks


def bon_record(
    problem: Problem | str,
    solutions: Sequence[Solution],
    scores: Sequence[Sequence[float | None]],
) -> dict[str, Any]:
    """Build one best-of-N input line from a problem, its N solutions and their step scores.

    Args:
        problem: the :class:`~prmkit.types.Problem` (or its id).
        solutions: N solutions with ``answer`` and ``correct`` set; ``meta["num_tokens"]`` is copied
            when present.
        scores: N lists of step scores, one score per step of the matching solution.

    Raises:
        ValueError: lengths differ, or a solution has ``correct=None`` (grade it first).
    """
    problem_id = problem if isinstance(problem, str) else problem.id
    if len(solutions) != len(scores):
        raise ValueError(f"problem {problem_id!r}: {len(solutions)} solutions but {len(scores)} score lists")
    candidates = []
    for i, (solution, row) in enumerate(zip(solutions, scores)):
        if solution.correct is None:
            raise ValueError(f"problem {problem_id!r}, solution {i}: correct is None; grade the answer first")
        if len(row) != len(solution.steps):
            raise ValueError(
                f"problem {problem_id!r}, solution {i}: {len(solution.steps)} steps but {len(row)} scores"
            )
        candidate: dict[str, Any] = {
            "answer": solution.answer,
            "correct": bool(solution.correct),
            "scores": [None if s is None else float(s) for s in row],
        }
        if isinstance(solution.meta.get("num_tokens"), int):
            candidate["num_tokens"] = solution.meta["num_tokens"]
        candidates.append(candidate)
    return {"problem_id": problem_id, "candidates": candidates}


def _validate(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    problem_id = require(record, "problem_id", str, where)
    where = f"{where} (problem {problem_id!r})"
    candidates = require(record, "candidates", list, where)
    if not candidates:
        raise FormatError(f"{where}: field 'candidates' is empty; each problem needs at least one candidate")
    for j, candidate in enumerate(candidates):
        at = f"{where}, candidates[{j}]"
        if not isinstance(candidate, dict):
            raise FormatError(f"{at}: expected an object, got {type(candidate).__name__}")
        if candidate.get("answer") is not None and not isinstance(candidate["answer"], str):
            raise FormatError(f"{at}: field 'answer' should be a string or null, got {candidate['answer']!r:.80}")
        require(candidate, "correct", bool, at)
        for i, s in enumerate(require(candidate, "scores", list, at)):
            if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= 1):
                raise FormatError(f"{at}: scores[{i}] = {s!r} is not a probability in [0, 1] or null")
        tokens = candidate.get("num_tokens")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int)):
            raise FormatError(f"{at}: field 'num_tokens' should be an int, got {tokens!r}")
    return dict(record)


def read_bon(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read and validate a best-of-N JSONL file (schema in the module docstring).

    Raises:
        FormatError: names the file, line, problem, candidate and field that is wrong.
    """
    return [_validate(record, f"{path}:{line}") for line, record in read_jsonl(path)]


def group_runs(records: Sequence[Mapping[str, Any]], where: str = "input") -> dict[str, list[dict[str, Any]]]:
    """Split best-of-N lines into runs: one per (``method``, ``meta.n``) of a ``prmkit search`` output.

    ``prmkit search --method beam --method best_of_n --n 4 --n 16`` writes one line per problem *per
    method and N*; evaluated together they would count each problem several times and cap k at the
    smallest N. Lines without a ``method`` form the run ``"all"``.

    Returns:
        ``{"<method> N=<n>" or "all": lines}`` in first-seen order.

    Raises:
        FormatError: a problem appears twice within one run (names the run and the problem).
    """
    runs: dict[str, list[dict[str, Any]]] = {}
    seen: dict[str, set[str]] = {}
    for record in records:
        method, n = record.get("method"), (record.get("meta") or {}).get("n")
        label = "all" if method is None else (f"{method} N={n}" if n is not None else str(method))
        if record["problem_id"] in seen.setdefault(label, set()):
            raise FormatError(f"{where}: problem {record['problem_id']!r} appears twice in run {label!r}; "
                              "keep one line per problem (and method/N)")
        seen[label].add(record["problem_id"])
        runs.setdefault(label, []).append(dict(record))
    return runs


def candidate_counts(records: Sequence[Mapping[str, Any]]) -> tuple[int, int, str]:
    """``(smallest, largest, a problem with the smallest)`` number of candidates: k stops at the smallest."""
    fewest = min(records, key=lambda r: len(r["candidates"]))
    return len(fewest["candidates"]), max(len(r["candidates"]) for r in records), str(fewest["problem_id"])


def write_bon(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write best-of-N lines atomically; return how many were written."""
    return write_jsonl(path, records)


def _subsets(n: int, k: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """(m, k) candidate indices: every k-subset when there are at most ``samples``, else ``samples`` random ones."""
    if math.comb(n, k) <= samples:
        return np.array(list(itertools.combinations(range(n), k)), dtype=int).reshape(-1, k)
    return np.argsort(rng.random((samples, n)), axis=1)[:, :k]


def _pick_max(values: np.ndarray, correct: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per row of ``values`` (m, g): fraction correct among the eligible maxima; NaN when none is eligible."""
    masked = np.where(eligible, np.round(values, 12), -np.inf)
    top = masked.max(axis=1, keepdims=True)
    winners = eligible & (masked == top)
    count = winners.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (winners * correct).sum(axis=1) / np.maximum(count, 1), np.nan)


def _vote(groups: np.ndarray, correct: np.ndarray, weights: np.ndarray, num_groups: int) -> np.ndarray:
    """Expected correctness (m,) of voting with ``weights`` (m, k) over answer ``groups`` (m, k)."""
    onehot = groups[..., None] == np.arange(num_groups)  # (m, k, g)
    members = onehot.sum(axis=1)  # (m, g)
    totals = (onehot * weights[..., None]).sum(axis=1)  # (m, g)
    group_correct = (onehot * correct[..., None]).sum(axis=1) / np.maximum(members, 1)  # (m, g)
    picked = _pick_max(totals, group_correct, members > 0)
    return np.where(np.isnan(picked), correct.mean(axis=1), picked)


def evaluate(
    records: Sequence[Mapping[str, Any]],
    ks: Sequence[int] | None = None,
    aggregations: Sequence[str] = AGGREGATIONS,
    samples: int = 100,
    seed: int = 0,
    temperature: float = 0.1,
    progress: bool = True,
    intervals: bool = False,
    resamples: int = 1000,
) -> dict[str, Any]:
    """Best-of-N accuracy curves (see the module docstring for every definition).

    Args:
        records: best-of-N lines (the schema above), e.g. from :func:`read_bon`.
        ks: subset sizes; default :func:`default_ks` of the smallest candidate count.
        aggregations: step-score aggregations for best-of-k and weighted vote.
        samples: random k-subsets per problem and k (all subsets when there are at most this many).
        seed: seed of the subset sampler.
        temperature: softmin temperature, passed to :func:`~prmkit.models.aggregate.aggregate`.
        progress: show a progress bar over problems.
        intervals: also return 95 % percentile-bootstrap intervals over problems for every point
            (:func:`prmkit.evaluate.bootstrap.ratio_interval`; the same resampled problem sets, drawn
            with ``seed``, for every curve and k).
        resamples: bootstrap draws when ``intervals``.

    Returns:
        ``{"num_problems", "n", "ks", "samples", "seed", "pass@k": {k: %}, "majority@k": {k: %},
        "best_of_k": {agg: {k: %}}, "weighted_vote@k": {agg: {k: %}}}`` plus ``"tokens@k"`` (mean
        policy tokens of k candidates) when every candidate has ``num_tokens``. Keys k are strings.
        With ``intervals``: ``"intervals"`` = the same nesting with ``[low, high]`` per k (percent),
        and ``"interval_level": 0.95``, ``"resamples"``.

    Raises:
        ValueError: no records, a k outside 1..smallest N, ``samples < 1``, or an unknown aggregation.
    """
    if not records:
        raise ValueError("best-of-N evaluation needs at least one problem")
    for how in aggregations:
        if how not in AGGREGATIONS:
            raise ValueError(f"Unknown aggregation {how!r}; choose from {', '.join(AGGREGATIONS)}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    n_min = min(len(r["candidates"]) for r in records)
    ks = list(ks) if ks is not None else default_ks(n_min)
    bad = [k for k in ks if not 1 <= k <= n_min]
    if bad:
        raise ValueError(f"k = {bad} outside 1..{n_min} (the smallest number of candidates of any problem)")
    rng = np.random.default_rng(seed)
    series = ["pass", "majority"] + [f"{kind}:{how}" for how in aggregations for kind in ("best", "weighted")]
    per_problem: dict[str, dict[int, list[float]]] = {name: {k: [] for k in ks} for name in series}  # values in [0, 1]
    tokens_known = all("num_tokens" in c for r in records for c in r["candidates"])
    tokens = dict.fromkeys(ks, 0.0)

    from rich.progress import track

    for record in track(records, description="best-of-N", transient=True, disable=not progress):
        candidates = record["candidates"]
        n = len(candidates)
        correct = np.array([float(c["correct"]) for c in candidates])  # (n,)
        keys = [answer_key(c.get("answer")) for c in candidates]
        names = {key: i for i, key in enumerate(dict.fromkeys(k for k in keys if k is not None))}
        groups = np.array([-1 if key is None else names[key] for key in keys])  # (n,)
        values = {how: np.array([aggregate(c["scores"], how, temperature) for c in candidates]) for how in aggregations}
        for k in ks:
            per_problem["pass"][k].append(pass_at_k(n, int(correct.sum()), k))
            subset = _subsets(n, k, samples, rng)  # (m, k)
            sub_groups, sub_correct = groups[subset], correct[subset]
            per_problem["majority"][k].append(float(_vote(sub_groups, sub_correct, np.ones(subset.shape), len(names)).mean()))
            for how in aggregations:
                sub_values = values[how][subset]
                best = _pick_max(sub_values, sub_correct, np.ones(subset.shape, dtype=bool))
                per_problem[f"best:{how}"][k].append(float(best.mean()))
                weighted = _vote(sub_groups, sub_correct, sub_values, len(names))
                per_problem[f"weighted:{how}"][k].append(float(weighted.mean()))
            if tokens_known:
                tokens[k] += k * float(np.mean([c["num_tokens"] for c in candidates]))

    count = len(records)

    def curve(name: str) -> dict[str, float]:
        return {str(k): 100.0 * sum(per_problem[name][k]) / count for k in ks}

    def band(name: str) -> dict[str, list[float]]:
        from prmkit.evaluate.bootstrap import ratio_interval

        return {str(k): [100.0 * v for v in ratio_interval(per_problem[name][k], resamples=resamples, seed=seed)] for k in ks}

    result: dict[str, Any] = {
        "num_problems": count,
        "n": n_min,
        "ks": ks,
        "samples": samples,
        "seed": seed,
        "pass@k": curve("pass"),
        "majority@k": curve("majority"),
        "best_of_k": {how: curve(f"best:{how}") for how in aggregations},
        "weighted_vote@k": {how: curve(f"weighted:{how}") for how in aggregations},
    }
    if tokens_known:
        result["tokens@k"] = {str(k): tokens[k] / count for k in ks}
    if intervals:
        result["intervals"] = {
            "pass@k": band("pass"), "majority@k": band("majority"),
            "best_of_k": {how: band(f"best:{how}") for how in aggregations},
            "weighted_vote@k": {how: band(f"weighted:{how}") for how in aggregations},
        }
        result.update({"interval_level": 0.95, "resamples": resamples})
    return result
