"""Load time of a 10,000-solution ``prmkit view`` page in headless Chromium (target < 2 s).

What is timed, for 10,000 labelled solutions (3-7 steps each) scored by 3 PRMs:

1. **build**: ``prmkit view``'s work in Python (read the files, join, summarise, write the page);
2. **load**: in headless Chromium, from navigation start to the first page of solutions drawn
   (the page sets ``body[data-ready]`` after parsing its embedded data, computing its filters'
   inputs and drawing the first 25 cards): the page's own ``performance.now()`` at that moment,
   and the wall-clock of ``goto`` + waiting for it, both the median over ``--repeats`` fresh tabs;
3. **filter**: one filter click on all 10,000 rows (re-filter + re-draw), median wall-clock.

The system Chromium is driven by Playwright (``pip install playwright``; no ``playwright
install``); see tests/_browser.py. ``--screenshot`` also writes a screenshot of the page
(docs/view.png is made this way), ``--report`` times and screenshots another page (a demo's
``report.html``) the same way.

Usage:
    python benchmarks/view_load.py
    python benchmarks/view_load.py --solutions 10000 --screenshot docs/view.png \\
        --report prmkit-demo/report.html --report-screenshot docs/report.png
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load(open_page, path: Path, repeats: int) -> tuple[float, float, object]:
    """Median (page-reported ms to ready, wall-clock ms) over ``repeats`` fresh tabs; the last page."""
    inside, outside, page = [], [], None
    for _ in range(repeats):
        if page is not None:
            page.close()
        started = time.perf_counter()
        page, errors = open_page(path)
        outside.append(1000 * (time.perf_counter() - started))
        inside.append(page.evaluate("window.prmkitView.readyMs"))
        if errors:
            raise SystemExit(f"{path}: console errors: {errors}")
    return statistics.median(inside), statistics.median(outside), page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solutions", type=int, default=10_000)
    parser.add_argument("--prms", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, default=None, help="Write a screenshot of the view here.")
    parser.add_argument("--report", type=Path, default=None, help="Also time and screenshot this page (e.g. report.html).")
    parser.add_argument("--report-screenshot", type=Path, default=None)
    args = parser.parse_args()

    from tests._browser import browser_missing, chromium, is_blank, synthetic_view

    if (why := browser_missing()) is not None:
        raise SystemExit(f"cannot run: {why}")
    from prmkit.evaluate._scoring import read_scores
    from prmkit.io.solutions import read_solutions
    from prmkit.view import PRMScores, write_view

    with tempfile.TemporaryDirectory() as folder:
        files = synthetic_view(Path(folder), args.solutions, args.prms)
        started = time.perf_counter()
        columns = [PRMScores(p.stem, read_scores(p, ["id"]), 0.5, p.name) for p in files["scores"]]
        page_file = Path(folder) / "view.html"
        write_view(page_file, read_solutions(files["input"]), columns, f"prmkit view: {args.solutions:,} solutions")
        build = time.perf_counter() - started
        size = page_file.stat().st_size / 2**20
        print(f"build (Python: read, join, summarise, write): {build:.2f} s; page {size:.1f} MiB, "
              f"{args.solutions:,} solutions x {args.prms} PRMs")
        with chromium(width=1280, height=1000) as open_page:
            inside, outside, page = _load(open_page, page_file, args.repeats)
            clicks = []
            for _ in range(args.repeats):
                for state in (True, False):
                    started = time.perf_counter()
                    page.set_checked("#f-wrong", state)
                    page.wait_for_function("document.querySelector('#count').textContent.length > 0")
                    clicks.append(1000 * (time.perf_counter() - started))
            page.set_checked("#f-wrong", True)
            shown = page.inner_text("#count")
            print(f"load in headless Chromium (median of {args.repeats}): {inside / 1000:.2f} s to the first page drawn "
                  f"(page clock), {outside / 1000:.2f} s wall-clock incl. navigation; target < 2 s: "
                  f"{'met' if outside < 2000 else 'NOT met'}")
            print(f"filter 'wrong only' over all rows: median {statistics.median(clicks):.0f} ms per click (leaves {shown})")
            if args.screenshot:
                page.screenshot(path=str(args.screenshot))
                print(f"wrote {args.screenshot} (blank: {is_blank(args.screenshot)})")
            if args.report:
                inside, outside, report = _load(open_page, args.report, args.repeats)
                print(f"{args.report}: {inside / 1000:.2f} s to ready (page clock), {outside / 1000:.2f} s wall-clock")
                if args.report_screenshot:
                    height = min(3200, report.evaluate("document.documentElement.scrollHeight"))  # the report and a few cards
                    report.screenshot(path=str(args.report_screenshot), full_page=True,
                                      clip={"x": 0, "y": 0, "width": 1280, "height": height})
                    print(f"wrote {args.report_screenshot} (blank: {is_blank(args.report_screenshot)})")


if __name__ == "__main__":
    main()
