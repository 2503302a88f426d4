"""Headless Chromium for the view tests and benchmarks/view_load.py: Debian's system ``chromium``
driven by Playwright (``pip install playwright``; no ``playwright install``, no download).

Tests that need it skip with a reason on a machine without it, except under CI (``CI`` set), where
a missing browser must fail loudly (``.ci/run`` installs Debian's ``chromium`` when it is missing).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from prmkit.types import LabelledSolution, Problem, Solution, StepLabels


def find_chromium() -> str | None:
    """The system Chromium (``PRMKIT_CHROMIUM`` overrides), or None."""
    for candidate in (os.environ.get("PRMKIT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def browser_missing() -> str | None:
    """Why no browser test can run here (None when one can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if find_chromium() is None:
        return "no system chromium (apt-get install chromium)"
    return None


def needs_browser() -> pytest.MarkDecorator:
    """Skip without Playwright + Chromium, unless running under CI."""
    why = browser_missing()
    return pytest.mark.skipif(why is not None and not os.environ.get("CI"), reason=str(why))


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A new headless page factory: yields ``open_page(path) -> (page, errors)``; ``errors`` collects
    console errors and uncaught exceptions of the page as they happen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=find_chromium(), headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": width, "height": height})

        def open_page(path: str | os.PathLike[str]) -> tuple[Any, list[str]]:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            return page, errors

        try:
            yield open_page
        finally:
            browser.close()


def is_blank(png: str | os.PathLike[str]) -> bool:
    """Whether a screenshot is (nearly) one flat colour: grey-level standard deviation under 5."""
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        return ImageStat.Stat(image.convert("L")).stddev[0] < 5.0


def synthetic_view(folder: Path, count: int, prms: int = 2, seed: int = 0) -> dict[str, Any]:
    """``count`` labelled arithmetic-looking solutions (4 per problem) and ``prms`` noisy PRMs' scores
    that tend to drop at the true first error: the inputs of a realistic large view.

    Returns:
        ``{"input": labelled JSONL, "scores": [scores JSONL per PRM]}`` (files in ``folder``).
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records, rows = [], [[] for _ in range(prms)]
    for i in range(count):
        problem_id = f"arith-{i // 4:05d}"
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 9)
        n = rng.randint(3, 6)
        gold = -1 if rng.random() < 0.45 else rng.randrange(n)
        value, steps = a, []
        for k in range(n):
            right = value + b if k % 2 == 0 else value * c
            shown = right + rng.choice([-3, -1, 1, 2, 10]) if k == gold else right
            steps.append(f"Step {k + 1}: {value} {'+' if k % 2 == 0 else '*'} {b if k % 2 == 0 else c} = {shown}")
            value = shown
        steps.append(f"The answer is {value}.")
        gold_step = gold if gold >= 0 else -1
        labels = [1.0 if gold_step == -1 or k < gold_step else 0.0 for k in range(len(steps))]
        question = f"Start from {a}; alternately add {b} and multiply by {c}, {n} times. What is the result?"
        records.append(LabelledSolution(Problem(problem_id, question), Solution(problem_id, steps, answer=str(value),
                                                                               correct=gold_step == -1),
                                        StepLabels(labels, first_error=gold_step, source="exact")))
        key = f"{problem_id}/{i % 4}"
        for j in range(prms):
            noise = 0.15 + 0.1 * j
            row = [min(1.0, max(0.0, (0.85 if label else 0.25) + rng.gauss(0, noise))) for label in labels]
            rows[j].append({"id": key, "scores": [round(s, 3) for s in row]})
    from prmkit.io._jsonl import write_jsonl

    write_jsonl(folder / "solutions.jsonl", (r.to_dict() for r in records))
    scores = []
    for j, lines in enumerate(rows):
        path = folder / f"prm{j + 1}.jsonl"
        write_jsonl(path, lines)
        scores.append(path)
    return {"input": folder / "solutions.jsonl", "scores": scores}
