"""The view and the report in headless Chromium: the page runs without console errors, its filters,
search, sorting and pager change the visible rows exactly as the payload says, and a screenshot is
not blank. Needs Playwright and the system chromium (tests/_browser.py); CI must have both.
"""

import json

import pytest

from tests._browser import chromium, is_blank, needs_browser
from tests.test_view import invoke, make_files, payload_of

pytestmark = needs_browser()


@pytest.fixture(scope="module")
def open_page():
    """One headless Chromium for the module (starting it is most of a test's time)."""
    with chromium() as opener:
        yield opener


def visible_ids(page):
    return page.eval_on_selector_all("article.sol", "cards => cards.map(c => c.dataset.id)")


def test_view_filters_search_sort_and_pages_in_a_browser(tmp_path, open_page):
    solutions, labelled, a, b = make_files(tmp_path, count=60)
    out = tmp_path / "view.html"
    assert invoke("--input", solutions, "--scores", a, "--scores", f"judge={b}", "--labels", labelled, "--output", out).exit_code == 0
    rows = payload_of(out.read_text())["rows"]
    ids = [r["id"] for r in rows]
    page, errors = open_page(out)
    assert visible_ids(page) == ids[:25]  # one page drawn, not all 60
    assert page.inner_text("#count") == "60 of 60 solutions" and page.inner_text("#page") == "page 1 of 3"
    page.click("#next")
    assert visible_ids(page) == ids[25:50] and page.inner_text("#page") == "page 2 of 3"

    page.check("#f-wrong")
    wrong = [r["id"] for r in rows if r["gold"] >= 0 or r["correct"] is False]
    assert 0 < len(wrong) < len(rows)
    assert visible_ids(page) == wrong[:25] and page.inner_text("#count") == f"{len(wrong)} of 60 solutions"
    page.uncheck("#f-wrong")

    page.select_option("#focus", label="judge")  # judge flags step 1 of everything
    page.check("#f-alarm")
    alarms = [r["id"] for r in rows if r["gold"] == -1 or r["gold"] > 0]
    assert visible_ids(page) == alarms[:25] and page.inner_text("#count") == f"{len(alarms)} of 60 solutions"
    page.uncheck("#f-alarm")
    page.select_option("#focus", label="a")  # a is exact: it misses nothing
    page.check("#f-missed")
    assert visible_ids(page) == [] and "No solution matches" in page.inner_text("#list")
    page.uncheck("#f-missed")

    page.check("#f-disagree")
    disagree = [r["id"] for r in rows if len({p for p in r["pred"] if p is not None}) > 1]
    assert visible_ids(page) == disagree[:25]
    page.uncheck("#f-disagree")

    page.fill("#search", "p1/")
    assert visible_ids(page) == [i for i in ids if "p1/" in i]
    page.fill("#search", "")
    page.select_option("#sort", "steps")
    most = max(len(r["steps"]) for r in rows)
    assert visible_ids(page)[0] == next(r["id"] for r in rows if len(r["steps"]) == most)

    summary = page.inner_text("#summary")
    assert "judge" in summary and "100.0" in summary  # PRM a's F1
    shot = tmp_path / "view.png"
    page.screenshot(path=str(shot), full_page=False)
    assert not is_blank(shot)
    assert errors == []


def test_report_opens_with_its_plots_and_view(tmp_path, open_page):
    pytest.importorskip("matplotlib")
    from prmkit.evaluate.plots import plot_label_quality
    from prmkit.types import LabelledSolution, Problem, Solution, StepLabels
    from prmkit.view import PRMScores
    from prmkit.view.report import write_report

    plot_label_quality({"mc": {"rollouts_per_solution": 4.0, "first_error_accuracy": 70.0}}, tmp_path / "labels.png")
    records = [(f"p/{i}", LabelledSolution(Problem("p", "q"), Solution("p", ["a", "b"], correct=i == 0),
                                           StepLabels([1.0, 1.0] if i == 0 else [1.0, 0.0], first_error=-1 if i == 0 else 1)))
               for i in range(3)]
    prms = [PRMScores("prm", {f"p/{i}": [0.9, 0.2] for i in range(3)}, 0.5)]
    write_report(tmp_path / "report.html", "# Report\n\n![labels](labels.png)\n", tmp_path, records, prms)
    page, errors = open_page(tmp_path / "report.html")
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 100)")
    assert len(visible_ids(page)) == 3
    page.check("#f-alarm")
    assert visible_ids(page) == ["p/0"]
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert not is_blank(shot)
    assert errors == []


@pytest.mark.slow
def test_tiny_demo_report_html_opens_clean(tmp_path, open_page):
    pytest.importorskip("torch")
    from prmkit.demo import DemoConfig, replot, run_demo
    from tests.test_demo import TINY

    run_demo(DemoConfig(out=str(tmp_path), **TINY))
    for plot in ("verifiers.png", "bon.png", "labels.png"):
        (tmp_path / plot).unlink()
    assert [p.name for p in replot(tmp_path)] == ["verifiers.png", "bon.png", "labels.png"]  # from the run's files alone
    assert all(not is_blank(tmp_path / plot) for plot in ("verifiers.png", "bon.png", "labels.png"))
    page_file = tmp_path / "report.html"
    payload = payload_of(page_file.read_text())
    assert {p["name"] for p in payload["prms"]} >= {"prm", "oracle", "likelihood"}
    assert json.loads((tmp_path / "metrics.json").read_text())["labels.mc.first_error_accuracy_low"] is not None
    page, errors = open_page(page_file)
    assert page.evaluate("document.images.length") == 3
    assert len(visible_ids(page)) == min(25, len(payload["rows"]))
    assert errors == []
