"""`prmkit view` without a browser: what the page embeds, the numbers it shows and the errors it gives.

The browser half (the page runs, filters change the rows, screenshots) is tests/test_view_browser.py.
"""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prmkit.cli import app
from prmkit.metrics import first_error_prediction, processbench_f1
from prmkit.types import LabelledSolution, Problem, Solution, StepLabels

PROCESSBENCH = Path(__file__).parent / "fixtures" / "eval" / "processbench_gsm8k.json"


def payload_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="prmkit-data">(.*?)</script>', page, re.S)
    assert found, "the page embeds no data block"
    return json.loads(found.group(1))


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def make_files(tmp_path, count=12):
    """Plain solutions (two per problem: ids p0/0, p0/1, ...), labels for them, and two PRMs' scores.

    PRM "a" flags the true first error exactly; PRM "b" flags step 0 of every solution.
    """
    solutions, labelled, a, b = [], [], [], []
    for i in range(count):
        n, problem = 2 + i % 3, f"p{i // 2}"
        gold = -1 if i % 3 == 0 else i % n
        steps = [f"step {k} of solution {i}" for k in range(n)]
        solutions.append({"id": problem, "question": f"question {i // 2}", "steps": steps})
        labels = [1.0 if gold == -1 or k < gold else 0.0 for k in range(n)]
        labelled.append(LabelledSolution(Problem(problem, f"question {i // 2}"), Solution(problem, steps, answer=str(i), correct=gold == -1),
                                         StepLabels(labels, first_error=gold)).to_dict())
        key = f"{problem}/{i % 2}"
        a.append({"id": key, "scores": [0.9 if gold == -1 or k < gold else 0.1 for k in range(n)]})
        b.append({"id": key, "scores": [0.2] + [0.8] * (n - 1)})
    return (_write(tmp_path / "solutions.jsonl", solutions), _write(tmp_path / "labelled.jsonl", labelled),
            _write(tmp_path / "a.jsonl", a), _write(tmp_path / "b.jsonl", b))


def invoke(*args):
    return CliRunner().invoke(app, ["view", *map(str, args)])


def test_view_joins_solutions_scores_and_labels_and_summarises_with_prmkit_metrics(tmp_path):
    solutions, labelled, a, b = make_files(tmp_path)
    out = tmp_path / "view.html"
    result = invoke("--input", solutions, "--scores", a, "--scores", f"judge={b}", "--labels", labelled, "--output", out)
    assert result.exit_code == 0, result.output
    payload = payload_of(out.read_text())
    assert [prm["name"] for prm in payload["prms"]] == ["a", "judge"]
    rows = payload["rows"]
    assert [r["id"] for r in rows[:3]] == ["p0/0", "p0/1", "p1/0"]  # the ids `prmkit score` writes
    assert len(payload["questions"]) == 6  # each question stored once
    golds = [json.loads(line)["labels"]["first_error"] for line in labelled.read_text().splitlines()]
    assert [r["gold"] for r in rows] == golds
    assert [r["pred"][0] for r in rows] == golds  # PRM a is exact
    assert {r["pred"][1] for r in rows} == {0}
    b_scores = [json.loads(line)["scores"] for line in b.read_text().splitlines()]
    expected = processbench_f1(golds, [first_error_prediction(row, 0.5) for row in b_scores])
    summary = payload["prms"][1]["summary"]
    assert summary["f1"] == pytest.approx(expected["f1"], abs=1e-3) and summary["error_acc"] == pytest.approx(expected["error_acc"], abs=1e-3)
    assert payload["prms"][0]["summary"]["f1"] == 100.0 and payload["prms"][0]["summary"]["auroc"] == 100.0
    assert summary["flagged"] == 100.0 and summary["labelled"] == len(rows)


def test_threshold_moves_the_predicted_first_error(tmp_path):
    solutions, _, _, b = make_files(tmp_path)
    out = tmp_path / "view.html"
    assert invoke("--input", solutions, "--scores", b, "--threshold", "0.1", "--output", out).exit_code == 0
    rows = payload_of(out.read_text())["rows"]
    assert {r["pred"][0] for r in rows} == {-1} and {r["gold"] for r in rows} == {None}  # no labels: unknown


