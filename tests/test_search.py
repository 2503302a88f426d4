import pytest

from prmkit.models import load_scorer
from prmkit.search import SearchConfig, run_search, select
from prmkit.search.mcts import Node
from prmkit.search.vote import answer_key
from tests._fake_world import CountTask, ExactScorer, SlipGenerator

METHODS = ["best_of_n", "beam", "dvts", "mcts", "early_reject", "particle_filtering"]


def run(method, problems=None, p=0.3, **cfg):
    task, gen, prm = CountTask(), SlipGenerator(p), ExactScorer()
    problems = problems if problems is not None else task.problems(count=6)
    return run_search(method, task, gen, prm, problems, SearchConfig(**cfg)), gen, prm


def test_answer_key_equivalence():
    assert answer_key(" 1,000. ") == answer_key("1000") == answer_key("1000.0")
    assert answer_key("x+1") == "x+1" and answer_key(None) is None
    # a comma that is not a thousands separator is part of the answer: two roots are not a number
    assert answer_key("2,3") != answer_key("23") and answer_key("1,00") != answer_key("100")


def test_select_rules():
    answers, scores = ["4", "5", "5", None], [[0.9], [0.1], [0.2], [1.0]]
    assert select(answers, scores, "best") == 3
    assert select(answers, scores, "majority") == 2
    assert select(answers, scores, "weighted") == 0
    assert select([None, None], [[0.1], [0.3]], "weighted") == 1  # no answers: falls back to best
    with pytest.raises(ValueError, match="Unknown selection"):
        select(["1"], [[1.0]], "vote")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_one_result_per_problem_with_accounting(method):
    results, gen, prm = run(method, n=8, beam_width=2)
    assert len(results) == 6
    total_tokens = results[0].budget["policy_tokens"]
    assert total_tokens > 0 and results[0].budget["problems"] == 6
    assert results[0].budget["policy_calls"] == len(gen.calls)
    assert results[0].budget["prm_calls"] == prm.calls
    for r in results:
        assert r.candidates and 0 <= r.chosen < len(r.candidates)
        assert all(len(c.scores) == len(c.steps) for c in r.candidates)


@pytest.mark.parametrize("method", METHODS)
def test_batched_across_prompts_call_count_does_not_grow_with_problems(method):
    task = CountTask()
    _, gen_one, _ = run(method, problems=task.problems(count=1), n=8, beam_width=2)
    _, gen_many, _ = run(method, problems=task.problems(count=12), n=8, beam_width=2)
    # One call per round for all problems, +1 for mcts's final completion. DVTS merges subtrees that
    # reach the same prefix into one prompt with more samples, and beam search spreads N proposals
    # over however many beams are still live, so a round may need one call per distinct sample count
    # (at most n / beam_width = 4 of them), still independent of the problems.
    # Particle filtering likewise merges the copies of a resampled prefix: at most n = 8 distinct counts a round.
    widths = {"beam": 4, "dvts": 4, "particle_filtering": 8}
    bound = len(gen_one.calls) * widths[method] if method in widths else len(gen_one.calls) + 1
    assert len(gen_many.calls) <= bound


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_under_seed(method):
    a, _, _ = run(method, n=8, beam_width=2, seed=3)
    b, _, _ = run(method, n=8, beam_width=2, seed=3)
    assert [r.to_dict()["candidates"] for r in a] == [r.to_dict()["candidates"] for r in b]


def test_best_of_n_budget_is_exact_sum_of_tokens():
    results, gen, _ = run("best_of_n", n=4)
    tokens = sum(c.num_tokens for r in results for c in r.candidates)
    assert results[0].budget["policy_tokens"] == tokens
    assert gen.calls == [(6, 4)]


def test_beam_search_proposes_n_per_round_and_keeps_n_over_width():
    results, gen, _ = run("beam", n=8, beam_width=2, p=0.0)
    assert gen.calls[0] == (6, 8)  # the root proposes N first steps
    # no slips: all proposals are the same path, kept once (duplicates waste budget), so that one
    # live beam spends the whole budget of N proposals every round rather than beam_width
    assert all(n == 8 and prompts <= 6 for prompts, n in gen.calls[1:])
    for r in results:
        assert len(r.candidates) == 1 and all(c.correct for c in r.candidates)


