import json
from pathlib import Path

import pytest

from prmkit.io import gsm8k, math_shepherd, prm800k, trl
from prmkit.io._jsonl import FormatError
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels
from tests._data import needs_shared, shared

FIXTURES = Path(__file__).parent / "fixtures" / "io"
GSM8K_DATA = shared("gsm8k")
needs_gsm8k = needs_shared("gsm8k")


def _write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records))
    return path


def _round_trip(module, source: Path, tmp_path: Path, **reader_options) -> None:
    first = list(module.read(source, **reader_options))
    out = tmp_path / "out.jsonl"
    assert module.write(out, first) == len(first)
    assert list(module.read(out, **reader_options)) == first
    assert not (tmp_path / "out.jsonl.partial").exists()


# ---------------------------------------------------------------- Math-Shepherd


def test_math_shepherd_golden_record_from_the_dataset_card_layout():
    # Built by hand following the peiyi9979/Math-Shepherd dataset card: question, one space, then
    # "Step k: ... ки" lines; "label" is the same text with each tag replaced by "+" / "-".
    record = {
        "input": "Buzz has 78 slices and shares them 5:8 with the waiter. How many does the waiter eat? "
        "Step 1: The total ratio is 5+8 = <<5+8=13>>13. ки\n"
        "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices. ки\n"
        "Step 3: The answer is: 6 ки",
        "label": "Buzz has 78 slices and shares them 5:8 with the waiter. How many does the waiter eat? "
        "Step 1: The total ratio is 5+8 = <<5+8=13>>13. +\n"
        "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices. -\n"
        "Step 3: The answer is: 6 -",
        "task": "GSM8K",
    }
    item = math_shepherd.parse_record(record, "card:1")
    assert item.problem.question == "Buzz has 78 slices and shares them 5:8 with the waiter. How many does the waiter eat?"
    assert item.problem.meta == {"task": "GSM8K"}
    assert item.solution.steps == [
        "Step 1: The total ratio is 5+8 = <<5+8=13>>13.",
        "Step 2: The waiter ate 13 x 8 / 13 = <<13*8/13=6>>6 slices.",
        "Step 3: The answer is: 6",
    ]
    assert item.labels.labels == [1.0, 0.0, 0.0]
    assert item.labels.first_error == 1
    assert item.labels.source == "mc"
    assert item.solution.answer == "6"
    assert item.solution.correct is False


def test_math_shepherd_writer_reproduces_the_card_layout_byte_for_byte(tmp_path):
    source = FIXTURES / "math_shepherd_sample.jsonl"
    out = tmp_path / "ms.jsonl"
    math_shepherd.write(out, math_shepherd.read(source))
    assert out.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


def test_math_shepherd_round_trip(tmp_path):
    _round_trip(math_shepherd, FIXTURES / "math_shepherd_sample.jsonl", tmp_path)


def test_math_shepherd_writer_adds_step_prefixes_and_thresholds_soft_labels(tmp_path):
    item = LabelledSolution(
        Problem("p", "What is 2+2?"),
        Solution("p", ["2+2 = 4.", "The answer is: 4"]),
        StepLabels([0.75, 0.25], first_error=1, source="mc"),
    )
    math_shepherd.write(tmp_path / "ms.jsonl", [item])
    row = json.loads((tmp_path / "ms.jsonl").read_text())
    assert row == {
        "input": "What is 2+2? Step 1: 2+2 = 4. ки\nStep 2: The answer is: 4 ки",
        "label": "What is 2+2? Step 1: 2+2 = 4. +\nStep 2: The answer is: 4 -",
    }


