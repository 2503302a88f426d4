import json

import pytest

from prmkit.io._jsonl import FormatError
from prmkit.io.prmbench import read_prmbench
from prmkit.io.processbench import read_processbench, subset_of
from tests._data import SHARED_DATA, needs_shared

DATA = SHARED_DATA
PROCESSBENCH = DATA / "processbench"
PRMBENCH = DATA / "prmbench"
needs_data = needs_shared("processbench")


@needs_data
@pytest.mark.parametrize("name,count", [("gsm8k", 400), ("math", 1000)])
def test_all_processbench_records_load_with_labels_matching_the_raw_label(name, count):
    path = PROCESSBENCH / f"{name}.json"
    raw = json.loads(path.read_text())
    records = read_processbench(path)
    assert len(records) == count == len(raw)
    for item, original in zip(records, raw):
        k = original["label"]
        assert item.problem.id == item.solution.problem_id == original["id"]
        assert item.solution.steps == original["steps"]
        assert item.labels.first_error == k
        assert item.labels.source == "human"
        assert item.solution.meta["subset"] == name
        n = len(original["steps"])
        if k == -1:
            assert item.labels.labels == [1.0] * n
        else:
            assert item.labels.labels == [1.0] * k + [0.0] + [None] * (n - k - 1)


def test_processbench_jsonl_and_bad_records(tmp_path):
    good = {"id": "arith-3", "problem": "1+1?", "steps": ["1+1=3", "so 3"], "label": 0, "final_answer_correct": False}
    path = tmp_path / "pb.jsonl"
    path.write_text(json.dumps(good) + "\n")
    (item,) = read_processbench(path)
    assert item.labels.labels == [0.0, None] and item.solution.correct is False
    bad = dict(good, id="arith-4", label=2)
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(FormatError, match=r"arith-4.*'label' = 2"):
        read_processbench(path)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([good, good]))
    with pytest.raises(FormatError, match="already used"):
        read_processbench(dup)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"id": "x-1", "problem": "q", "label": -1}]))
    with pytest.raises(FormatError, match="missing field 'steps'"):
        read_processbench(missing)


def test_subset_of():
    assert subset_of("gsm8k-17") == "gsm8k"
    assert subset_of("olympiadbench-0") == "olympiadbench"
    assert subset_of("arith") == "arith"


@needs_data
def test_all_prmbench_phase1_records_load_with_zero_based_error_indices():
    files = sorted(PRMBENCH.glob("*.jsonl"))
    assert len(files) == 8
    raw = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    records = read_prmbench(*files)
    assert len(records) == len(raw) == 718
    assert len({r.problem.id for r in records}) == len(records)
    out_of_range = empty = 0
    for item, original in zip(records, raw):
        steps = original["modified_process"]
        assert item.solution.steps == steps
        assert item.solution.meta["idx"] == original["idx"]
        assert item.solution.meta["classification"] == original["classification"]
        wrong = [i for i, label in enumerate(item.labels.labels) if label == 0.0]
        graded = {i for i, step in enumerate(steps) if step.strip()}
        assert wrong == sorted({e - 1 for e in original["error_steps"] if e <= len(steps)} & graded)
        assert all(label in (0.0, 1.0) for i, label in enumerate(item.labels.labels) if i in graded)
        assert all(item.labels.labels[i] is None for i in range(len(steps)) if i not in graded)
        empty += len(steps) - len(graded)
        if max(original["error_steps"]) > len(steps):
            out_of_range += 1
        if min(original["error_steps"]) <= len(steps):
            assert item.labels.first_error == min(original["error_steps"]) - 1
        else:
            assert item.labels.first_error is None
    assert out_of_range > 0  # the documented quirk really occurs in the data
    assert empty == 1  # deception prm_test_p1_87 step 16: not graded


def test_prmbench_hand_record_and_correct_samples(tmp_path):
    record = {
        "idx": "p1",
        "classification": "redundency",
        "modified_question": "q'",
        "modified_process": ["a", "b", "c", "d"],
        "error_steps": [2, 4, 9],
        "original_question": "q",
        "original_process": ["a", "c"],
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(dict(record, classification="circular")) + "\n")
    items = read_prmbench(path, include_correct=True)
    assert [i.problem.id for i in items] == ["correct_p1", "redundency_p1", "circular_p1"]
    correct, modified = items[0], items[1]
    assert modified.labels.labels == [1.0, 0.0, 1.0, 0.0] and modified.labels.first_error == 1
    assert modified.solution.meta["error_steps"] == [2, 4, 9]
    assert correct.solution.steps == ["a", "c"] and correct.labels.first_error == -1
    path.write_text(json.dumps(dict(record, error_steps=[0])) + "\n")
    with pytest.raises(FormatError, match=r"1-based"):
        read_prmbench(path)
