"""The arith task: generation, splits, parsing and the exact step checker (every error kind)."""

import random
from pathlib import Path

import pytest

from prmkit.models import load_scorer
from prmkit.tasks import Task, load_task
from prmkit.tasks.arith import (
    DIFFICULTIES,
    ArithProblem,
    ArithTask,
    Difficulty,
    diagnose,
    make_problem,
)

# Q 12 +5 *3 -9 /6 : 12 -> 17 -> 51 -> 42 -> 7
PROBLEM = ArithProblem(start=12, ops=(("+", 5), ("*", 3), ("-", 9), ("/", 6)))
GOOD = ["12+5=17", "17*3=51", "51-9=42", "42/6=7", "The answer is 7."]


def test_protocol_and_registry():
    task = load_task("arith", difficulty="tiny", num_train=5, num_test=5)
    assert isinstance(task, Task)
    assert task.step_separator == "\n"


def test_seeded_reproducible_and_disjoint_splits():
    a = ArithTask(num_train=2000, num_test=300, seed=3)
    b = ArithTask(num_train=2000, num_test=300, seed=3)
    assert [p.question for p in a.problems("train")] == [p.question for p in b.problems("train")]
    train, test = {p.question for p in a.problems("train")}, {p.question for p in a.problems("test")}
    assert len(train) == 2000 and len(test) == 300 and not train & test
    other = ArithTask(num_train=50, num_test=50, seed=4)
    assert [p.question for p in other.problems("test")] != [p.question for p in a.problems("test")][:50]
    with pytest.raises(ValueError, match="split must be"):
        a.problems("validation")


@pytest.mark.parametrize("level", sorted(DIFFICULTIES))
def test_difficulty_bounds_hold(level):
    d = DIFFICULTIES[level]
    rng = random.Random(level)
    for _ in range(300):
        p = make_problem(rng, d)
        assert d.min_ops <= len(p.ops) <= d.max_ops
        values = p.values()
        assert all(0 <= v <= d.max_value for v in values)
        for (op, b), a in zip(p.ops, values):
            if op == "/":
                assert a % b == 0 and 2 <= b <= d.max_factor
            if op == "*":
                assert 2 <= b <= d.max_factor


def test_operand_size_controls_difficulty():
    small = [make_problem(random.Random(i), DIFFICULTIES["tiny"]) for i in range(200)]
    big = [make_problem(random.Random(i), DIFFICULTIES["hard"]) for i in range(200)]
    assert max(max(p.values()) for p in small) <= 50 < max(max(p.values()) for p in big)
    with pytest.raises(ValueError, match="min_ops"):
        Difficulty(min_ops=3, max_ops=2)


@pytest.mark.parametrize("render", ["compact", "words"])
def test_question_round_trip_and_reference_solution(render):
    task = ArithTask(difficulty="demo", num_test=100, render=render)
    for p in task.problems("test"):
        arith = task.parse_question(p.question)
        assert task.render_question(arith) == p.question
        assert str(arith.answer) == p.answer
        text = task.reference_solution(p)
        steps = task.split_steps(text)
        assert steps == task.reference_steps(p) and len(steps) == len(arith.ops) + 1
        assert task.first_error(p, steps) == -1
        assert task.is_correct(task.extract_answer(text), p)
        # the prompt ends with the separator: a rollout continues from prompt + joined prefix
        assert task.prompt(p).endswith(task.step_separator)


def test_problems_round_trip_through_json():
    import json

    from prmkit.types import Problem

    for p in ArithTask(num_test=20).problems("test"):
        assert Problem.from_dict(json.loads(json.dumps(p.to_dict()))) == p
        assert p.meta["level"] == "demo" and len(p.meta["ops"]) == len(ArithTask.parse_question(p.question).ops)


def test_parse_question_rejects_other_text():
    with pytest.raises(ValueError, match="not an arith question"):
        ArithTask.parse_question("What is 2 + 2?")
    with pytest.raises(ValueError, match="exact"):
        ArithTask.parse_question("Q 7 /2")


def test_all_right_gives_minus_one_and_prefix_is_fine():
    assert diagnose(PROBLEM, GOOD) is None
    assert diagnose(PROBLEM, GOOD[:2]) is None  # a correct unfinished prefix has no wrong step
    # commuted + and *, other spellings of the operators, "Ans N"
    assert diagnose(PROBLEM, ["5 + 12 = 17", "3 x 17 = 51", "51 - 9 = 42", "42 ÷ 6 = 7", "Ans 7"]) is None