def test_math_shepherd_input_without_label_and_question_split_at_question_mark(tmp_path):
    path = _write_lines(tmp_path / "ms.jsonl", [{"input": "What is 1+1? 1+1 = 2. ки\nThe answer is: 2 ки"}])
    (item,) = math_shepherd.read(path)
    assert item.problem.question == "What is 1+1?"
    assert item.solution.steps == ["1+1 = 2.", "The answer is: 2"]
    assert item.labels is None and item.solution.correct is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"label": "x"}, "missing field 'input'"),
        ({"input": "What? Step 1: no tags"}, "has no step tag"),
        ({"input": "Q? Step 1: a ки\nStep 2: b ки", "label": "Q? Step 1: a +\nStep 2: b ?"}, r"expected '\+' or '-' for step 1"),
        ({"input": "Q? Step 1: a ки ки"}, "step 1 is empty"),
        ({"input": "no question mark and no marker ки"}, "cannot tell the question from step 1"),
        ({"input": "Q? Step 1: a ки trailing"}, "text after the last step tag"),
    ],
)
def test_math_shepherd_malformed_records_name_file_line_and_field(tmp_path, record, message):
    path = _write_lines(tmp_path / "bad.jsonl", [{"input": "Q? Step 1: ok ки", "label": "Q? Step 1: ok +"}, record])
    with pytest.raises(FormatError, match=message) as err:
        list(math_shepherd.read(path))
    assert f"{path}:2" in str(err.value)


# ---------------------------------------------------------------- TRL


def test_trl_reads_the_docs_example():
    first, second = trl.read(FIXTURES / "trl_sample.jsonl")
    assert first.problem.question == "Which number is larger, 9.8 or 9.11?"
    assert first.solution.steps[-1] == "Hence, 9.11 > 9.8."
    assert first.labels.labels == [1.0, 1.0, 0.0, 0.0]
    assert first.labels.first_error == 2
    assert second.labels.first_error == -1
    assert second.solution.answer == "12"
    assert first.problem.id == first.solution.problem_id and first.problem.id.startswith("trl-")


def test_trl_round_trip(tmp_path):
    _round_trip(trl, FIXTURES / "trl_sample.jsonl", tmp_path)


def test_trl_writer_thresholds_soft_labels_and_rejects_unlabelled(tmp_path):
    item = LabelledSolution(Problem("p", "Q"), Solution("p", ["a", "b", "c"]), StepLabels([0.5, 0.49, 1.0]))
    trl.write(tmp_path / "t.jsonl", [item], threshold=0.5)
    assert json.loads((tmp_path / "t.jsonl").read_text())["labels"] == [True, False, True]
    unlabelled = LabelledSolution(Problem("p2", "Q"), Solution("p2", ["a"]))
    with pytest.raises(FormatError, match=r"record 1 \(problem 'p2'\): has no step labels"):
        trl.write(tmp_path / "u.jsonl", [item, unlabelled])
    assert not (tmp_path / "u.jsonl").exists() and not (tmp_path / "u.jsonl.partial").exists()
    unknown = LabelledSolution(Problem("p3", "Q"), Solution("p3", ["a", "b"]), StepLabels([1.0, None]))
    with pytest.raises(FormatError, match="step 1 has an unknown label"):
        trl.write(tmp_path / "v.jsonl", [unknown])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"prompt": "Q", "completions": ["a"]}, "missing field 'labels'"),
        ({"prompt": "Q", "completions": "a", "labels": [True]}, "field 'completions' should be list"),
        ({"prompt": "Q", "completions": ["a", "b"], "labels": [True]}, "2 completions but 1 labels"),
        ({"prompt": "Q", "completions": ["a", " "], "labels": [True, True]}, r"'completions'\[1\] is empty"),
        ({"prompt": "Q", "completions": ["a"], "labels": [1]}, r"'labels'\[0\] should be true/false"),
        ({"prompt": "Q", "completions": [], "labels": []}, "field 'completions' is empty"),
        ("{not json", "invalid JSON"),
    ],
)
def test_trl_malformed_records(tmp_path, record, message):
    path = _write_lines(tmp_path / "bad.jsonl", [record])
    with pytest.raises(FormatError, match=message) as err:
        list(trl.read(path))
    assert f"{path}:1" in str(err.value)


