import json
import threading
import time

import pytest

from prmkit.answers import extract_answer, grade, normalize_answer
from tests._data import needs_shared, shared

GSM8K_SOLUTIONS = shared("gsm8k", "example_model_solutions.jsonl")
needs_gsm8k = needs_shared("gsm8k", "example_model_solutions.jsonl")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),  # last box, nested braces
        ("\\fbox{42}", "42"),
        ("Janet makes 9 * 2 = $18.\n#### 18", "18"),
        ("#### 1,000", "1,000"),
        ("So the GCF is 320,000.\n\n# Answer\n\n320,000", "320,000"),  # PRM800K
        ("She makes 13 * 2 = $26\nA: 26", "26"),  # GSM8K example model solutions
        ("Step 5: The waiter ate 52 slices. The answer is: 52", "52"),  # Math-Shepherd
        ("The final answer is $\\frac{5}{6}$. I hope it is correct.", "\\frac{5}{6}"),  # Minerva
        ("The answer is 18.", "18"),
        ("The answer is \\boxed{7}.", "7"),
        ("\\boxed{3}\n#### 4", "3"),  # boxed wins over the other markers
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize("text", [None, "", "I am not sure.", "\\boxed{}", "\\boxed{unclosed"])
def test_extract_answer_none(text):
    assert extract_answer(text) is None


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ("1,000", "1000"),
        ("\\frac{1}{2}", "0.5"),
        ("\\dfrac12", "1/2"),
        ("$18", "18"),
        ("18 dollars", "18"),
        ("\\$1,000.00", "1000"),
        ("50\\%", "50"),
        ("50%", "0.5"),
        ("x = 3", "3"),
        ("10.0", "10"),
        ("\\text{(A)}", "A"),
    ],
)
def test_grade_equivalent(predicted, gold):
    assert grade(predicted, gold) is True


@pytest.mark.parametrize(
    ("predicted", "gold"),
    [("2", "3"), ("5 x", "5"), ("(1,2)", "12"), ("1/3", "0.3"), (None, "3"), ("3", None), ("", "3"), ("\\frac{", "1"), ("abc", "7")],
)
def test_grade_not_equal_never_raises(predicted, gold):
    assert grade(predicted, gold) is False


def test_grade_off_the_main_thread_uses_the_exact_fallback():
    results = {}

    def work():
        results["frac"] = grade("1/2", "\\frac{1}{2}")
        results["percent"] = grade("50%", "0.5")
        results["commas"] = grade("1,000", "1000")
        results["wrong"] = grade("2", "3")
        results["symbolic"] = grade("x = 3", "3")  # needs math-verify: not shown equal by the fallback

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert results == {"frac": True, "percent": True, "commas": True, "wrong": False, "symbolic": False}


def test_grade_pathological_input_is_bounded_by_the_timeout():
    start = time.perf_counter()
    outcome = grade("9^{9^{9^{9^{9}}}}", "10^{10^{10^{10}}}", timeout=1)
    assert outcome is False
    assert time.perf_counter() - start < 6


def test_normalize_answer():
    assert normalize_answer(" $1,234.5 ") == "1234.5"
    assert normalize_answer("\\text{ cm}") == "cm"
    assert normalize_answer("(1,2)") == "(1,2)"  # not a thousands separator


def _gsm8k_agreement(limit: int | None) -> tuple[int, list[str]]:
    """Grade every model solution's extracted answer against the gold ``A: N``; list disagreements."""
    total, disagreements = 0, []
    with GSM8K_SOLUTIONS.open() as handle:
        for line_number, line in enumerate(handle, 1):
            if limit is not None and line_number > limit:
                break
            record = json.loads(line)
            gold = extract_answer(record["ground_truth"])
            for model, entry in record.items():
                if not isinstance(entry, dict):
                    continue
                predicted = extract_answer(entry["solution"])
                total += 1
                if grade(predicted, gold) != entry["is_correct"]:
                    disagreements.append(
                        f"line {line_number} {model}: predicted={predicted!r} gold={gold!r} is_correct={entry['is_correct']}"
                    )
    return total, disagreements


@needs_gsm8k
def test_gsm8k_grading_agrees_with_is_correct_on_a_slice():
    total, disagreements = _gsm8k_agreement(limit=75)  # 75 problems x 4 models = 300 solutions
    assert total == 300
    assert len(disagreements) <= 0.01 * total, "\n".join(disagreements)


@pytest.mark.slow
@needs_gsm8k
def test_gsm8k_grading_agrees_with_is_correct_on_all_5276_solutions():
    total, disagreements = _gsm8k_agreement(limit=None)
    assert total == 5276
    assert len(disagreements) <= 0.01 * total, "\n".join(disagreements)
