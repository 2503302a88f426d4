"""The GSM8K task over local files (a 3-record slice of the official test set, MIT)."""

from pathlib import Path

import pytest

from prmkit.tasks import Task, load_task

DATA = Path(__file__).parent / "fixtures" / "gsm8k_task"


def test_reads_problems_and_grades_answers():
    task = load_task("gsm8k", data_dir=DATA)
    assert isinstance(task, Task) and task.step_separator == "\n"
    problems = task.problems("test")
    assert [p.id for p in problems] == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    janet = problems[0]
    assert janet.answer == "18" and janet.question.startswith("Janet")
    assert janet.question in task.prompt(janet) and task.prompt(janet).endswith("\n")
    text = "She has 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = 18 dollars.\nThe answer is 18.\n"
    assert task.split_steps(text) == ["She has 16 - 3 - 4 = 9 eggs.", "She makes 9 * 2 = 18 dollars.", "The answer is 18."]
    assert task.extract_answer(text) == "18" and task.is_correct("18", janet)
    assert task.is_correct(task.extract_answer("so #### 18.0"), janet)
    assert not task.is_correct("17", janet) and not task.is_correct(None, janet)
    assert task.first_error(janet, task.split_steps(text)) is None  # no exact step checker
    assert len(load_task("gsm8k", data_dir=DATA, limit=2).problems("test")) == 2


def test_missing_split_names_the_file_and_the_splits_found():
    task = load_task("gsm8k", data_dir=DATA)
    with pytest.raises(FileNotFoundError, match=r"train\.jsonl.*\['test'\]"):
        task.problems("train")
    with pytest.raises(ValueError, match="question"):
        load_task("gsm8k", data_dir=DATA, prompt_template="no field")