def test_beam_search_spreads_n_proposals_over_the_live_beams_best_first():
    from prmkit.search.beam import _spread

    assert _spread(8, 4) == [2, 2, 2, 2]  # all N / width beams alive: beam_width each
    assert _spread(8, 3) == [3, 3, 2]  # one finished: its share goes to the best live beams
    assert _spread(8, 1) == [8] and _spread(8, 0) == []
    results, gen, _ = run("beam", n=8, beam_width=2, p=0.5)
    assert {n for _, n in gen.calls} <= {2, 3, 4, 8}  # shares of 8 over 1-4 live beams


@pytest.mark.parametrize("method", ["beam", "dvts"])
def test_kept_beams_are_distinct_paths(method):
    results, _, _ = run(method, n=8, beam_width=2, p=0.5)
    for r in results:
        paths = [tuple(c.steps) for c in r.candidates if c.finished]
        assert len(paths) == len(set(paths)) if method == "beam" else len(paths) >= 1
    # DVTS subtrees start from distinct first steps when the policy offers them
    assert any(len({tuple(c.steps) for c in r.candidates}) > 1 for r in results)


def test_step_methods_refuse_n_not_a_multiple_of_width():
    for method in ("beam", "dvts", "mcts"):
        with pytest.raises(ValueError, match="multiple of beam_width"):
            run(method, n=6, beam_width=4)


def test_prm_guided_search_beats_majority_vote_with_the_oracle():
    task = CountTask()
    problems = task.problems(count=40)
    majority, _, _ = run("best_of_n", problems=problems, n=8, p=0.6, selection="majority")
    for method in ["best_of_n", "beam", "dvts"]:
        guided, _, _ = run(method, problems=problems, n=8, beam_width=2, p=0.6)
        acc = sum(r.correct for r in guided) / len(guided)
        base = sum(r.correct for r in majority) / len(majority)
        assert acc > base, (method, acc, base)


def test_dvts_has_one_candidate_per_subtree():
    results, _, _ = run("dvts", n=8, beam_width=2)
    assert all(len(r.candidates) == 4 for r in results)


def test_mcts_visit_counts_are_consistent():
    from prmkit.search import mcts as mcts_module

    roots = []
    real_node = mcts_module.Node

    class Spy(real_node):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            if k.get("parent") is None and len(a) < 2:
                roots.append(self)

    mcts_module.Node = Spy
    try:
        results, _, _ = run("mcts", n=24, beam_width=3)
    finally:
        mcts_module.Node = real_node

    def check(node: Node, is_root: bool) -> int:
        child_total = sum(check(c, False) for c in node.children)
        assert node.visits == node.self_visits + child_total
        assert is_root is (node.self_visits == 0) or node.self_visits > 0
        return node.visits

    assert len(roots) == 6
    for root, result in zip(roots, results):
        assert check(root, True) == root.visits == result.meta["root_visits"]
        # every node is one visit when made (distinct proposals only; a widening may add none), re-visits add more
        assert root.visits >= result.meta["tree_size"] >= 1


def test_early_reject_keeps_fraction_and_reports_savings():
    results, gen, _ = run("early_reject", n=8, keep_fraction=0.25, prefix_tokens=6)
    assert all(len(r.candidates) == 2 for r in results)
    assert results[0].meta["estimated_tokens_saved"] > 0
    assert gen.calls[0] == (6, 8) and gen.calls[1][1] == 1


@pytest.mark.parametrize("prefix_tokens", [8, 11, 14])  # at least one whole step fits
def test_early_reject_keeps_better_candidates_with_the_oracle(prefix_tokens):
    task = CountTask()
    problems = task.problems(count=40)
    sampled, _, _ = run("best_of_n", problems=problems, n=8, p=0.3)
    kept, _, _ = run("early_reject", problems=problems, n=8, p=0.3, keep_fraction=0.25, prefix_tokens=prefix_tokens)
    share = lambda results: sum(c.correct for r in results for c in r.candidates) / sum(len(r.candidates) for r in results)  # noqa: E731
    assert share(kept) > share(sampled), (prefix_tokens, share(kept), share(sampled))