# ---------------------------------------------------------------- PRM800K


def test_prm800k_follows_the_chosen_path_with_ratings_as_labels():
    found_error, phase1, give_up = prm800k.read(FIXTURES / "prm800k_sample.jsonl")  # bad_problem (no steps) skipped

    assert found_error.problem.question == "What is the greatest common factor of $12$ and $18$?"
    assert found_error.problem.answer == "6"
    assert found_error.solution.steps[-1].startswith("The divisors of $18$")  # the -1 step that ended labelling
    assert found_error.labels.labels == [1.0, 1.0, 0.0]  # rating 0 (neutral) counts as correct by default
    assert found_error.labels.first_error == 2
    assert found_error.labels.source == "human"
    assert found_error.solution.meta == {"finish_reason": "found_error"}
    assert found_error.solution.correct is None

    assert phase1.solution.steps == [
        "Subtract $7$ from both sides: $3x = 15$.",
        "Divide both sides by $3$: $x = 5$.",  # chosen_completion 1, not the -1 alternative
        "Check: $3 \\cdot 5 + 7 = 22$, as required.",  # the human completion
        "# Answer\n\n5",
    ]
    assert phase1.labels.labels == [1.0, 1.0, 1.0, 1.0]
    assert phase1.labels.first_error == -1
    assert phase1.solution.answer == "5" and phase1.solution.correct is True

    assert give_up.labels.labels == [1.0, None]  # unrated (flagged) step
    assert give_up.labels.first_error is None


def test_prm800k_neutral_option():
    found_error, _, _ = prm800k.read(FIXTURES / "prm800k_sample.jsonl", neutral=0.0)
    assert found_error.labels.labels == [0.0, 1.0, 0.0]
    assert found_error.labels.first_error == 2  # the error is the -1 rating, not the neutral step
    half, _, _ = prm800k.read(FIXTURES / "prm800k_sample.jsonl", neutral=None)
    assert half.labels.labels == [None, 1.0, 0.0]
    with pytest.raises(ValueError, match="neutral"):
        list(prm800k.read(FIXTURES / "prm800k_sample.jsonl", neutral=2.0))


def test_prm800k_round_trip(tmp_path):
    _round_trip(prm800k, FIXTURES / "prm800k_sample.jsonl", tmp_path)


def test_prm800k_writer_schema(tmp_path):
    item = LabelledSolution(Problem("p", "Q", answer="4"), Solution("p", ["a", "b"]), StepLabels([1.0, 0.2]))
    prm800k.write(tmp_path / "p.jsonl", [item])
    row = json.loads((tmp_path / "p.jsonl").read_text())
    assert row["question"] == {"problem": "Q", "ground_truth_answer": "4"}
    assert row["label"]["finish_reason"] == "found_error"
    assert [s["completions"][0]["rating"] for s in row["label"]["steps"]] == [1, -1]
    assert [s["chosen_completion"] for s in row["label"]["steps"]] == [0, 0]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"label": {"steps": []}}, "missing field 'question'"),
        ({"question": {"problem": "Q"}, "label": {}}, "missing field 'steps'"),
        (
            {"question": {"problem": "Q"}, "label": {"steps": [{"completions": [{"text": "a", "rating": 2}], "chosen_completion": 0}]}},
            "'rating' should be -1, 0, 1 or null, got 2",
        ),
        (
            {"question": {"problem": "Q"}, "label": {"steps": [{"completions": [{"text": "a", "rating": 1}], "chosen_completion": 3}]}},
            r"label.steps\[0\]: chosen_completion 3 is out of range",
        ),
        (
            {"question": {"problem": "Q"}, "label": {"steps": [{"completions": [{"rating": 1}], "chosen_completion": 0}]}},
            "missing field 'text'",
        ),
    ],
)
def test_prm800k_malformed_records(tmp_path, record, message):
    path = _write_lines(tmp_path / "bad.jsonl", [record])
    with pytest.raises(FormatError, match=message) as err:
        list(prm800k.read(path))
    assert f"{path}:1" in str(err.value)


