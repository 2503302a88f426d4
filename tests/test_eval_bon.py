import itertools
import json
import os

import pytest

from prmkit.evaluate.bon import (
    bon_record,
    default_ks,
    evaluate,
    pass_at_k,
    read_bon,
    write_bon,
)
from prmkit.io._jsonl import FormatError
from prmkit.types import Problem, Solution
from tests._data import shared


def _cand(answer, correct, scores, tokens=None):
    out = {"answer": answer, "correct": correct, "scores": scores}
    if tokens is not None:
        out["num_tokens"] = tokens
    return out


# min-aggregated scores: 0.25, 0.6, 0.8, 0.3
TINY = {
    "problem_id": "p0",
    "candidates": [
        _cand("4", True, [0.9, 0.25]),
        _cand("4.0", True, [0.6]),
        _cand("5", False, [0.8]),
        _cand("6", False, [0.3, 0.7]),
    ],
}


def test_pass_at_k_estimator_equals_exhaustive_subset_average():
    for n, c in [(4, 2), (7, 3), (6, 0), (5, 5)]:
        flags = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            exhaustive = sum(any(flags[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(exhaustive)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_pass_at_k_matches_the_papers_numerically_stable_estimator():
    """Chen et al. (2021), Fig. 3: 1 - prod(1 - k / arange(n - c + 1, n + 1)), or 1.0 when n - c < k."""
    import numpy as np

    def chen(n, c, k):
        return 1.0 if n - c < k else 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))

    for n in (1, 5, 16, 100, 200):
        for c in sorted({0, 1, n // 3, n - 1, n}):
            for k in sorted({1, min(2, n), n // 2, n} - {0}):
                assert pass_at_k(n, c, k) == pytest.approx(chen(n, c, k), abs=1e-12)


def test_golden_tiny_case_all_selection_rules():
    result = evaluate([TINY], ks=[1, 2, 3, 4], aggregations=["min"])
    assert result["pass@k"] == pytest.approx({"1": 50.0, "2": 100 * 5 / 6, "3": 100.0, "4": 100.0})
    # majority@2 over the 6 pairs: {0,1} agree on "4" (= "4.0") -> 1; 4 mixed pairs tie -> 1/2; {2,3} -> 0
    assert result["majority@k"]["2"] == pytest.approx(50.0)
    assert result["majority@k"]["4"] == pytest.approx(100.0)
    # best-of-k by min score: only pairs {0,1} and {1,3} pick candidate 1 (correct) -> 2/6; k=4 picks 0.8 (wrong)
    assert result["best_of_k"]["min"] == pytest.approx({"1": 50.0, "2": 100 / 3, "3": 25.0, "4": 0.0})
    # weighted vote: "4" sums 0.25 + 0.6 = 0.85 > 0.8 when both are in the subset
    assert result["weighted_vote@k"]["min"] == pytest.approx({"1": 50.0, "2": 100 / 3, "3": 50.0, "4": 100.0})
    assert result["ks"] == [1, 2, 3, 4] and result["num_problems"] == 1


def test_ties_count_as_a_uniform_random_pick_and_missing_answers_never_win():
    record = {
        "problem_id": "t",
        "candidates": [_cand("1,000", True, [0.5]), _cand("7", False, [0.5]), _cand(None, False, [0.99])],
    }
    result = evaluate([record], ks=[3], aggregations=["last"])
    assert result["best_of_k"]["last"]["3"] == 0.0  # the unanswered candidate has the top score
    assert result["majority@k"]["3"] == pytest.approx(50.0)  # "1,000" vs "7": one vote each
    assert result["weighted_vote@k"]["last"]["3"] == pytest.approx(50.0)
    record["candidates"][1]["answer"] = "1000"  # now equivalent to "1,000"
    record["candidates"][1]["correct"] = True
    assert evaluate([record], ks=[3], aggregations=["last"])["majority@k"]["3"] == 100.0


def test_random_subsets_are_seeded_and_close_to_exact():
    candidates = [_cand(str(i % 3), i % 3 == 0, [((i * 37) % 10) / 10 + 0.05]) for i in range(10)]
    records = [{"problem_id": "r", "candidates": candidates}]
    sampled = evaluate(records, ks=[5], samples=60, seed=7)
    again = evaluate(records, ks=[5], samples=60, seed=7)
    exact = evaluate(records, ks=[5], samples=1000)  # C(10, 5) = 252 <= 1000: every subset
    assert sampled == again
    for how in ("min", "mean"):
        assert abs(sampled["best_of_k"][how]["5"] - exact["best_of_k"][how]["5"]) < 20
    assert sampled["pass@k"] == exact["pass@k"]


def test_default_ks_ragged_n_and_tokens():
    assert default_ks(8) == [1, 2, 4, 8] and default_ks(6) == [1, 2, 4, 6] and default_ks(1) == [1]
    records = [
        {"problem_id": "a", "candidates": [_cand("1", True, [0.9], 10), _cand("2", False, [0.1], 30)]},
        {"problem_id": "b", "candidates": [_cand("1", False, [0.9], 5)] * 3},
    ]
    result = evaluate(records)
    assert result["ks"] == [1, 2] and result["n"] == 2
    assert result["tokens@k"] == pytest.approx({"1": (20 + 5) / 2, "2": (40 + 10) / 2})
    with pytest.raises(ValueError, match="outside 1..2"):
        evaluate(records, ks=[3])


def test_bon_record_round_trip_and_validation(tmp_path):
    problem = Problem(id="q1", question="2+2?", answer="4")
    solutions = [
        Solution(problem_id="q1", steps=["2+2=4", "So 4"], answer="4", correct=True, meta={"num_tokens": 12}),
        Solution(problem_id="q1", steps=["2+2=5"], answer="5", correct=False),
    ]
    record = bon_record(problem, solutions, [[0.9, 0.8], [0.2]])
    assert record == {
        "problem_id": "q1",
        "candidates": [
            {"answer": "4", "correct": True, "scores": [0.9, 0.8], "num_tokens": 12},
            {"answer": "5", "correct": False, "scores": [0.2]},
        ],
    }
    path = tmp_path / "bon.jsonl"
    write_bon(path, [record])
    assert read_bon(path) == [record]
    with pytest.raises(ValueError, match="steps but 1 scores"):
        bon_record(problem, solutions, [[0.9], [0.2]])
    bad = dict(record, candidates=[{"answer": "4", "correct": "yes", "scores": []}])
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(FormatError, match=r"problem 'q1'.*candidates\[0\].*'correct'"):
        read_bon(path)


def test_real_gsm8k_model_solutions_as_bon_data():
    """4 real graded solutions per GSM8K test problem; constant PRM scores make best-of-k a random pick."""

    path = shared("gsm8k", "example_model_solutions.jsonl")
    if not path.exists() and not os.environ.get("CI"):
        pytest.skip(f"shared data {path} not present")
    records = []
    for i, line in enumerate(path.read_text().splitlines()[:200]):
        raw = json.loads(line)
        sources = [key for key in raw if isinstance(raw[key], dict) and "is_correct" in raw[key]]
        candidates = []
        for key in sources:
            text = raw[key]["solution"]
            answer = text.rsplit("A:", 1)[1].strip() if "A:" in text else None
            candidates.append(_cand(answer, bool(raw[key]["is_correct"]), [0.5] * len(text.split("\n"))))
        records.append({"problem_id": f"gsm8k-{i}", "candidates": candidates})
    assert all(len(r["candidates"]) == 4 for r in records)
    result = evaluate(records, aggregations=["min"])
    any_correct = 100 * sum(any(c["correct"] for c in r["candidates"]) for r in records) / len(records)
    mean_correct = 100 * sum(c["correct"] for r in records for c in r["candidates"]) / (4 * len(records))
    assert result["pass@k"]["4"] == pytest.approx(any_correct)
    assert result["pass@k"]["1"] == pytest.approx(mean_correct)
    for k in ("1", "2", "4"):  # all scores tie -> best-of-k is a uniform pick -> expected accuracy = pass@1
        assert result["best_of_k"]["min"][k] == pytest.approx(mean_correct)
    assert result["majority@k"]["1"] == pytest.approx(mean_correct)


def test_reads_what_search_writes(tmp_path):
    """The search stage's SearchResult.to_dict() lines (with extra fields) are valid best-of-N input."""
    from prmkit.search import Candidate, SearchResult

    candidates = [
        Candidate(steps=["a", "b"], scores=[0.9, 0.8], num_tokens=10, answer="3", correct=True),
        Candidate(steps=["c"], scores=[0.4], num_tokens=6, answer="4", correct=False),
    ]
    line = SearchResult(problem_id="p", method="best_of_n", candidates=candidates, chosen=0, budget={}).to_dict()
    path = tmp_path / "search.jsonl"
    write_bon(path, [line])
    result = evaluate(read_bon(path), aggregations=["min"])
    assert result["best_of_k"]["min"]["2"] == 100.0 and result["tokens@k"]["2"] == 16.0
    line["candidates"][1]["correct"] = None  # ungraded candidates cannot be evaluated
    write_bon(path, [line])
    with pytest.raises(FormatError, match=r"candidates\[1\].*'correct'"):
        read_bon(path)


def test_cli_evaluates_a_multi_method_search_output_per_run_and_says_when_k_is_capped(tmp_path):
    """`prmkit search --method a --method b` writes a line per problem per method: one run each, not 2x the problems."""
    from typer.testing import CliRunner

    from prmkit.cli import app

    def line(pid, method, n, correct):
        candidates = [{"answer": str(j), "correct": j == 0 and correct, "scores": [0.9 - 0.1 * j]} for j in range(n)]
        return json.dumps({"problem_id": pid, "method": method, "meta": {"n": n}, "candidates": candidates})

    data = tmp_path / "search.jsonl"
    data.write_text("\n".join([line("p0", "beam", 4, True), line("p1", "beam", 4, False),
                               line("p0", "best_of_n", 2, True), line("p1", "best_of_n", 2, True)]) + "\n")
    out = tmp_path / "bon.json"
    result = CliRunner().invoke(app, ["eval", "bon", "--data", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert set(runs) == {"beam N=4", "best_of_n N=2"}
    assert runs["beam N=4"]["num_problems"] == 2 and runs["beam N=4"]["ks"][-1] == 4
    assert runs["beam N=4"]["best_of_k"]["min"]["1"] < runs["best_of_n N=2"]["best_of_k"]["min"]["1"]

    mixed = tmp_path / "mixed.jsonl"  # one run, unequal candidate counts: k stops at 2, and it is said
    mixed.write_text(line("p0", "beam", 4, True) + "\n" + line("p1", "beam", 2, True).replace('"n": 2', '"n": 4') + "\n")
    result = CliRunner().invoke(app, ["eval", "bon", "--data", str(mixed), "--output", str(out)])
    assert result.exit_code == 0 and "k stops at 2" in " ".join(result.output.split()) and "'p1'" in result.output


def test_intervals_are_a_bootstrap_over_problems_around_each_point():
    from prmkit.evaluate.bootstrap import bootstrap_interval

    solved = {"problem_id": "a", "candidates": [_cand("1", True, [0.9]), _cand("1", True, [0.8])]}
    unsolved = {"problem_id": "b", "candidates": [_cand("2", False, [0.9]), _cand("3", False, [0.8])]}
    same = evaluate([solved, {**solved, "problem_id": "c"}], aggregations=("min",), progress=False, intervals=True)
    assert same["intervals"]["pass@k"] == {"1": [100.0, 100.0], "2": [100.0, 100.0]}  # no spread between problems
    records = [solved, unsolved] * 10
    for i, record in enumerate(records):
        record = records[i] = {**record, "problem_id": f"p{i}"}
    mixed = evaluate(records, aggregations=("min",), progress=False, intervals=True, seed=3)
    low, high = mixed["intervals"]["weighted_vote@k"]["min"]["2"]
    assert low < mixed["weighted_vote@k"]["min"]["2"] == 50.0 < high
    # the same problem sets as the generic bootstrap with that seed
    assert (low, high) == pytest.approx(bootstrap_interval([100.0 * (i % 2 == 0) for i in range(20)],
                                                           lambda g: sum(g) / len(g), seed=3))
    assert "intervals" not in evaluate(records, aggregations=("min",), progress=False)