def test_page_is_self_contained_and_text_cannot_break_out_of_the_data_block(tmp_path):
    from prmkit.view import PRMScores, render_view

    evil = "</script><script>alert(1)</script> & <b>bold</b>"
    record = LabelledSolution(Problem("p", evil), Solution("p", [evil, "ok"]))
    page = render_view([("p", record)], [PRMScores("a", {"p": [0.3, None]})])
    assert "<script>alert(1)" not in page
    assert payload_of(page)["rows"][0]["steps"][0] == evil  # the text survives the escaping
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing is fetched from the network
    assert page.count("<script") == 2  # the data block and the inline script, no external one


def test_any_format_prmkit_io_reads_works_as_input(tmp_path):
    from prmkit.io.processbench import read_processbench

    records = read_processbench(PROCESSBENCH)
    scores = _write(tmp_path / "s.jsonl", [{"id": r.problem.id, "scores": [0.7] * len(r.solution.steps)} for r in records])
    out = tmp_path / "view.html"
    result = invoke("--input", PROCESSBENCH, "--format", "processbench", "--scores", scores, "--output", out)
    assert result.exit_code == 0, result.output
    rows = payload_of(out.read_text())["rows"]
    assert [r["gold"] for r in rows] == [r.labels.first_error for r in records]  # labels come with the input


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop_line", "has no line for 1 of 12 solutions (first: 'p5/1')"),
        ("extra_score", "solution 'p0/0' has 2 steps but 3 scores"),
        ("same_name", "both named 'a'"),
        ("bad_threshold", "--threshold 1.5 is outside [0, 1]"),
        ("missing_scores", "no such file"),
        ("foreign_labels", "none of its 1 ids matches"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, change, message):
    solutions, labelled, a, b = make_files(tmp_path)
    args = ["--input", solutions, "--scores", a, "--output", tmp_path / "view.html"]
    lines = a.read_text().splitlines()
    if change == "drop_line":
        a.write_text("\n".join(lines[:-1]) + "\n")
    elif change == "extra_score":
        first = json.loads(lines[0])
        a.write_text("\n".join([json.dumps({**first, "scores": first["scores"] + [0.5]}), *lines[1:]]) + "\n")
    elif change == "same_name":
        (tmp_path / "x").mkdir()
        twin = tmp_path / "x" / "a.jsonl"
        twin.write_text(a.read_text())
        args += ["--scores", twin]
    elif change == "bad_threshold":
        args += ["--threshold", "1.5"]
    elif change == "missing_scores":
        args += ["--scores", tmp_path / "nope.jsonl"]
    elif change == "foreign_labels":
        record = LabelledSolution(Problem("zz", "q"), Solution("zz", ["a"]), StepLabels([1.0], first_error=-1))
        args += ["--labels", _write(tmp_path / "other.jsonl", [record.to_dict()])]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and message in " ".join(result.output.split())
    assert not (tmp_path / "view.html").exists()


def test_report_html_inlines_its_plots(tmp_path):
    from prmkit.view import PRMScores
    from prmkit.view.report import write_report

    pytest.importorskip("matplotlib")
    from prmkit.evaluate.plots import plot_label_quality

    plot_label_quality({"mc": {"rollouts_per_solution": 4.0, "first_error_accuracy": 70.0}}, tmp_path / "labels.png")
    markdown = "# Report\n\n| a | b |\n|---|---:|\n| x | 1.0 |\n\n![labels](labels.png)\n"
    record = LabelledSolution(Problem("p", "q"), Solution("p", ["s"]), StepLabels([0.0], first_error=0))
    write_report(tmp_path / "report.html", markdown, tmp_path, [("p", record)], [PRMScores("a", {"p": [0.2]})])
    page = (tmp_path / "report.html").read_text()
    assert '<img src="data:image/png;base64,' in page and "labels.png" not in page
    assert "<table>" in page and payload_of(page)["rows"][0]["pred"] == [0]