def test_works_with_registered_dummy_scorer():
    task = CountTask()
    results = run_search("beam", task, SlipGenerator(), load_scorer("dummy", value=0.5), task.problems(count=2))
    assert len(results) == 2


def test_invalid_config_lists_all_errors():
    with pytest.raises(ValueError, match="n must be >= 1.*selection"):
        SearchConfig(n=0, selection="nope")
    with pytest.raises(ValueError, match="prefix_tokens must be >= 1.*temperature must be >= 0"):
        SearchConfig(prefix_tokens=0, temperature=-0.1)


def test_summarize_splits_run_budget_over_problems_and_plots(tmp_path):
    from prmkit.search.report import plot_budget_curves, summarize

    records = []
    for method in ("best_of_n", "beam"):
        results, _, _ = run(method, n=4, beam_width=2)
        for r in results:
            d = r.to_dict()
            d["meta"]["n"] = 4
            records.append(d)
    rows = summarize(records)
    assert [r["method"] for r in rows] == ["beam", "best_of_n"]
    bon = rows[1]
    expected_tokens = records[0]["budget"]["policy_tokens"] / 6  # records[:6] are best_of_n's
    assert bon["tokens_per_problem"] == pytest.approx(expected_tokens)
    assert bon["accuracy"] == pytest.approx(100 * sum(r["correct"] for r in records[:6]) / 6)
    png = plot_budget_curves(rows, tmp_path / "curve.png", ceiling={"oracle": 90.0})
    assert png.stat().st_size > 1000


def test_summary_table_shows_every_row_with_fixed_precision():
    from rich.console import Console

    from prmkit.search.report import summary_table

    rows = [
        {"method": "beam", "n": 4, "accuracy": 62.5, "tokens_per_problem": 310.4, "prm_calls_per_problem": 1.5,
         "seconds_per_problem": 0.01234},
        {"method": "best_of_n", "n": 16, "accuracy": 100.0 / 3, "tokens_per_problem": 1201.6,
         "prm_calls_per_problem": 2.0, "seconds_per_problem": 0.5},
    ]
    table = summary_table(rows, "arith: accuracy vs compute")
    assert [c.header for c in table.columns] == [
        "method", "N", "accuracy %", "tokens/problem", "PRM calls/problem", "s/problem"]
    assert table.row_count == 2
    console = Console(record=True, width=200)
    console.print(table)
    text = console.export_text()
    assert "arith: accuracy vs compute" in text
    lines = [line.split("│")[1:-1] for line in text.splitlines() if "beam" in line or "best_of_n" in line]
    cells = [[cell.strip() for cell in line] for line in lines]
    assert cells == [["beam", "4", "62.5", "310", "1.50", "0.012"], ["best_of_n", "16", "33.3", "1202", "2.00", "0.500"]]