@pytest.mark.parametrize(
    ("steps", "index", "kind"),
    [
        (["12+5=18", "18*3=54", "54-9=45", "45/9=5", "The answer is 5."], 0, "arithmetic"),
        (["12+5=17", "17*3=51", "51-9=41", "41/6=7", "The answer is 7."], 2, "arithmetic"),
        (["12+5=17", "17*4=68", "68-9=59"], 1, "wrong_operand"),  # copied the operand wrong
        (["12+5=17", "18*3=54"], 1, "wrong_operand"),  # made-up running value
        (["12+5=17", "17+3=20"], 1, "wrong_operation"),
        (["12+5=17", "17-9=8", "8*3=24"], 1, "skipped_operation"),  # skipped *3
        (["12+5=17", "17*3=51", "The answer is 51."], 2, "skipped_operation"),  # answered early
        (["12+5=17", "17*3=51", "51-9=42", "42/6=7", "The answer is 8."], 4, "wrong_answer"),
        (["12+5=17", "so we multiply", "51-9=42"], 1, "unparseable"),
        (["12+5=17", "17*3=51", "51-9=42", "42/6=7", "7+1=8"], 4, "extra_step"),
        (GOOD + ["The answer is 7."], 5, "extra_step"),
    ],
)
def test_each_error_kind_is_found_at_the_first_wrong_step(steps, index, kind):
    error = diagnose(PROBLEM, steps)
    assert error is not None and (error.index, error.kind) == (index, kind), error


def test_error_propagation_counts_only_the_first_error():
    # step 0 is wrong; the later steps are consistent with it (right arithmetic on the wrong value)
    steps = ["12+5=16", "16*3=48", "48-9=39", "39/3=13", "The answer is 13."]
    task = ArithTask()
    problem = task.problems("test")[0]
    problem.question = "Q 12 +5 *3 -9 /6"
    assert task.first_error(problem, steps) == 0
    assert task.diagnose(problem, steps).kind == "arithmetic"


def test_extract_answer_and_is_correct():
    task = ArithTask(difficulty="tiny", num_test=1)
    p = task.problems("test")[0]
    assert task.extract_answer("1+1=2\nThe answer is 2.\n") == "2"
    assert task.extract_answer("1+1=2\n") is None
    assert task.is_correct(p.answer, p) and not task.is_correct(None, p)
    assert not task.is_correct(str(int(p.answer) + 1), p) and not task.is_correct("abc", p)


def test_oracle_scorer_scores_from_the_exact_checker():
    oracle = load_scorer("arith-oracle")
    bad = ["12+5=17", "17*3=52", "52-9=43", "43/6=7", "The answer is 7."]
    scores = oracle.score([("Q 12 +5 *3 -9 /6", GOOD), ("Q 12 +5 *3 -9 /6\n", bad), ("Q 1 +1", [])])
    assert scores == [[1.0] * 5, [1.0, 0.0, 0.0, 0.0, 0.0], []]
    words = "Start with 12. Add 5. Multiply by 3. Subtract 9. Divide by 6. What is the result?"
    assert oracle.score([(words, ["12 + 5 = 17", "17 * 3 = 50"])]) == [[1.0, 0.0]]
    with pytest.raises(ValueError, match="item 1"):
        oracle.score([("Q 1 +1", ["1+1=2"]), ("How many apples?", ["3"])])


def test_oracle_agrees_with_task_first_error_on_random_corruptions():
    task = ArithTask(difficulty="demo", num_test=200, seed=1)
    oracle = load_scorer("arith-oracle")
    rng = random.Random(0)
    for p in task.problems("test"):
        steps = task.reference_steps(p)
        k = rng.randrange(len(steps))
        head, _, number = steps[k].rstrip(".").rpartition("=" if "=" in steps[k] else " ")
        steps[k] = f"{head}{'=' if '=' in steps[k] else ' '}{int(number) + rng.randint(1, 9)}"
        assert task.first_error(p, steps) == k
        assert oracle.score([(p.question, steps)]) == [[1.0] * k + [0.0] * (len(steps) - k)]


def test_resolve_policy_names_shipped_local_and_hub_policies(tmp_path):
    from prmkit.tasks.arith import resolve_policy

    assert (Path(resolve_policy("demo")) / "config.json").is_file()
    assert resolve_policy("org/some-model") == "org/some-model"  # a hub id (or relative dir) passes through
    assert resolve_policy(str(tmp_path)) == str(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_policy(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_policy("~no-such-user-here/policy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_policy("runs/no/such-dir")  # two '/': not a hub id