# ---------------------------------------------------------------- GSM8K


def test_gsm8k_reference_steps_and_gold_answer():
    first = next(gsm8k.read(FIXTURES / "gsm8k_test_head5.jsonl", id_prefix="gsm8k-test"))
    assert first.problem.id == "gsm8k-test-0"
    assert first.problem.answer == "18"
    assert first.solution.steps == [
        "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
        "She makes 9 * 2 = $18 every day at the farmer\u2019s market.",
    ]
    assert first.solution.correct is True and first.labels is None
    noted = next(gsm8k.read(FIXTURES / "gsm8k_test_head5.jsonl", keep_calculator_notes=True))
    assert "<<16-3-4=9>>" in noted.solution.steps[0]
    assert noted.problem.id == "gsm8k-gsm8k_test_head5-0"  # default prefix from the file name


def test_gsm8k_round_trip(tmp_path):
    # ids come from the file name by default, so pin the prefix to compare across files
    _round_trip(gsm8k, FIXTURES / "gsm8k_test_head5.jsonl", tmp_path, id_prefix="gsm8k-test")


def test_gsm8k_model_solutions_one_record_per_model():
    items = list(gsm8k.read_model_solutions(FIXTURES / "gsm8k_model_solutions_head3.jsonl"))
    assert len(items) == 12
    first = items[0]
    assert first.problem.id == "gsm8k-test-0" and first.problem.answer == "18"
    assert first.solution.meta == {"model": "6b_finetuning"}
    assert first.solution.correct is False and first.solution.answer == "26"
    assert first.solution.steps[-1] == "A: 26"
    assert all("<<" not in step for item in items for step in item.solution.steps)
    raw = [json.loads(line) for line in (FIXTURES / "gsm8k_model_solutions_head3.jsonl").read_text().splitlines()]
    expected = [entry["is_correct"] for record in raw for entry in record.values() if isinstance(entry, dict)]
    assert [item.solution.correct for item in items] == expected


def test_gsm8k_writer_refuses_incorrect_model_solutions(tmp_path):
    items = gsm8k.read_model_solutions(FIXTURES / "gsm8k_model_solutions_head3.jsonl")
    with pytest.raises(FormatError, match="marked incorrect"):
        gsm8k.write(tmp_path / "g.jsonl", items)
    assert not (tmp_path / "g.jsonl").exists()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"question": "Q", "answer": "1+1=2"}, "no '#### N' final-answer line"),
        ({"question": "Q"}, "missing field 'answer'"),
        ({"question": "Q", "answer": "\n#### 2"}, "no steps before '####'"),
    ],
)
def test_gsm8k_malformed_records(tmp_path, record, message):
    path = _write_lines(tmp_path / "bad.jsonl", [{"question": "Q", "answer": "a\n#### 1"}, record])
    with pytest.raises(FormatError, match=message) as err:
        list(gsm8k.read(path))
    assert f"{path}:2" in str(err.value)


@needs_gsm8k
def test_gsm8k_real_files():
    test = list(gsm8k.read(GSM8K_DATA / "test.jsonl"))
    solutions = list(gsm8k.read_model_solutions(GSM8K_DATA / "example_model_solutions.jsonl"))
    assert len(test) == 1319 and len(solutions) == 4 * 1319
    by_id = {item.problem.id: item.problem for item in test}
    for item in solutions:  # same ids, questions and gold answers as test.jsonl
        assert by_id[item.problem.id].question == item.problem.question
        assert by_id[item.problem.id].answer == item.problem.answer
    assert all(item.solution.steps for item in test)
    assert {item.solution.meta["model"] for item in solutions} == {
        "6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"
    }
