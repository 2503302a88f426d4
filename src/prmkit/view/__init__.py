"""Self-contained HTML views of scored steps: ``prmkit view`` and the demo's ``report.html``.

A view lists solutions with every step coloured by each PRM's score, side by side, the predicted
first error (at a threshold) and the true one (from step labels) marked, with filters (wrong only,
PRMs disagree, false alarms, missed errors), sorting, search by id and a per-PRM summary. It is
one HTML file with its data, CSS and script inlined: it opens offline and draws one page of
solutions at a time, so 10,000 solutions open in about a second.

Modules: :mod:`prmkit.view._data` (joining solutions, scores and labels; the summary, with
:mod:`prmkit.metrics`), :mod:`prmkit.view._html` (the page), :mod:`prmkit.view.report` (the demo's
report with its plots inlined).

Example:
    >>> from prmkit.types import LabelledSolution, Problem, Solution
    >>> record = LabelledSolution(Problem("p", "1+1?"), Solution("p", ["1+1=2"]))
    >>> page = render_view([("p", record)], [PRMScores("a", {"p": [0.9]})])
    >>> page.startswith("<!DOCTYPE html>") and "http" not in page.split("<script", 1)[0]
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prmkit.types import LabelledSolution
from prmkit.view._data import PRMScores, ViewInputError, attach_labels, build_payload
from prmkit.view._html import render_page

__all__ = ["PRMScores", "ViewInputError", "attach_labels", "build_payload", "render_page", "render_view", "write_view"]


def render_view(solutions: Sequence[tuple[str, LabelledSolution]], prms: Sequence[PRMScores], title: str = "prmkit view",
                before: str = "") -> str:
    """The HTML page of ``solutions`` scored by ``prms`` (see :func:`prmkit.view._data.build_payload`)."""
    return render_page(build_payload(solutions, prms, title), before)


def write_view(path: str | os.PathLike[str], solutions: Sequence[tuple[str, LabelledSolution]], prms: Sequence[PRMScores],
               title: str = "prmkit view", before: str = "") -> str:
    """Write :func:`render_view`'s page to ``path`` atomically; return the path."""
    from prmkit.io._jsonl import atomic_writer

    page = render_view(solutions, prms, title, before)
    with atomic_writer(path) as handle:
        handle.write(page)
    return str(path)