def test_cli_search_runs_the_shipped_policy_with_the_oracle(tmp_path):
    pytest.importorskip("torch")
    import json

    from typer.testing import CliRunner

    from prmkit.cli import app

    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(app, ["search", "--problems", "2", "--n", "4", "--method", "best_of_n",
                                      "--method", "beam", "--option", "beam_width=2", "--out", str(out), "--plot"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["method"], r["meta"]["n"]) for r in records] == [("best_of_n", 4)] * 2 + [("beam", 4)] * 2
    assert out.with_suffix(".png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["search", "--prm", str(tmp_path / "missing"), "--out", str(out)])
    assert bad.exit_code == 2 and "neither a PRM checkpoint folder" in " ".join(bad.output.split())


def test_mcts_merges_duplicate_proposals_into_one_child_with_the_sampled_prior():
    from prmkit.search._stepwise import Partial
    from prmkit.search.mcts import _add_samples

    root = Node(Partial(), prior_value=1.0)
    a, b = Partial(steps=["1+1=2"]), Partial(steps=["1+1=3"])
    fresh = _add_samples(root, [a, Partial(steps=["1+1=2"]), b, Partial(steps=["1+1=2"])])
    assert [n.partial.steps for n in fresh] == [["1+1=2"], ["1+1=3"]] and [n.count for n in fresh] == [3, 1]
    root.children.extend(fresh)
    assert [n.prior for n in root.children] == [0.75, 0.25]
    # a second expansion of the same node adds to the counts; only a new step is a new child
    again = _add_samples(root, [Partial(steps=["1+1=3"]), Partial(steps=["1+1=4"]), Partial(steps=["1+1=2"]), b])
    assert [n.partial.steps for n in again] == [["1+1=4"]]
    root.children.extend(again)
    assert [n.prior for n in root.children] == [4 / 8, 3 / 8, 1 / 8] and root.samples == 8
    # the same steps finished and unfinished are different children
    assert len(_add_samples(Node(Partial()), [Partial(steps=["x"]), Partial(steps=["x"], finished=True)])) == 2


def test_mcts_widens_where_a_path_broke_instead_of_continuing_a_broken_step():
    from prmkit.search._stepwise import Partial
    from prmkit.search.mcts import WIDEN_LIMIT

    root = Node(Partial(), prior_value=1.0, samples=2)
    good = Node(Partial(steps=["a"]), parent=root, prior_value=1.0, path_score=1.0, count=1, visits=3, value_sum=1.0)
    bad = Node(Partial(steps=["b"]), parent=root, prior_value=0.0, path_score=0.0, count=1, visits=1)
    root.children = [good, bad]
    good.samples = 2
    kid = Node(Partial(steps=["a", "x"]), parent=good, prior_value=0.4, path_score=0.4, count=2, visits=2)
    good.children = [kid]
    leaf = root.select_leaf(c_puct=0.0)
    assert leaf is kid
    # x kept 0.4 of a's path score 1.0: broken (< 0.5); the search samples more steps after a, not after x
    assert kid.broken(0.5) and not good.broken(0.5) and bad.broken(0.5)
    assert kid.widening_target(0.5) is good
    assert kid.widening_target(0.3) is None and kid.widening_target(0.0) is None  # not broken / widening off
    good.exhausted = True  # a node widened WIDEN_LIMIT times is dead with all its children: the widening goes up
    assert good.dead(0.5) and kid.widening_target(0.5) is root and WIDEN_LIMIT == 4
    bad.path_score = 1.0  # ... unless a sibling is still alive: then re-visit, PUCT turns to it
    assert kid.widening_target(0.5) is None


def test_mcts_answers_from_its_finished_solutions_by_the_selection_rule():
    # p=0 never slips: every tree finishes its (single, right) solution; no completion call is needed
    results, gen, _ = run("mcts", n=24, beam_width=3, p=0.0)
    assert all(r.correct and r.meta["terminals"] >= 1 and not r.meta["completed"] for r in results)
    assert all(all(c.finished for c in r.candidates) for r in results)
    # a tree too small to finish anything is completed by one policy sample (one call for all)
    small, gen, _ = run("mcts", n=2, beam_width=2, p=0.0)
    assert all(r.meta["completed"] and r.meta["terminals"] == 0 and len(r.candidates) == 1 for r in small)
    assert gen.calls[-1] == (6, 1)


def test_mcts_with_the_oracle_beats_majority_vote_and_the_fixed_width_tree():
    task = CountTask()
    problems = task.problems(count=40)
    majority, _, _ = run("best_of_n", problems=problems, n=8, p=0.6, selection="majority")
    widened, _, _ = run("mcts", problems=problems, n=16, beam_width=2, p=0.6)
    fixed, _, _ = run("mcts", problems=problems, n=16, beam_width=2, p=0.6, widen_below=0.0)
    accuracy = {name: sum(r.correct for r in rs) / len(rs) for name, rs in
                (("majority", majority), ("widened", widened), ("fixed", fixed))}  # fmt: skip
    assert accuracy["widened"] > accuracy["majority"] and accuracy["widened"] > accuracy["fixed"], accuracy
